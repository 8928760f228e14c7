import { Duration } from 'aws-cdk-lib';
import { keepFractionProblem, type BackpressureConfig } from '../lambda/ingest/config';

/** @internal */
export interface BackpressureBinding {
  /** The handler's policy; a queue policy's `queueUrl` is filled in by the source. */
  readonly config: BackpressureConfig;
  /** The sample-or-shed policy's declared loss budget. */
  readonly lossBudget?: number;
  /** The queue-and-slow-accept policy needs a spill queue and its drain. */
  readonly spill?: { readonly depthAlarmThreshold: number; readonly ageAlarmThreshold: Duration };
}

/** Options for {@link BackpressurePolicy.queueAndSlowAccept}. */
export interface QueueAndSlowAcceptOptions {
  /**
   * How long the handler retries throttled records before it spills what is left to the queue.
   * Between 100 milliseconds and 8 seconds, so that writing and spilling fit in API Gateway's
   * 29 seconds.
   *
   * @default Duration.seconds(3)
   */
  readonly retryBudget?: Duration;

  /**
   * PutRecords attempts per call before spilling, the first one included. Between 1 and 20.
   *
   * @default 4
   */
  readonly maxAttempts?: number;

  /**
   * For how long after a spill every record of the source goes to the queue, so that no event
   * overtakes a queued one with the same partition key.
   *
   * @default Duration.minutes(1)
   */
  readonly queueWindow?: Duration;

  /**
   * What `Retry-After` tells the sender in the rare case that not even the queue took the request.
   *
   * @default Duration.seconds(30)
   */
  readonly retryAfter?: Duration;

  /**
   * The queue depth (messages visible) that raises the depth alarm.
   *
   * @default 1000
   */
  readonly depthAlarmThreshold?: number;

  /**
   * The age of the oldest queued message that raises the age alarm.
   *
   * @default Duration.minutes(15)
   */
  readonly ageAlarmThreshold?: Duration;
}

function checkRetries(owner: string, retryBudget: Duration, maxAttempts: number): { retryBudgetMs: number; maxAttempts: number } {
  const retryBudgetMs = retryBudget.toMilliseconds({ integral: false });
  if (retryBudgetMs < 100 || retryBudgetMs > 20_000 || !Number.isInteger(retryBudgetMs)) {
    throw new Error(`${owner}: retryBudget must be between 100 milliseconds and 20 seconds, got ${retryBudget.toHumanString()}`);
  }
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) {
    throw new Error(`${owner}: maxAttempts must be a whole number between 1 and 20, got ${maxAttempts}`);
  }
  return { retryBudgetMs, maxAttempts };
}

/** Options for {@link BackpressurePolicy.rejectWith429}. */
export interface RejectWith429Options {
  /**
   * What the `Retry-After` header tells the sender when the stream did not take the request.
   * Between 1 second and 1 hour.
   *
   * @default - six times the retry budget, rounded up to whole seconds: 30 seconds for the
   * default budget. A throttle that outlasted the budget is unlikely to clear much sooner.
   */
  readonly retryAfter?: Duration;

  /**
   * How long the handler may keep retrying throttled records before it gives up and answers 429.
   * Between 100 milliseconds and 20 seconds, so that the answer comes well within API Gateway's
   * 29-second integration timeout.
   *
   * @default Duration.seconds(5)
   */
  readonly retryBudget?: Duration;

  /**
   * PutRecords attempts per call, the first one included. Between 1 and 20.
   *
   * @default 6
   */
  readonly maxAttempts?: number;
}

/** Options for {@link BackpressurePolicy.sampleOrShed}. */
export interface SampleOrShedOptions {
  /**
   * The share of events kept while the stream is under pressure, from 0 (shed whole requests) to
   * less than 1. Which events are kept is decided by a hash of their id, so a redelivered event
   * gets the same answer.
   */
  readonly keepFraction: number;

  /**
   * The share of events you accept to lose, over any 5-minute period: shed / (written + shed).
   * An alarm (`lossBudgetAlarm`) fires when the loss goes over it. Between 0 and 1.
   */
  readonly lossBudget: number;

  /**
   * How long after a write that Kinesis throttled past the retry budget the source keeps sampling.
   *
   * @default Duration.seconds(30)
   */
  readonly pressureWindow?: Duration;

  /**
   * How long the handler may keep retrying throttled records before it sheds what is left.
   *
   * @default Duration.seconds(2)
   */
  readonly retryBudget?: Duration;

  /**
   * PutRecords attempts per call, the first one included. Between 1 and 20.
   *
   * @default 4
   */
  readonly maxAttempts?: number;
}

/**
 * What a stream source does when Kinesis throttles or fails.
 *
 * Whatever the policy, a request is only answered 2xx once each of its records is durably stored.
 */
export class BackpressurePolicy {
  /**
   * Retry the records that failed, with backoff, within a time budget. If some are still not
   * written, answer 429 with `Retry-After` and acknowledge nothing: the sender retries the whole
   * request, so records written before the 429 may arrive twice. Deduplicate on the event id.
   */
  public static rejectWith429(options: RejectWith429Options = {}): BackpressurePolicy {
    return new BackpressurePolicy((owner) => {
      const retryBudget = options.retryBudget ?? Duration.seconds(5);
      const retryAfter = options.retryAfter ?? (retryBudget.isUnresolved()
        ? Duration.seconds(30)
        : Duration.seconds(Math.max(1, Math.ceil((6 * retryBudget.toMilliseconds({ integral: false })) / 1000))));
      const maxAttempts = options.maxAttempts ?? 6;
      const retryAfterSeconds = retryAfter.toSeconds({ integral: false });
      if (retryAfterSeconds < 1 || retryAfterSeconds > 3600 || !Number.isInteger(retryAfterSeconds)) {
        throw new Error(`${owner}: retryAfter must be a whole number of seconds between 1 second and 1 hour, got ${retryAfter.toHumanString()}`);
      }
      return { config: { kind: 'rejectWith429', retryAfterSeconds, ...checkRetries(owner, retryBudget, maxAttempts) } };
    });
  }

  /**
   * For telemetry where an approximate picture is worth more than every event: under pressure,
   * keep a declared fraction of events and shed the rest, answering 202 for the sample.
   *
   * "Under pressure" starts when a write is still throttled after the retry budget: what is left
   * of that request is shed, and for `pressureWindow` each request keeps only the events in the
   * sample. Every request reports `WrittenEvents` and `ShedEvents` (EMF, namespace
   * `CdkWebhookIngress`), and an alarm fires when the share shed over 5 minutes exceeds
   * `lossBudget`. Never use it for events that must not be lost.
   */
  public static sampleOrShed(options: SampleOrShedOptions): BackpressurePolicy {
    return new BackpressurePolicy((owner) => {
      const { keepFraction, lossBudget } = options;
      const keepFractionRefused = keepFractionProblem(keepFraction);
      if (keepFractionRefused !== undefined) throw new Error(`${owner}: keepFraction ${keepFractionRefused}, got ${keepFraction}`);
      if (!(lossBudget > 0 && lossBudget <= 1)) {
        throw new Error(`${owner}: lossBudget must be more than 0 and at most 1, got ${lossBudget}`);
      }
      const pressureWindow = options.pressureWindow ?? Duration.seconds(30);
      const pressureWindowMs = pressureWindow.toMilliseconds({ integral: false });
      if (pressureWindowMs < 1000 || pressureWindowMs > 3_600_000 || !Number.isInteger(pressureWindowMs)) {
        throw new Error(`${owner}: pressureWindow must be between 1 second and 1 hour, got ${pressureWindow.toHumanString()}`);
      }
      const { retryBudgetMs, maxAttempts } = checkRetries(owner, options.retryBudget ?? Duration.seconds(2), options.maxAttempts ?? 4);
      return { config: { kind: 'sampleOrShed', keepFraction, pressureWindowMs, retryBudgetMs, maxAttempts }, lossBudget };
    });
  }

  /**
   * For senders that do not redeliver (GitHub): nothing may be dropped, and latency is
   * acceptable. Records the stream still throttles after the retry budget are spilled to an SQS
   * FIFO queue, one message group per partition key, and the request is answered 202 once they
   * are durably queued. A drain function moves them into the stream in order, reporting partial
   * failures; poison messages end in a dead-letter queue. For `queueWindow` after a spill, every
   * record goes through the queue, so none overtakes a queued one of its key. Alarms watch the
   * queue's depth, its oldest message and the dead-letter queue.
   */
  public static queueAndSlowAccept(options: QueueAndSlowAcceptOptions = {}): BackpressurePolicy {
    return new BackpressurePolicy((owner) => {
      const retryBudget = options.retryBudget ?? Duration.seconds(3);
      if (!retryBudget.isUnresolved() && retryBudget.toMilliseconds({ integral: false }) > 8000) {
        throw new Error(`${owner}: retryBudget of queueAndSlowAccept must be at most 8 seconds, so that writing and spilling fit in API Gateway's 29 seconds, got ${retryBudget.toHumanString()}`);
      }
      const { retryBudgetMs, maxAttempts } = checkRetries(owner, retryBudget, options.maxAttempts ?? 4);
      const queueWindow = options.queueWindow ?? Duration.minutes(1);
      const queueWindowMs = queueWindow.toMilliseconds({ integral: false });
      if (queueWindowMs < 1000 || queueWindowMs > 3_600_000 || !Number.isInteger(queueWindowMs)) {
        throw new Error(`${owner}: queueWindow must be between 1 second and 1 hour, got ${queueWindow.toHumanString()}`);
      }
      const retryAfter = options.retryAfter ?? Duration.seconds(30);
      const retryAfterSeconds = retryAfter.toSeconds({ integral: false });
      if (retryAfterSeconds < 1 || retryAfterSeconds > 3600 || !Number.isInteger(retryAfterSeconds)) {
        throw new Error(`${owner}: retryAfter must be a whole number of seconds between 1 second and 1 hour, got ${retryAfter.toHumanString()}`);
      }
      return {
        config: { kind: 'queueAndSlowAccept', queueUrl: '', queueWindowMs, retryAfterSeconds, retryBudgetMs, maxAttempts },
        spill: { depthAlarmThreshold: options.depthAlarmThreshold ?? 1000, ageAlarmThreshold: options.ageAlarmThreshold ?? Duration.minutes(15) },
      };
    });
  }

  private constructor(private readonly bindPolicy: (owner: string) => BackpressureBinding) {}

  /**
   * Validates the options and returns the handler's configuration.
   *
   * @internal
   */
  public _bind(owner: string): BackpressureBinding {
    return this.bindPolicy(owner);
  }
}
