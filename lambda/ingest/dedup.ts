import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DependencyUnavailableError } from '../common/errors';

export interface DedupOptions {
  readonly tableName: string;
  /** How long a delivered id is remembered: longer than the sender's retry horizon. */
  readonly ttlSeconds: number;
  /** How long a claim holds before another delivery of the same id may take it over. */
  readonly leaseSeconds: number;
  readonly now?: () => number;
  /** DynamoDB calls in flight at once. */
  readonly concurrency?: number;
}

/** The ids of one request, sorted by what the store knows of them. */
export interface Claim {
  /** Ids this request now holds a lease on: write them, then call `complete`. */
  readonly claimed: readonly string[];
  /** Ids already delivered: answer 202 without writing them again. */
  readonly duplicates: readonly string[];
  /** Ids another request holds a live lease on: nothing is claimed, retry later. */
  readonly busy: readonly string[];
  /** Identifies this request's leases. */
  readonly token: string;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  }));
  return results;
}

/**
 * Remembers delivered event ids in DynamoDB, so a sender's retry is acknowledged and not written
 * twice. An id is claimed with a lease before its record is written and marked delivered after;
 * if the write fails, the claim is released (or its lease runs out), so a retry is never dropped.
 *
 * Items: `pk` (the id), `status` (`inflight` or `done`), `token`, `leaseUntil` and `expiresAt`
 * (the table's TTL attribute), all in Unix seconds.
 */
export class DedupStore {
  private readonly now: () => number;
  private readonly concurrency: number;

  constructor(private readonly client: DynamoDBClient, private readonly options: DedupOptions) {
    this.now = options.now ?? Date.now;
    this.concurrency = options.concurrency ?? 16;
  }

  /** Claims every id it can. When any id is busy, releases what it claimed: the request is retried whole. */
  async claim(ids: readonly string[]): Promise<Claim> {
    const token = randomUUID();
    const nowS = Math.floor(this.now() / 1000);
    const outcomes = await this.call(() => mapLimited(ids, this.concurrency, (id) => this.claimOne(id, token, nowS)));
    const claimed = ids.filter((_, i) => outcomes[i] === 'claimed');
    const busy = ids.filter((_, i) => outcomes[i] === 'busy');
    if (busy.length > 0) {
      await this.release(claimed, token);
      return { claimed: [], duplicates: ids.filter((_, i) => outcomes[i] === 'duplicate'), busy, token };
    }
    return { claimed, duplicates: ids.filter((_, i) => outcomes[i] === 'duplicate'), busy, token };
  }

  /** Marks claimed ids delivered. */
  async complete(ids: readonly string[], token: string): Promise<void> {
    const expiresAt = Math.floor(this.now() / 1000) + this.options.ttlSeconds;
    await this.call(() => mapLimited(ids, this.concurrency, (id) => this.client.send(new UpdateItemCommand({
      TableName: this.options.tableName,
      Key: { pk: { S: id } },
      UpdateExpression: 'SET #status = :done, expiresAt = :expiresAt REMOVE leaseUntil',
      ConditionExpression: '#token = :token',
      ExpressionAttributeNames: { '#status': 'status', '#token': 'token' },
      ExpressionAttributeValues: { ':done': { S: 'done' }, ':token': { S: token }, ':expiresAt': { N: String(expiresAt) } },
    })).catch((error: unknown) => {
      // Another request took the lease over after ours ran out; it will mark the id itself.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    })));
  }

  /** Gives claimed ids back, so a retry of the request may write them. Best effort: leases expire anyway. */
  async release(ids: readonly string[], token: string): Promise<void> {
    await mapLimited(ids, this.concurrency, (id) => this.client.send(new DeleteItemCommand({
      TableName: this.options.tableName,
      Key: { pk: { S: id } },
      ConditionExpression: '#token = :token AND #status = :inflight',
      ExpressionAttributeNames: { '#token': 'token', '#status': 'status' },
      ExpressionAttributeValues: { ':token': { S: token }, ':inflight': { S: 'inflight' } },
    })).then(() => undefined, () => undefined));
  }

  private async claimOne(id: string, token: string, nowS: number): Promise<'claimed' | 'duplicate' | 'busy'> {
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.options.tableName,
        Item: {
          pk: { S: id },
          status: { S: 'inflight' },
          token: { S: token },
          leaseUntil: { N: String(nowS + this.options.leaseSeconds) },
          expiresAt: { N: String(nowS + this.options.ttlSeconds) },
        },
        // New, or a claim whose lease ran out (its request died before writing or releasing).
        ConditionExpression: 'attribute_not_exists(pk) OR (#status = :inflight AND leaseUntil < :now)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':inflight': { S: 'inflight' }, ':now': { N: String(nowS) } },
      }));
      return 'claimed';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const { Item } = await this.client.send(new GetItemCommand({
      TableName: this.options.tableName,
      Key: { pk: { S: id } },
      ConsistentRead: true,
    }));
    // Gone between the two calls (released): another claim attempt is the caller's retry.
    return Item?.status?.S === 'done' ? 'duplicate' : 'busy';
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new DependencyUnavailableError('the dedup table', { cause: error, retryAfterSeconds: 5 });
    }
  }
}
