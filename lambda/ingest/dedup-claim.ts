import { DeliveryInProgressError } from '../common/errors';
import type { HandlerLogger } from '../common/logger';
import type { Claim, DedupStore } from './dedup';
import type { OutgoingRecord } from './envelope';

export type DedupClaims = Pick<DedupStore, 'claim' | 'complete' | 'release'>;

/** Several events of one request with the same id are one event. */
export function uniqueById(records: readonly OutgoingRecord[]): readonly OutgoingRecord[] {
  if (records.length < 2) return records;
  const seen = new Set<string>();
  return records.filter((r) => !seen.has(r.envelope.id) && seen.add(r.envelope.id));
}

/**
 * A dedup source's claims on its event ids (`<source>#<id>`): an id is delivered by the request
 * that claims it first; the others answer it as a duplicate, or 409 while that request runs.
 */
export class EventClaims {
  constructor(private readonly store: DedupClaims, private readonly source: string, private readonly leaseSeconds: number) {}

  private keysOf(records: readonly OutgoingRecord[]): string[] {
    return records.map((r) => `${this.source}#${r.envelope.id}`);
  }

  /**
   * The claim stage: claims the ids of `unique` and returns the records this request delivers,
   * those it claimed first. A 409 (DeliveryInProgressError) while another request holds one.
   */
  async claim(unique: readonly OutgoingRecord[]): Promise<{ claim: Claim; records: readonly OutgoingRecord[] }> {
    const keys = this.keysOf(unique);
    const claim = await this.store.claim(keys);
    if (claim.busy.length > 0) throw new DeliveryInProgressError(this.leaseSeconds);
    const claimed = new Set(claim.claimed);
    return { claim, records: unique.filter((_, i) => claimed.has(keys[i])) };
  }

  /** The request failed: every id it claimed may be delivered by a retry. */
  releaseAll(claim: Claim): Promise<void> {
    return this.store.release(claim.claimed, claim.token);
  }

  /** Events shed on purpose were never written: a redelivery of one may be. */
  release(claim: Claim, records: readonly OutgoingRecord[]): Promise<void> {
    return this.store.release(this.keysOf(records), claim.token);
  }

  /** The records are in the stream or the queue: a failure to remember that must not turn into an error answer. */
  complete(claim: Claim, records: readonly OutgoingRecord[], logger: HandlerLogger, log: Record<string, unknown>): Promise<void> {
    return this.store.complete(this.keysOf(records), claim.token).catch((error: unknown) => logger.warn('could not mark ids delivered', {
      ...log,
      errorName: error instanceof Error ? error.name : typeof error,
    }));
  }
}
