import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { handlerDir, newHandlerFunction } from './handler-function';
import { DRAIN_CONFIG_VERSION, type DrainConfig } from '../../lambda/drain/config';

/** SQS's largest message (1 MiB), which the spill needs for a record of up to about 768 KiB. */
const MAX_MESSAGE_BYTES = 1_048_576;

/** Properties of a {@link SpillQueue}. */
export interface SpillQueueProps {
  /** The streams that spilled records go to. The drain may write to these and no other. */
  readonly streams: kinesis.IStream[];

  /** The `service` of the drain's log lines (Powertools), such as the source's name. */
  readonly serviceName: string;

  /**
   * How long the drain function's logs are kept.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A customer-managed key for both queues.
   *
   * @default - SQS-managed server-side encryption (SSE-SQS)
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Receives of one message before SQS moves it to the dead-letter queue. Between 1 and 1000.
   *
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /**
   * How long spilled records are kept, in the queue and in the dead-letter queue. Between 1 minute
   * and 14 days.
   *
   * @default Duration.days(14)
   */
  readonly retentionPeriod?: Duration;

  /**
   * The drain function's timeout. Between 30 seconds and 15 minutes. The queue's visibility
   * timeout is six times this, as AWS advises for SQS event sources.
   *
   * @default Duration.minutes(1)
   */
  readonly drainTimeout?: Duration;

  /**
   * Messages waiting in the queue, for 5 minutes in a row, that raise the depth alarm.
   *
   * @default 1000
   */
  readonly depthAlarmThreshold?: number;

  /**
   * The age of the oldest waiting message that raises the age alarm.
   *
   * @default Duration.minutes(15)
   */
  readonly ageAlarmThreshold?: Duration;
}


/**
 * The "queue and slow accept" backpressure parts of a stream source: a FIFO queue that holds the
 * records the stream did not take (one message group per partition key), a function that drains
 * it into the streams in order, a FIFO dead-letter queue for poison messages (which the drain
 * sends there with their reason) and for messages that keep failing, and alarms on the queue's
 * depth and age and on any dead letter.
 */
export class SpillQueue extends Construct {
  /** The FIFO queue the ingest function spills to. */
  public readonly queue: sqs.Queue;

  /**
   * Where the drain sends a message that can never be written, with its reason in the message
   * attributes, and where SQS moves a message after maxReceiveCount failed receives.
   */
  public readonly deadLetterQueue: sqs.Queue;

  /** The function that moves queued records into their streams. */
  public readonly drainFunction: lambda.Function;

  /** Too many records wait in the queue. */
  public readonly depthAlarm: cloudwatch.Alarm;

  /** A record has waited in the queue too long. */
  public readonly ageAlarm: cloudwatch.Alarm;

  /** A record is in the dead-letter queue. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  private readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: SpillQueueProps) {
    super(scope, id);
    const owner = `SpillQueue '${this.node.path}'`;

    // Validate everything before building anything.
    if (props.streams.length === 0) {
      throw new Error(`${owner}: streams is empty, so spilled records could go nowhere; pass the source's streams`);
    }
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    if (!Token.isUnresolved(maxReceiveCount) && (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000)) {
      throw new Error(`${owner}: maxReceiveCount must be a whole number between 1 and 1000, got ${maxReceiveCount}`);
    }
    const retentionPeriod = props.retentionPeriod ?? Duration.days(14);
    const retentionSeconds = retentionPeriod.toSeconds({ integral: false });
    if (!Token.isUnresolved(retentionSeconds) && (retentionSeconds < 60 || retentionSeconds > 14 * 24 * 3600 || !Number.isInteger(retentionSeconds))) {
      throw new Error(`${owner}: retentionPeriod must be a whole number of seconds between 1 minute and 14 days, got ${retentionPeriod.toHumanString()}`);
    }
    const drainTimeout = props.drainTimeout ?? Duration.minutes(1);
    const timeoutSeconds = drainTimeout.toSeconds({ integral: false });
    if (!Token.isUnresolved(timeoutSeconds) && (timeoutSeconds < 30 || timeoutSeconds > 900 || !Number.isInteger(timeoutSeconds))) {
      throw new Error(`${owner}: drainTimeout must be a whole number of seconds between 30 seconds and 15 minutes, got ${drainTimeout.toHumanString()}`);
    }
    const depthAlarmThreshold = props.depthAlarmThreshold ?? 1000;
    if (!Token.isUnresolved(depthAlarmThreshold) && (!Number.isInteger(depthAlarmThreshold) || depthAlarmThreshold < 1)) {
      throw new Error(`${owner}: depthAlarmThreshold must be a whole number of at least 1, got ${depthAlarmThreshold}`);
    }
    const ageAlarmThreshold = props.ageAlarmThreshold ?? Duration.minutes(15);
    const ageSeconds = ageAlarmThreshold.toSeconds({ integral: false });
    if (!Token.isUnresolved(ageSeconds) && (ageSeconds < 60 || ageSeconds > retentionSeconds)) {
      throw new Error(`${owner}: ageAlarmThreshold must be between 1 minute and the retention period (${retentionPeriod.toHumanString()}), got ${ageAlarmThreshold.toHumanString()}`);
    }
    this.encryptionKey = props.encryptionKey;
    const encryption = props.encryptionKey === undefined
      ? { encryption: sqs.QueueEncryption.SQS_MANAGED }
      : { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: props.encryptionKey };

    // A FIFO dead-letter queue keeps a message's first enqueue time, so it keeps messages as long
    // as the queue does: the longest SQS allows. Both queues hold records that are in no stream
    // yet, so they outlive the stack, like the stream.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      fifo: true,
      removalPolicy: RemovalPolicy.RETAIN,
      ...encryption,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // High-throughput FIFO: order and deduplication per message group (one per partition key).
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      ...encryption,
      enforceSSL: true,
      retentionPeriod,
      maxMessageSizeBytes: MAX_MESSAGE_BYTES,
      visibilityTimeout: Duration.seconds(timeoutSeconds * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    const config: DrainConfig = {
      version: DRAIN_CONFIG_VERSION,
      streamNames: props.streams.map((s) => s.streamName),
      deadLetterQueueUrl: this.deadLetterQueue.queueUrl,
      maxAttempts: 8,
      retryBudgetMs: Math.min(20_000, (timeoutSeconds - 15) * 1000),
      // Leaves time for poison messages sent to the dead-letter queue before the write (at most
      // about 9 s), the last call (5 s request timeout) and the answer.
      writeDeadlineMs: (timeoutSeconds - 20) * 1000,
    };
    // The drain: its own role and log group, so it holds exactly the permissions below.
    this.drainFunction = newHandlerFunction(this, {
      name: 'Drain',
      description: `Drains spilled webhook records into Kinesis in order (${this.node.path})`,
      code: lambda.Code.fromAsset(handlerDir('drain')),
      config,
      serviceName: props.serviceName,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      timeout: drainTimeout,
    });
    // Receive, delete and change visibility on this queue (and decrypt with its key, if any).
    this.drainFunction.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }));
    // Send a poison message to the dead-letter queue with its reason, so its group goes on.
    this.deadLetterQueue.grant(this.drainFunction, 'sqs:SendMessage');
    props.encryptionKey?.grant(this.drainFunction, 'kms:GenerateDataKey', 'kms:Decrypt');
    for (const stream of props.streams) {
      stream.grant(this.drainFunction, 'kinesis:PutRecords');
      stream.encryptionKey?.grant(this.drainFunction, 'kms:GenerateDataKey');
    }

    const describe = (what: string) => `${what} (${this.node.path}): the stream throttled and the drain has not caught up`;
    this.depthAlarm = this.queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) })
      .createAlarm(this, 'DepthAlarm', {
        alarmDescription: describe(`At least ${depthAlarmThreshold} spilled records wait in the queue for 5 minutes`),
        threshold: depthAlarmThreshold,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.ageAlarm = this.queue.metricApproximateAgeOfOldestMessage({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) })
      .createAlarm(this, 'AgeAlarm', {
        alarmDescription: describe(`A spilled record has waited in the queue for ${ageAlarmThreshold.toHumanString()}`),
        threshold: ageSeconds,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.deadLetterAlarm = this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) })
      .createAlarm(this, 'DeadLetterAlarm', {
        alarmDescription: `A spilled record is in the dead-letter queue (${this.node.path}): it can never be written (its message attribute 'reason' says why) or it failed ${maxReceiveCount} times; it is not in the stream. Inspect it, then redrive it.`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
  }

  /**
   * Lets the grantee spill records: `sqs:SendMessage` on the queue (which also covers
   * SendMessageBatch), and with a customer-managed key `kms:GenerateDataKey` and `kms:Decrypt` on it.
   */
  public grantSpill(grantee: iam.IGrantable): iam.Grant {
    // GetQueueAttributes: the ingest keeps spilling while the queue holds a backlog.
    const grant = this.queue.grant(grantee, 'sqs:SendMessage', 'sqs:GetQueueAttributes');
    this.encryptionKey?.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
    return grant;
  }
}
