/** The limits of one batch call (PutRecords, SendMessageBatch) and how an item is keyed and sized. */
export interface WavePlanLimits<T> {
  /** Items in one call. */
  readonly maxItems: number;
  /** Bytes of the items of one call, added up. */
  readonly maxBytes: number;
  /** Items with the same order key never share a call, and keep their order across calls. */
  readonly orderKeyOf: (item: T) => string;
  readonly bytesOf: (item: T) => number;
}

/**
 * Splits items into waves of batch calls that are safe to send while keeping the order of items
 * that share an order key (a partition key, a message group), when only the items that failed are
 * sent again:
 * - the n-th item of each key goes in the n-th wave, so a call holds at most one item per key,
 *   and a wave must only be sent once the one before it is fully through;
 * - each wave is cut into calls of at most `maxItems` items and `maxBytes` bytes, in input order.
 *
 * When every key is unique there is one wave.
 */
export function planWaves<T>(items: readonly T[], limits: WavePlanLimits<T>): T[][][] {
  const waves: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const key = limits.orderKeyOf(item);
    const wave = seen.get(key) ?? 0;
    seen.set(key, wave + 1);
    (waves[wave] ??= []).push(item);
  }
  return waves.map((wave) => splitIntoCalls(wave, limits));
}

function splitIntoCalls<T>(wave: readonly T[], limits: WavePlanLimits<T>): T[][] {
  const calls: T[][] = [];
  let call: T[] = [];
  let bytes = 0;
  for (const item of wave) {
    const size = limits.bytesOf(item);
    if (call.length === limits.maxItems || (call.length > 0 && bytes + size > limits.maxBytes)) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(item);
    bytes += size;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}
