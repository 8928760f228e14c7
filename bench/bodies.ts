// Deterministic webhook bodies of a given size: a Stripe-like event whose line items repeat until
// the body reaches the size. Every competitor of a benchmark gets the very same bytes.

/** The body sizes the issue asks for. */
export const BODY_SIZES = [
  { label: '1 KB', bytes: 1024 },
  { label: '16 KB', bytes: 16 * 1024 },
  { label: '256 KB', bytes: 256 * 1024 },
] as const;

function lineItem(i: number): Record<string, unknown> {
  return {
    id: `il_${String(i).padStart(8, '0')}`,
    object: 'line_item',
    amount: 1999 + i,
    currency: 'eur',
    // Non-ASCII text and escapes, as real descriptions have.
    description: `Café crème × ${i} — "Größe" L\tnote`,
    discountable: i % 2 === 0,
    metadata: { sku: `SKU-${i}`, warehouse: null, tags: ['a', 'b'] },
    period: { start: 1767225600 + i, end: 1769904000 + i },
    quantity: i % 5 + 1,
  };
}

/**
 * A single JSON event (an object) of at least `minBytes` bytes once serialized compactly, unless
 * `minBytes` is below the fixed part. `id` goes to `/id` so presets that read it find it.
 */
export function eventBody(minBytes: number, id = 'evt_bench_0001', createdSeconds = Math.floor(Date.now() / 1000)): Buffer {
  const items: Record<string, unknown>[] = [];
  const render = () => JSON.stringify({
    id,
    object: 'event',
    type: 'invoice.paid',
    created: createdSeconds,
    livemode: false,
    data: { object: { id: 'in_1', object: 'invoice', customer: 'cus_1', total: 4200, lines: { object: 'list', data: items } } },
  });
  let text = render();
  for (let i = 0; Buffer.byteLength(text) < minBytes; i++) {
    items.push(lineItem(i));
    text = render();
  }
  return Buffer.from(text, 'utf8');
}

/** A JSON array of `count` small events, as batching senders (Segment) send them. */
export function batchBody(count: number): Buffer {
  const events = Array.from({ length: count }, (_, i) => ({
    messageId: `msg-${String(i).padStart(6, '0')}`,
    type: 'track',
    event: 'Order Completed',
    userId: `user-${i % 97}`,
    timestamp: '2026-11-23T12:00:00.000Z',
    properties: { orderId: `o-${i}`, total: 42.5, currency: 'EUR', coupon: i % 3 === 0 ? 'WINTER' : null },
  }));
  return Buffer.from(JSON.stringify(events), 'utf8');
}
