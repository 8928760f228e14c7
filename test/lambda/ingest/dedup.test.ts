import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DedupStore } from '../../../lambda/ingest/dedup';
import { dedupKey, EventClaims, MAX_DEDUP_KEY_BYTES } from '../../../lambda/ingest/dedup-claim';
import type { OutgoingRecord } from '../../../lambda/ingest/envelope';
import { DependencyUnavailableError } from '../../../lambda/common/errors';
import { LocalDynamoDb } from '../../support/dynalite';

describe('DedupStore against dynalite', () => {
  let dynamo: LocalDynamoDb;
  let tables = 0;
  let clock = 1_767_225_600_000;
  const store = async (options: { leaseSeconds?: number } = {}) => {
    const tableName = `dedup-${++tables}`;
    await dynamo.createDedupTable(tableName);
    return { tableName, store: new DedupStore(dynamo.client, { tableName, ttlSeconds: 86_400, leaseSeconds: options.leaseSeconds ?? 60, now: () => clock }) };
  };

  beforeAll(async () => {
    dynamo = await LocalDynamoDb.start();
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  test('a delivered id is a duplicate afterwards, with a TTL set', async () => {
    const { store: s, tableName } = await store();
    const first = await s.claim(['src#evt_1', 'src#evt_2']);
    expect(first).toMatchObject({ claimed: ['src#evt_1', 'src#evt_2'], duplicates: [], busy: [] });
    await s.complete(first.claimed, first.token);

    const again = await s.claim(['src#evt_2', 'src#evt_3']);
    expect(again).toMatchObject({ claimed: ['src#evt_3'], duplicates: ['src#evt_2'], busy: [] });

    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'src#evt_1' } } }));
    expect(Item?.status?.S).toBe('done');
    expect(Number(Item?.expiresAt?.N)).toBe(clock / 1000 + 86_400);
  });

  test('an id another delivery is writing is busy, and nothing of the request stays claimed', async () => {
    const { store: s } = await store();
    const other = await s.claim(['src#evt_a']);
    const mine = await s.claim(['src#evt_b', 'src#evt_a']);
    expect(mine).toMatchObject({ claimed: [], busy: ['src#evt_a'] });
    // evt_b was released, so the retry can claim it.
    await s.complete(other.claimed, other.token);
    expect(await s.claim(['src#evt_b', 'src#evt_a'])).toMatchObject({ claimed: ['src#evt_b'], duplicates: ['src#evt_a'], busy: [] });
  });

  test('a released claim can be taken again: a failed write never drops the retry', async () => {
    const { store: s } = await store();
    const first = await s.claim(['src#evt_x']);
    await s.release(first.claimed, first.token);
    expect(await s.claim(['src#evt_x'])).toMatchObject({ claimed: ['src#evt_x'] });
  });

  test('a claim whose lease ran out (its request died) is taken over', async () => {
    const { store: s } = await store({ leaseSeconds: 30 });
    const dead = await s.claim(['src#evt_y']);
    expect(await s.claim(['src#evt_y'])).toMatchObject({ busy: ['src#evt_y'] });
    clock += 31_000;
    const next = await s.claim(['src#evt_y']);
    expect(next).toMatchObject({ claimed: ['src#evt_y'] });
    // The dead request's late completion does not overwrite the new claim.
    await s.complete(dead.claimed, dead.token);
    expect(await s.claim(['src#evt_y'])).toMatchObject({ busy: ['src#evt_y'] });
  });

  test('an id too long for a DynamoDB key is remembered under its hash, not answered as an outage', async () => {
    const { store: s } = await store();
    const longId = `evt_${'é'.repeat(MAX_DEDUP_KEY_BYTES)}`;
    // GIVEN the table refuses the key as sent: a 503 the sender would retry forever
    await expect(s.claim([`src#${longId}`])).rejects.toBeInstanceOf(DependencyUnavailableError);
    // WHEN the source claims it
    const claims = new EventClaims(s, 'src', 60);
    const record = { envelope: { id: longId } } as OutgoingRecord;
    const first = await claims.claim([record]);
    expect(first.records).toEqual([record]);
    await s.complete(first.claim.claimed, first.claim.token);
    // THEN a redelivery is a duplicate
    expect((await claims.claim([record])).records).toEqual([]);
  });

  test('no id can take another\'s hashed key, and ids that differ only in a lone surrogate stay apart', async () => {
    const { store: s } = await store();
    const claims = new EventClaims(s, 'src', 60);
    const longId = 'x'.repeat(MAX_DEDUP_KEY_BYTES);
    const spelled = dedupKey('src', longId).slice('src#'.length); // "sha256:<hex>"
    const ids = [longId, spelled, 'evt_\ud800', 'evt_\udbff'];
    const first = await claims.claim(ids.map((id) => ({ envelope: { id } }) as OutgoingRecord));
    // Four distinct keys: each id is claimed, none is a duplicate of another
    expect(first.records).toHaveLength(4);
    expect(new Set(first.claim.claimed).size).toBe(4);
    for (const key of first.claim.claimed) expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(MAX_DEDUP_KEY_BYTES);
  });

  test('fails as unavailable (503) when the table cannot be reached', async () => {
    const s = new DedupStore(dynamo.client, { tableName: 'missing-table', ttlSeconds: 60, leaseSeconds: 30 });
    await expect(s.claim(['src#evt_z'])).rejects.toBeInstanceOf(DependencyUnavailableError);
  });
});
