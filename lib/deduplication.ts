import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';

/** Options for {@link Deduplication.byEventId}. */
export interface DeduplicationOptions {
  /**
   * How long a delivered event id is remembered. Make it longer than the sender's retry horizon
   * (Stripe retries for up to 3 days, Standard Webhooks senders for about 28 hours). Between
   * 1 hour and 35 days.
   *
   * @default Duration.days(7)
   */
  readonly retention?: Duration;

  /**
   * How long a delivery holds an id while it writes it. Another delivery of the same id inside
   * that time is answered 429 with this as `Retry-After`; after it, a delivery that died midway no
   * longer blocks the retry. Between 10 seconds and 15 minutes.
   *
   * @default Duration.minutes(1)
   */
  readonly lease?: Duration;

  /**
   * The table to keep ids in. Its partition key must be a string named `pk`, and its TTL attribute
   * `expiresAt`. Sources may share a table: keys are prefixed with the source name.
   *
   * @default - a new on-demand table with TTL on `expiresAt`
   */
  readonly table?: dynamodb.ITable;
}

/** @internal */
export interface DeduplicationBinding {
  readonly table: dynamodb.ITable;
  readonly ttlSeconds: number;
  readonly leaseSeconds: number;
}

/**
 * Whether a stream source drops repeated deliveries of one event.
 *
 * Senders retry on timeouts and errors, and some deliver twice anyway. With deduplication the
 * source remembers each event id it wrote in DynamoDB, answers a repeat 202 without writing it
 * again, and never drops a retry of a delivery that failed midway.
 */
export class Deduplication {
  /** Deduplicate on each event's id (the preset's delivery id, or `eventId`). */
  public static byEventId(options: DeduplicationOptions = {}): Deduplication {
    return new Deduplication(options);
  }

  private constructor(private readonly options: DeduplicationOptions) {}

  /**
   * Validates the options and creates the table when none is given.
   *
   * @internal
   */
  public _bind(scope: Construct, owner: string): DeduplicationBinding {
    const retention = this.options.retention ?? Duration.days(7);
    const ttlSeconds = retention.toSeconds({ integral: false });
    if (ttlSeconds < 3600 || ttlSeconds > 35 * 86_400 || !Number.isInteger(ttlSeconds)) {
      throw new Error(`${owner}: deduplication retention must be whole seconds between 1 hour and 35 days, got ${retention.toHumanString()}`);
    }
    const lease = this.options.lease ?? Duration.minutes(1);
    const leaseSeconds = lease.toSeconds({ integral: false });
    if (leaseSeconds < 10 || leaseSeconds > 900 || !Number.isInteger(leaseSeconds)) {
      throw new Error(`${owner}: deduplication lease must be whole seconds between 10 seconds and 15 minutes, got ${lease.toHumanString()}`);
    }
    let table = this.options.table;
    if (table === undefined) {
      const created = new dynamodb.Table(scope, 'DedupTable', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: 'expiresAt',
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        // Ids only matter for the retention window; losing them costs a possible duplicate, not data.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(created).acknowledge({
        id: 'AwsSolutions-DDB3',
        reason: 'The table holds only delivered event ids, each for its retention window; restoring it would bring back nothing a consumer needs, as losing it costs at most a repeated record, which consumers dedup on the envelope id.',
      });
      table = created;
    }
    return { table, ttlSeconds, leaseSeconds };
  }
}
