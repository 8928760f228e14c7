import { Duration } from 'aws-cdk-lib';
import type { BackpressureConfig } from '../lambda/shared/config';

/** Options for {@link BackpressurePolicy.rejectWith429}. */
export interface RejectWith429Options {
  /**
   * What the `Retry-After` header tells the sender when the stream did not take the request.
   * Between 1 second and 1 hour.
   *
   * @default Duration.seconds(30)
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
      const retryAfter = options.retryAfter ?? Duration.seconds(30);
      const retryBudget = options.retryBudget ?? Duration.seconds(5);
      const maxAttempts = options.maxAttempts ?? 6;
      const retryAfterSeconds = retryAfter.toSeconds({ integral: false });
      if (retryAfterSeconds < 1 || retryAfterSeconds > 3600 || !Number.isInteger(retryAfterSeconds)) {
        throw new Error(`${owner}: retryAfter must be a whole number of seconds between 1 second and 1 hour, got ${retryAfter.toHumanString()}`);
      }
      const retryBudgetMs = retryBudget.toMilliseconds({ integral: false });
      if (retryBudgetMs < 100 || retryBudgetMs > 20_000 || !Number.isInteger(retryBudgetMs)) {
        throw new Error(`${owner}: retryBudget must be between 100 milliseconds and 20 seconds, got ${retryBudget.toHumanString()}`);
      }
      if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) {
        throw new Error(`${owner}: maxAttempts must be a whole number between 1 and 20, got ${maxAttempts}`);
      }
      return { kind: 'rejectWith429', retryAfterSeconds, retryBudgetMs, maxAttempts };
    });
  }

  private constructor(private readonly bindPolicy: (owner: string) => BackpressureConfig) {}

  /**
   * Validates the options and returns the handler's configuration.
   *
   * @internal
   */
  public _bind(owner: string): BackpressureConfig {
    return this.bindPolicy(owner);
  }
}
