import { DeliveryInProgressError } from '../../../lambda/common/errors';
import type { HandlerLogger } from '../../../lambda/common/logger';
import { dedupKey, EventClaims, MAX_DEDUP_KEY_BYTES, uniqueById, type DedupClaims } from '../../../lambda/ingest/dedup-claim';
import type { OutgoingRecord } from '../../../lambda/ingest/envelope';

const record = (id: string, n = 0): OutgoingRecord => ({ envelope: { id } as OutgoingRecord['envelope'], streamName: 's', partitionKey: `${id}-${n}`, data: Buffer.from(id) });

function store(answer: { claimed: string[]; busy?: string[] }, completeFails = false): DedupClaims & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    claim: async (ids) => {
      asked.push(`claim ${ids.join(',')}`);
      return { claimed: answer.claimed, duplicates: ids.filter((id) => !answer.claimed.includes(id)), busy: answer.busy ?? [], token: 't' };
    },
    complete: async (ids) => {
      asked.push(`complete ${ids.join(',')}`);
      if (completeFails) throw Object.assign(new Error('throttled: jane.doe@example.com'), { name: 'ProvisionedThroughputExceededException' });
    },
    release: async (ids) => { asked.push(`release ${ids.join(',')}`); },
  };
}

describe('uniqueById', () => {
  test('keeps the first record of each id, in order', () => {
    const records = [record('a', 1), record('b'), record('a', 2)];
    expect(uniqueById(records).map((r) => r.partitionKey)).toEqual(['a-1', 'b-0']);
  });
});

describe('EventClaims', () => {
  test('delivers only the records whose ids this request claimed first, under <source>#<id>', async () => {
    const dedup = store({ claimed: ['src#b'] });
    const { records } = await new EventClaims(dedup, 'src', 30).claim([record('a'), record('b')]);
    expect(records.map((r) => r.envelope.id)).toEqual(['b']);
    expect(dedup.asked).toEqual(['claim src#a,src#b']);
  });

  test('fails with 409 while another request holds an id', async () => {
    const claims = new EventClaims(store({ claimed: [], busy: ['src#a'] }), 'src', 30);
    await expect(claims.claim([record('a')])).rejects.toThrow(DeliveryInProgressError);
  });

  test('a failure to mark ids delivered is logged by its name, never thrown', async () => {
    const lines: unknown[] = [];
    const logger: HandlerLogger = { info: () => undefined, warn: (m, a) => lines.push([m, a]), error: () => undefined };
    const dedup = store({ claimed: ['src#a'] }, true);
    const claims = new EventClaims(dedup, 'src', 30);
    const { claim, records } = await claims.claim([record('a')]);
    await claims.complete(claim, records, logger, { correlationId: 'c' });
    expect(lines).toEqual([['could not mark ids delivered', { correlationId: 'c', errorName: 'ProvisionedThroughputExceededException' }]]);
  });
});

describe('dedupKey', () => {
  test('is <source>#<id> for an id DynamoDB keeps as it is, and a stable hash otherwise', () => {
    expect(dedupKey('stripe', 'evt_1')).toBe('stripe#evt_1');
    const fits = 'a'.repeat(MAX_DEDUP_KEY_BYTES - 'stripe#'.length);
    expect(dedupKey('stripe', fits)).toBe(`stripe#${fits}`);
    // One byte more, an id starting as hashed keys do, or a lone surrogate: hashed, the same each time
    for (const id of [`${fits}a`, 'sha256:abc', 'evt_\ud800']) {
      expect(dedupKey('stripe', id)).toMatch(/^stripe#sha256:[0-9a-f]{64}$/);
      expect(dedupKey('stripe', id)).toBe(dedupKey('stripe', id));
    }
    expect(dedupKey('stripe', 'evt_\ud800')).not.toBe(dedupKey('stripe', 'evt_\udfff'));
  });
});
