import { createHash } from 'node:crypto';
import type { SampleOrShedConfig } from './config';

/**
 * The sample-or-shed policy's state in one container. After a write that Kinesis throttled past
 * the retry budget, the source is "under pressure" for a window; meanwhile each request keeps
 * only the events whose id falls in the declared fraction, and sheds the rest.
 */
export class LoadShedder {
  private pressureUntil = 0;

  constructor(private readonly config: SampleOrShedConfig, private readonly now: () => number = Date.now) {}

  underPressure(): boolean {
    return this.now() < this.pressureUntil;
  }

  /** A write was throttled past the budget: sample until the window passes. */
  notePressure(): void {
    this.pressureUntil = this.now() + this.config.pressureWindowMs;
  }

  /**
   * Whether an event is in the sample. Decided by a hash of its id, so a redelivered event gets the
   * same answer, and the kept share converges on `keepFraction`.
   */
  keeps(eventId: string): boolean {
    if (this.config.keepFraction <= 0) return false;
    const bucket = createHash('sha256').update(eventId, 'utf8').digest().readUInt32BE(0) / 2 ** 32;
    return bucket < this.config.keepFraction;
  }
}
