/**
 * `tail`: prints the records arriving on a Kinesis stream, the local runner's or any endpoint's.
 */
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

/** A record as `tail` prints it: one JSON line each. */
export interface TailedRecord {
  readonly stream: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly arrivedAt?: string;
  /** The record's data: parsed when it is JSON (an envelope), else base64. */
  readonly data: unknown;
}

export interface TailOptions {
  readonly stream: string;
  /** Start with the oldest record kept, rather than with the records that arrive from now on. */
  readonly fromStart?: boolean;
  /** Stop after this many records. @default no limit */
  readonly limit?: number;
  /** Wait between empty reads. Kinesis allows 5 reads a second per shard. @default 1000 */
  readonly pollMs?: number;
  /** Stops the tail. */
  readonly signal?: AbortSignal;
  readonly onRecord: (record: TailedRecord) => void;
}

function decodeData(data: Uint8Array | undefined): unknown {
  const bytes = Buffer.from(data ?? new Uint8Array());
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes.toString('base64');
  }
}

/** Waits, or less if the signal aborts; leaves no listener behind on the signal (a tail polls for hours). */
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const done = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', done);
    resolve();
  };
  const timer = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

/**
 * Reads every shard of the stream, in sequence order within each shard, until the limit is
 * reached or the signal aborts.
 *
 * @returns how many records were passed to `onRecord`
 */
export async function tailStream(client: KinesisClient, options: TailOptions): Promise<number> {
  const { StreamDescription } = await client.send(new DescribeStreamCommand({ StreamName: options.stream }));
  const iterators = new Map<string, string | undefined>();
  for (const shard of StreamDescription?.Shards ?? []) {
    const { ShardIterator } = await client.send(new GetShardIteratorCommand({
      StreamName: options.stream,
      ShardId: shard.ShardId,
      ShardIteratorType: options.fromStart ? 'TRIM_HORIZON' : 'LATEST',
    }));
    iterators.set(shard.ShardId as string, ShardIterator);
  }
  let count = 0;
  const limit = options.limit ?? Infinity;
  while (!options.signal?.aborted && count < limit) {
    let read = 0;
    for (const [shardId, iterator] of iterators) {
      if (iterator === undefined || count >= limit) continue;
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      iterators.set(shardId, page.NextShardIterator);
      for (const record of page.Records ?? []) {
        if (count >= limit) break;
        read++;
        count++;
        options.onRecord({
          stream: options.stream,
          shardId,
          sequenceNumber: record.SequenceNumber as string,
          partitionKey: record.PartitionKey as string,
          arrivedAt: record.ApproximateArrivalTimestamp?.toISOString(),
          data: decodeData(record.Data),
        });
      }
    }
    if ([...iterators.values()].every((i) => i === undefined)) break; // every shard closed
    if (read === 0) await sleep(options.pollMs ?? 1000, options.signal);
  }
  return count;
}
