import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { sdkTransport } from '../../lambda/common/sdk-transport';

// kinesalite has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kinesalite = require('kinesalite') as (options: { createStreamMs: number; deleteStreamMs?: number; shardLimit?: number }) => Server;

/** The region and the (fake) credentials every local peer is called with. */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret-key' };
export { LOCAL_REGION as TEST_REGION, LOCAL_CREDENTIALS as TEST_CREDENTIALS };

/**
 * A real Kinesis wire API (kinesalite), in memory, on 127.0.0.1: the local runner's embedded
 * stream, and the tests' real peer.
 */
export class LocalKinesis {
  /** @param port 0 (the default) picks a free port */
  static async start(port = 0): Promise<LocalKinesis> {
    const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, shardLimit: 1000 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return new LocalKinesis(server);
  }

  readonly endpoint: string;
  readonly client: KinesisClient;

  private constructor(private readonly server: Server) {
    const { port } = server.address() as AddressInfo;
    this.endpoint = `http://127.0.0.1:${port}`;
    this.client = clientFor(this.endpoint);
  }

  async createStream(name: string, shardCount = 4): Promise<void> {
    await this.client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
    for (;;) {
      const { StreamDescription } = await this.client.send(new DescribeStreamCommand({ StreamName: name }));
      if (StreamDescription?.StreamStatus === 'ACTIVE') return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Every record in the stream, shard by shard, each shard in sequence order. */
  async readAll(name: string): Promise<_Record[]> {
    const { StreamDescription } = await this.client.send(new DescribeStreamCommand({ StreamName: name }));
    const records: _Record[] = [];
    for (const shard of StreamDescription?.Shards ?? []) {
      let { ShardIterator: iterator } = await this.client.send(new GetShardIteratorCommand({
        StreamName: name,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }));
      while (iterator) {
        const page = await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        records.push(...(page.Records ?? []));
        if ((page.Records ?? []).length === 0) break;
        iterator = page.NextShardIterator;
      }
    }
    return records;
  }

  /** Stops listening, and closes open connections (a `tail` polling it would otherwise keep it open). */
  async stop(): Promise<void> {
    this.client.destroy();
    const closed = new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
    (this.server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    await closed;
  }
}

/** A Kinesis client for a local endpoint; HTTP/1.1, as kinesalite speaks no HTTP/2. */
export function clientFor(endpoint: string, options: { maxAttempts?: number; requestTimeoutMs?: number } = {}): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: options.maxAttempts ?? 1,
    requestHandler: sdkTransport(options.requestTimeoutMs ?? 10_000, 2_000),
  });
}

/** Decodes a record's data as UTF-8 JSON. */
export function decode<T = unknown>(record: _Record): T {
  return JSON.parse(Buffer.from(record.Data as Uint8Array).toString('utf8')) as T;
}
