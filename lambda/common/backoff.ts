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
}
