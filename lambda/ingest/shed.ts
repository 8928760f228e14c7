import { createHash } from 'node:crypto';

/**
 * A backpressure policy's state in one container: after a write that Kinesis throttled past the
 * retry budget, the source is "under pressure" for a window.
 */
export class PressureWindow {
  private pressureUntil = 0;

  constructor(private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  underPressure(): boolean {
    return this.now() < this.pressureUntil;
  }

  /** A write was throttled past the budget: the window starts again. */
  notePressure(): void {
    this.pressureUntil = this.now() + this.windowMs;
  }
}

/**
 * The sample-or-shed policy: under pressure, each request keeps only the events whose id falls in
 * the declared fraction, and sheds the rest.
 */
export class LoadShedder extends PressureWindow {
  constructor(private readonly keepFraction: number, windowMs: number, now?: () => number) {
    super(windowMs, now);
  }

  /**
   * Whether an event is in the sample. Decided by a hash of its id, so a redelivered event gets the
   * same answer, and the kept share converges on `keepFraction`.
   */
  keeps(eventId: string): boolean {
    if (this.keepFraction <= 0) return false;
    const bucket = createHash('sha256').update(eventId, 'utf8').digest().readUInt32BE(0) / 2 ** 32;
    return bucket < this.keepFraction;
  }
}
