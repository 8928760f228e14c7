import { PutRecordsCommand, type KinesisClient, type PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { KINESIS_LIMITS } from './config';

export interface WriteRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export interface WriterOptions {
  readonly streamName: string;
  /** PutRecords attempts per call, the first one included. */
  readonly maxAttempts: number;
  /** Time that retries of one request may take in all. */
  readonly retryBudgetMs: number;
  /**
   * No call starts later than this after the write began, retry or not, so that the answer comes
   * before API Gateway's 29 s integration timeout even when Kinesis is slow.
   */
  readonly writeDeadlineMs?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface WriteReport {
  readonly written: number;
  readonly calls: number;
  /** Records sent again after a throttle or failure. */
  readonly retried: number;
}

/**
 * The stream did not take every record. `unwritten` lists, in request order, the records that
 * are not in the stream; every other record of the request is.
 */
export class StreamWriteFailure extends Error {
  constructor(
    readonly reason: 'throttled' | 'unavailable',
    readonly unwritten: readonly WriteRecord[],
    readonly report: WriteReport,
    options?: { cause?: unknown },
  ) {
    super(`PutRecords ${reason}: ${unwritten.length} record(s) not written`, options);
    this.name = 'StreamWriteFailure';
  }
}

function recordBytes(record: WriteRecord): number {
  return record.data.length + Buffer.byteLength(record.partitionKey, 'utf8');
}

/**
 * Splits records into PutRecords calls that are safe to send one after another:
 * - at most 500 records and 5 MiB (data plus partition keys) per call;
 * - at most one record per partition key per call. PutRecords does not promise to keep the order
 *   of records inside one call, and only failed records are retried, so two records with the same
 *   key never share a call: the n-th record of each key goes in the n-th "wave", and a wave is
 *   only sent once the one before it is fully written.
 *
 * With the default partition key (the event id) every key is unique and there is one wave.
 */
export function planCalls(records: readonly WriteRecord[]): WriteRecord[][] {
  const waves: WriteRecord[][] = [];
  const seen = new Map<string, number>();
  for (const record of records) {
    const wave = seen.get(record.partitionKey) ?? 0;
    seen.set(record.partitionKey, wave + 1);
    (waves[wave] ??= []).push(record);
  }
  const calls: WriteRecord[][] = [];
  for (const wave of waves) {
    let call: WriteRecord[] = [];
    let bytes = 0;
    for (const record of wave) {
      const size = recordBytes(record);
      if (call.length === KINESIS_LIMITS.maxRecordsPerCall || (call.length > 0 && bytes + size > KINESIS_LIMITS.maxBytesPerCall)) {
        calls.push(call);
        call = [];
        bytes = 0;
      }
      call.push(record);
      bytes += size;
    }
    if (call.length > 0) calls.push(call);
  }
  return calls;
}

const RETRIABLE_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'KMSThrottlingException',
  'InternalFailure',
  'InternalFailureException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/**
 * Throttles, server faults and network errors are worth retrying. Missing streams, denied
 * permissions and disabled keys are not: they need an operator.
 */
export function isRetriable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (RETRIABLE_ERRORS.has(error.name)) return true;
  const meta = (error as { $metadata?: { httpStatusCode?: number }; $fault?: string });
  if (meta.$fault === 'server') return true;
  const status = meta.$metadata?.httpStatusCode;
  // No HTTP status at all: the request never got an answer (reset, refused, timed out).
  return status === undefined || status >= 500;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Writes records with PutRecords, retrying only the records that failed, with exponential
 * backoff and full jitter, inside one time budget for the whole request.
 */
export class KinesisWriter {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly writeDeadlineMs: number;

  constructor(private readonly client: KinesisClient, private readonly options: WriterOptions) {
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.maxDelayMs = options.maxDelayMs ?? 1_000;
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.writeDeadlineMs = options.writeDeadlineMs ?? 20_000;
  }

  /**
   * Resolves when every record is in the stream; throws StreamWriteFailure otherwise.
   *
   * @param streamName the stream to write to, when not the writer's own
   */
  async write(records: readonly WriteRecord[], streamName = this.options.streamName): Promise<WriteReport> {
    const start = this.now();
    const retryDeadline = start + this.options.retryBudgetMs;
    const writeDeadline = start + this.writeDeadlineMs;
    const calls = planCalls(records);
    let written = 0;
    let callCount = 0;
    let retried = 0;
    const report = () => ({ written, calls: callCount, retried });

    for (let c = 0; c < calls.length; c++) {
      let pending = calls[c];
      const later = () => calls.slice(c + 1).flat();
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > 1) {
          const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 2)) * this.random();
          if (attempt > this.options.maxAttempts || this.now() + delay > retryDeadline) {
            throw new StreamWriteFailure('throttled', [...pending, ...later()], report());
          }
          retried += pending.length;
          await this.sleep(delay);
        }
        if (this.now() > writeDeadline) {
          throw new StreamWriteFailure('throttled', [...pending, ...later()], report());
        }
        callCount += 1;
        let results: PutRecordsResultEntry[];
        try {
          const response = await this.client.send(new PutRecordsCommand({
            StreamName: streamName,
            Records: pending.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })),
          }));
          results = response.Records ?? [];
        } catch (error) {
          if (!isRetriable(error)) {
            throw new StreamWriteFailure('unavailable', [...pending, ...later()], report(), { cause: error });
          }
          continue;
        }
        if (results.length !== pending.length) {
          // Never assume which records landed when the answer does not line up with the request.
          throw new StreamWriteFailure('unavailable', [...pending, ...later()], report());
        }
        const failed = pending.filter((_, i) => results[i].ErrorCode !== undefined || results[i].SequenceNumber === undefined);
        written += pending.length - failed.length;
        pending = failed;
      }
    }
    return report();
  }
}
