import { createHash } from 'node:crypto';
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

/** DynamoDB's limit on a partition key's value: 2,048 bytes of UTF-8. */
export const MAX_DEDUP_KEY_BYTES = 2048;

const HASHED = 'sha256:';
/** A lone surrogate: DynamoDB stores only well-formed UTF-8, so an id holding one would not be kept as sent. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The dedup table's key for one event id: `<source>#<id>`, or `<source>#sha256:<hex>` (the SHA-256
 * of the id's UTF-16 code units, so that no two ids share one) when the id would not be kept as
 * it is: a key over DynamoDB's 2,048 bytes (a vendor's long id, or a sender's: either way not an
 * outage), an id that is not well-formed Unicode, or one that already starts with `sha256:` (so
 * that no id can spell another's hashed key).
 */
export function dedupKey(source: string, id: string): string {
  const key = `${source}#${id}`;
  if (Buffer.byteLength(key, 'utf8') <= MAX_DEDUP_KEY_BYTES && !id.startsWith(HASHED) && !LONE_SURROGATE.test(id)) return key;
  return `${source}#${HASHED}${createHash('sha256').update(Buffer.from(id, 'utf16le')).digest('hex')}`;
}

/**
 * A dedup source's claims on its event ids (see dedupKey): an id is delivered by the request
 * that claims it first; the others answer it as a duplicate, or 409 while that request runs.
 */
export class EventClaims {
  constructor(private readonly store: DedupClaims, private readonly source: string, private readonly leaseSeconds: number) {}

  private keysOf(records: readonly OutgoingRecord[]): string[] {
    return records.map((r) => dedupKey(this.source, r.envelope.id));
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
