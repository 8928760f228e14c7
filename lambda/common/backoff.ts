/** Timing of retries: exponential backoff with full jitter. The clock and the dice can be replaced for tests. */
export interface BackoffOptions {
  /** The first retry waits up to this long. @default 50 */
  readonly baseDelayMs?: number;
  /** No retry waits longer than this. @default 1000 */
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** When an operation must stop retrying. */
export interface RetryLimits {
  /** Attempts in all, the first one included. */
  readonly maxAttempts: number;
  /** No retry's wait may end later than this (a time from `now`). */
  readonly retryDeadline: number;
}

/** One operation that sends a batch of items and retries only those that failed. */
export interface RetryLoop<T> {
  readonly limits: RetryLimits;
  /** No attempt, the first one included, starts later than this (a time from `now`). */
  readonly startDeadline: number;
  /** Makes one attempt with the items still pending; resolves to those that must go again. */
  readonly attempt: (pending: readonly T[]) => Promise<readonly T[]>;
  /** Called once a retry's wait is over, with the items about to go again. */
  readonly onRetry?: (pending: readonly T[]) => void;
  /** Asked before every attempt: true stops the loop (a failure no retry fixes, here or elsewhere). */
  readonly stopped?: () => boolean;
}

/**
 * Why a loop ended with items pending: `stopped` said so, the attempts or the retry deadline ran
 * out (`exhausted`), or the start deadline passed before an attempt (`startDeadline`).
 */
export type RetryStop = 'stopped' | 'exhausted' | 'startDeadline';

export interface RetryOutcome<T> {
  /** The items that did not go through; empty when all did. */
  readonly pending: readonly T[];
  /** Attempts made. */
  readonly attempts: number;
  /** Set when items are pending. */
  readonly stop?: RetryStop;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Exponential backoff with full jitter: before attempt n (n >= 2) it waits a random time between
 * 0 and min(maxDelayMs, baseDelayMs * 2^(n-2)).
 * @see https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
 */
export class Backoff {
  readonly now: () => number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.maxDelayMs = options.maxDelayMs ?? 1_000;
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /**
   * Waits before attempt `attempt` (2 or more) and resolves true; resolves false at once, without
   * waiting, when that attempt would be one too many or its wait would end after the deadline.
   */
  async beforeRetry(attempt: number, limits: RetryLimits): Promise<boolean> {
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 2)) * this.random();
    if (attempt > limits.maxAttempts || this.now() + delay > limits.retryDeadline) return false;
    await this.sleep(delay);
    return true;
  }

  /**
   * Attempts `items` until none is pending: before every attempt it asks `stopped`, before every
   * retry it waits (beforeRetry), and no attempt starts after `startDeadline`.
   */
  async retry<T>(items: readonly T[], loop: RetryLoop<T>): Promise<RetryOutcome<T>> {
    let pending = items;
    let attempts = 0;
    while (pending.length > 0) {
      const stop = await this.beforeAttempt(attempts + 1, pending, loop);
      if (stop !== undefined) return { pending, attempts, stop };
      attempts += 1;
      pending = await loop.attempt(pending);
    }
    return { pending, attempts };
  }

  private async beforeAttempt<T>(attempt: number, pending: readonly T[], loop: RetryLoop<T>): Promise<RetryStop | undefined> {
    if (loop.stopped?.() === true) return 'stopped';
    if (attempt > 1) {
      if (!await this.beforeRetry(attempt, loop.limits)) return 'exhausted';
      loop.onRetry?.(pending);
    }
    if (this.now() > loop.startDeadline) return 'startDeadline';
    return undefined;
  }
}
