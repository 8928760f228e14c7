import type { Message } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { decodeSpillMessage, encodeSpillMessage } from '../../../lambda/common/spill-message';
import {
  deduplicationIdOf,
  messageGroupIdOf,
  planSpill,
  SpillFailure,
  SpillProducer,
  SQS_LIMITS,
  type SpillOptions,
  type SpillRecord,
} from '../../../lambda/ingest/spill';
import { LocalSqs, SqsFaultProxy, sqsClientFor, type SendMessageBatchFault } from '../../support/fauxqs';
import { closedPort } from '../../support/ports';

const closedEndpoint = async () => `http://127.0.0.1:${await closedPort()}`;

const SQS_ID = /^[\x21-\x7e]{1,128}$/;
const STREAM = 'orders-stream';

/** Records whose data names their position and key, so order and identity can be checked. */
function records(count: number, keyOf: (i: number) => string, dataBytes = 64): SpillRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    streamName: STREAM,
    partitionKey: keyOf(i),
    dedupId: `evt-${i}`,
    data: Buffer.from(JSON.stringify({ i, key: keyOf(i), pad: 'x'.repeat(Math.max(0, dataBytes - 40)) })),
  }));
}

function seqOf(data: Uint8Array): number {
  return (JSON.parse(Buffer.from(data).toString('utf8')) as { i: number }).i;
}

/** Every key's positions, in the order the queue keeps them. */
function orderPerKey(messages: readonly Message[]): Record<string, number[]> {
  const perKey: Record<string, number[]> = {};
  for (const m of messages) {
    const record = decodeSpillMessage(m.Body as string);
    (perKey[record.partitionKey] ??= []).push(seqOf(record.data));
  }
  return perKey;
}

function expectedOrderPerKey(sent: readonly SpillRecord[], only?: (r: SpillRecord) => boolean): Record<string, number[]> {
  const perKey: Record<string, number[]> = {};
  for (const r of sent) if (only === undefined || only(r)) (perKey[r.partitionKey] ??= []).push(seqOf(r.data));
  return perKey;
}

describe('the message', () => {
  test('keeps a partition key that SQS accepts as its message group', () => {
    expect(messageGroupIdOf('cus_9s6XKzkNRiz8i3')).toBe('cus_9s6XKzkNRiz8i3');
    expect(messageGroupIdOf('a!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~z')).toBe('a!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~z');
    expect(messageGroupIdOf('k'.repeat(128))).toBe('k'.repeat(128));
  });

  test('hashes a partition key that SQS does not accept, the same way every time', () => {
    for (const key of ['k'.repeat(129), 'jane doe', 'jäne', 'line\nbreak', '🙂']) {
      const group = messageGroupIdOf(key);
      expect(group).toMatch(/^[0-9a-f]{64}$/);
      expect(messageGroupIdOf(key)).toBe(group);
    }
    expect(messageGroupIdOf('jane doe')).not.toBe(messageGroupIdOf('jane  doe'));
  });

  test('every partition key gets a valid MessageGroupId', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 256, unit: 'binary' }), (key) => SQS_ID.test(messageGroupIdOf(key))));
  });

  test('derives a stable MessageDeduplicationId from the stream and the event id', () => {
    const id = deduplicationIdOf({ streamName: STREAM, dedupId: 'evt_1QxE2e' });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(deduplicationIdOf({ streamName: STREAM, dedupId: 'evt_1QxE2e' })).toBe(id);
    expect(deduplicationIdOf({ streamName: 'other', dedupId: 'evt_1QxE2e' })).not.toBe(id);
    expect(deduplicationIdOf({ streamName: STREAM, dedupId: 'evt_1QxE2f' })).not.toBe(id);
  });
});

describe('planSpill', () => {
  test('puts at most 10 messages in a batch', () => {
    expect(planSpill(records(25, (i) => `k${i}`)).map((wave) => wave.map((b) => b.length))).toEqual([[10, 10, 5]]);
  });

  test('puts at most 1 MiB of messages in a batch', () => {
    // Each body is about 400 KB: 300,000 bytes of data, base64.
    const waves = planSpill(records(5, (i) => `k${i}`, 300_000));
    expect(waves.map((wave) => wave.map((b) => b.length))).toEqual([[2, 2, 1]]);
    for (const batch of waves.flat()) {
      expect(batch.reduce((n, r) => n + Buffer.byteLength(encodeSpillMessage(r)), 0)).toBeLessThanOrEqual(SQS_LIMITS.maxBatchBytes);
    }
  });

  test('never puts two messages of one group in a batch, and sends a group\'s messages wave after wave', () => {
    const sent = records(7, (i) => ['a', 'a', 'b', 'a', 'c', 'b', 'a'][i]);
    const waves = planSpill(sent);
    expect(waves.map((wave) => wave.flat().map((r) => seqOf(r.data)))).toEqual([[0, 2, 4], [1, 5], [3], [6]]);
  });
});

describe('SpillProducer against fauxqs', () => {
  let sqs: LocalSqs;
  let proxy: SqsFaultProxy;
  let queueCount = 0;

  beforeAll(async () => {
    sqs = await LocalSqs.start();
  });
  afterAll(async () => {
    await sqs.stop();
  });
  beforeEach(async () => {
    proxy = await SqsFaultProxy.start(sqs.endpoint, () => ({ kind: 'pass' }));
  });
  afterEach(async () => {
    await proxy.stop();
  });

  async function newQueue(): Promise<string> {
    return (await sqs.createFifoQueue(`spill-${++queueCount}`)).queueUrl;
  }

  function spiller(queueUrl: string, options: Partial<SpillOptions> = {}): SpillProducer {
    return new SpillProducer(sqsClientFor(proxy.endpoint), { queueUrl, baseDelayMs: 1, maxDelayMs: 5, ...options });
  }

  test('queues every record once, in the group of its key, with its event id\'s dedup id and in order per key', async () => {
    const queueUrl = await newQueue();
    const sent = records(25, (i) => `cus_${i % 5}`);
    // WHEN
    const report = await spiller(queueUrl).spill(sent);
    // THEN
    expect(report).toEqual({ queued: 25, calls: 5, retried: 0 });
    expect(proxy.seen.filter((e) => e.call === 0)).toHaveLength(5);
    const queued = await sqs.receiveAll(queueUrl);
    expect(queued).toHaveLength(25);
    expect(orderPerKey(queued)).toEqual(expectedOrderPerKey(sent));
    for (const m of queued) {
      const i = seqOf(decodeSpillMessage(m.Body as string).data);
      expect(m.Attributes?.MessageGroupId).toBe(`cus_${i % 5}`);
      expect(m.Attributes?.MessageDeduplicationId).toBe(deduplicationIdOf(sent[i]));
      expect(decodeSpillMessage(m.Body as string)).toEqual({ streamName: STREAM, partitionKey: sent[i].partitionKey, data: Buffer.from(sent[i].data) });
    }
  });

  test('splits batches at 10 messages and at 1 MiB, which the queue accepts', async () => {
    const queueUrl = await newQueue();
    const small = records(23, (i) => `k${i}`);
    const large = records(5, (i) => `big${i}`, 300_000).map((r, i) => ({ ...r, dedupId: `big-${i}` }));
    const report = await spiller(queueUrl, { concurrency: 1 }).spill([...small, ...large]);
    const perCall = new Map<number, { count: number; bytes: number }>();
    for (const e of proxy.seen) {
      const c = perCall.get(e.call) ?? { count: 0, bytes: 0 };
      perCall.set(e.call, { count: c.count + 1, bytes: c.bytes + e.bodyBytes });
    }
    expect([...perCall.values()].map((c) => c.count)).toEqual([10, 10, 5, 2, 1]);
    for (const c of perCall.values()) expect(c.bytes).toBeLessThanOrEqual(SQS_LIMITS.maxBatchBytes);
    expect(report.queued).toBe(28);
    expect(proxy.seen.every((e) => e.accepted)).toBe(true);
    expect(await sqs.receiveAll(queueUrl)).toHaveLength(28);
  });

  test('retries only the failed entries, and never sends a group\'s next message before the one before it is queued', async () => {
    const queueUrl = await newQueue();
    // GIVEN every other call of the first ten fails every third entry, as a server-side fault
    proxy.plan = (call): SendMessageBatchFault => (call < 10 && call % 2 === 0 ? { kind: 'failEntries', indexes: (i) => i % 3 === 0 } : { kind: 'pass' });
    // 15 keys: each wave holds two batches, sent side by side.
    const sent = records(60, (i) => `k${i % 15}`);
    // WHEN
    const report = await spiller(queueUrl).spill(sent);
    // THEN every record is queued once, and each key's records are in the order sent
    expect(report.queued).toBe(60);
    const failedEntries = proxy.seen.filter((e) => !e.accepted).length;
    expect(failedEntries).toBeGreaterThan(0);
    expect(report.retried).toBe(failedEntries);
    expect(proxy.seen.filter((e) => e.accepted)).toHaveLength(60);
    const queued = await sqs.receiveAll(queueUrl);
    expect(orderPerKey(queued)).toEqual(expectedOrderPerKey(sent));
    // ...and on the wire, each group's n-th message was first sent after its (n-1)-th was accepted.
    const dedupOrder = new Map(sent.map((r, i) => [deduplicationIdOf(r), i]));
    const acceptedCall = new Map<number, number>();
    const firstSent = new Map<number, number>();
    for (const e of proxy.seen) {
      const i = dedupOrder.get(e.deduplicationId as string) as number;
      if (!firstSent.has(i)) firstSent.set(i, e.call);
      if (e.accepted) acceptedCall.set(i, e.call);
    }
    for (let i = 15; i < 60; i++) expect(firstSent.get(i)).toBeGreaterThan(acceptedCall.get(i - 15) as number);
  });

  test('spilling the same records again queues nothing twice: SQS drops the repeats by their dedup id', async () => {
    const queueUrl = await newQueue();
    const sent = records(12, (i) => `k${i % 3}`);
    await spiller(queueUrl).spill(sent);
    // WHEN the same events are spilled again, as after a sender's retry
    const again = await spiller(queueUrl).spill(records(12, (i) => `k${i % 3}`));
    // THEN SQS answers them as queued, and holds each once
    expect(again.queued).toBe(12);
    const queued = await sqs.receiveAll(queueUrl);
    expect(queued).toHaveLength(12);
    expect(orderPerKey(queued)).toEqual(expectedOrderPerKey(sent));
  });

  test('a batch retried after its answer was lost is not queued twice', async () => {
    const queueUrl = await newQueue();
    // GIVEN the first call is queued but its answer is a 500
    proxy.plan = (call): SendMessageBatchFault => (call === 0 ? { kind: 'loseAnswer', status: 500, type: 'InternalError' } : { kind: 'pass' });
    const sent = records(8, (i) => `k${i % 4}`);
    // WHEN
    const report = await spiller(queueUrl).spill(sent);
    // THEN it was sent twice, and the queue holds it once
    expect(report.retried).toBe(4);
    const queued = await sqs.receiveAll(queueUrl);
    expect(queued).toHaveLength(8);
    expect(orderPerKey(queued)).toEqual(expectedOrderPerKey(sent));
  });

  test('fails when a record does not fit in one SQS message, naming its size, and queues nothing', async () => {
    const queueUrl = await newQueue();
    // 800,000 bytes are about 1.07 MB as base64: a valid Kinesis record, but too large for SQS.
    const sent = [...records(3, (i) => `k${i}`), { streamName: STREAM, partitionKey: 'big', dedupId: 'evt-big', data: Buffer.alloc(800_000, 7) }];
    const failure = await spiller(queueUrl).spill(sent).catch((e: unknown) => e) as SpillFailure;
    expect(failure).toBeInstanceOf(SpillFailure);
    expect(failure.reason).toBe('tooLarge');
    expect(failure.message).toMatch(/record 3 is 1066\d{3} bytes as an SQS message \(800000 bytes of data, base64\); a message holds at most 1048576/);
    expect(failure.unsent).toEqual(sent);
    expect(proxy.calls).toBe(0);
    expect(await sqs.receiveAll(queueUrl)).toHaveLength(0);
  });

  test('fails as unavailable when a group\'s message keeps failing, listing every record not queued, and sends none of that group\'s later ones', async () => {
    const queueUrl = await newQueue();
    // GIVEN every entry of group k1 fails, from its second message on
    let k1Seen = 0;
    proxy.plan = (_call, entries): SendMessageBatchFault => {
      const failing = entries.map((e) => e.groupId === 'k1' && ++k1Seen >= 2);
      return { kind: 'failEntries', indexes: (i) => failing[i] };
    };
    const sent = records(20, (i) => `k${i % 4}`);
    // WHEN
    const failure = await spiller(queueUrl, { maxAttempts: 3 }).spill(sent).catch((e: unknown) => e) as SpillFailure;
    // THEN SQS failed them (InternalError): it is unavailable, which is no throttling
    expect(failure).toBeInstanceOf(SpillFailure);
    expect(failure.reason).toBe('unavailable');
    expect(failure.message).toMatch(/not queued; SendMessageBatch kept failing after 3 attempt\(s\)/);
    const queued = await sqs.receiveAll(queueUrl);
    const queuedSeqs = new Set(queued.map((m) => seqOf(decodeSpillMessage(m.Body as string).data)));
    // The unsent records are exactly those not in the queue, in request order...
    expect(failure.unsent.map((r) => seqOf(r.data))).toEqual(sent.map((r) => seqOf(r.data)).filter((i) => !queuedSeqs.has(i)));
    expect(failure.report.queued).toBe(queuedSeqs.size);
    // ...group k1 holds only its first record, and each group's queued records are a prefix of what was sent.
    expect(orderPerKey(queued).k1).toEqual([1]);
    for (const [key, order] of Object.entries(orderPerKey(queued))) {
      expect(order).toEqual(expectedOrderPerKey(sent)[key].slice(0, order.length));
    }
    // No entry of k1 after the failing one was ever sent.
    expect(proxy.seen.filter((e) => e.groupId === 'k1').map((e) => e.deduplicationId)).not.toContain(deduplicationIdOf(sent[9]));
  });

  test('fails as refused at once when the queue does not exist', async () => {
    const failure = await spiller(`${sqs.endpoint}/000000000000/no-such-queue.fifo`).spill(records(3, (i) => `k${i}`)).catch((e: unknown) => e) as SpillFailure;
    expect(failure).toBeInstanceOf(SpillFailure);
    expect(failure.reason).toBe('refused');
    expect(failure.unsent).toHaveLength(3);
    expect(failure.report.calls).toBe(1);
    expect((failure.cause as Error).name).toBe('QueueDoesNotExist');
  });

  test('fails as refused at once when SQS rejects an entry as the sender\'s fault', async () => {
    const queueUrl = await newQueue();
    proxy.plan = (): SendMessageBatchFault => ({ kind: 'failEntries', indexes: (i) => i === 2, code: 'InvalidMessageContents', senderFault: true });
    const sent = records(5, (i) => `k${i}`);
    const failure = await spiller(queueUrl).spill(sent).catch((e: unknown) => e) as SpillFailure;
    expect(failure.reason).toBe('refused');
    expect(failure.message).toMatch(/SQS rejected 1 entry: InvalidMessageContents/);
    expect(failure.unsent.map((r) => seqOf(r.data))).toEqual([2]);
    expect(failure.report.calls).toBe(1);
  });

  test('retries a whole call that is throttled', async () => {
    const queueUrl = await newQueue();
    proxy.plan = (call): SendMessageBatchFault => (call < 2 ? { kind: 'failCall', status: 400, type: 'RequestThrottled' } : { kind: 'pass' });
    const sent = records(4, (i) => `k${i}`);
    expect(await spiller(queueUrl).spill(sent)).toEqual({ queued: 4, calls: 3, retried: 8 });
    expect(await sqs.receiveAll(queueUrl)).toHaveLength(4);
  });

  test.each<[string, SendMessageBatchFault, string]>([
    ['throttled when SQS keeps throttling the call', { kind: 'failCall', status: 400, type: 'RequestThrottled' }, 'throttled'],
    ['throttled when SQS keeps throttling entries', { kind: 'failEntries', indexes: () => true, code: 'RequestThrottled' }, 'throttled'],
    ['unavailable when SQS keeps failing the call', { kind: 'failCall', status: 500, type: 'InternalError' }, 'unavailable'],
    ['unavailable when SQS keeps answering 503', { kind: 'failCall', status: 503, type: 'ServiceUnavailable' }, 'unavailable'],
  ])('fails as %s', async (_name, fault, reason) => {
    const queueUrl = await newQueue();
    proxy.plan = () => fault;
    const failure = await spiller(queueUrl, { maxAttempts: 2 }).spill(records(3, (i) => `k${i}`)).catch((e: unknown) => e) as SpillFailure;
    expect(failure).toBeInstanceOf(SpillFailure);
    expect([failure.reason, failure.unsent.length, failure.report.calls]).toEqual([reason, 3, 2]);
  });

  test('fails as unavailable when SQS cannot be reached', async () => {
    const failure = await new SpillProducer(sqsClientFor(await closedEndpoint()), { queueUrl: 'https://sqs.example/1/q.fifo', maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 })
      .spill(records(2, (i) => `k${i}`)).catch((e: unknown) => e) as SpillFailure;
    expect([failure.reason, failure.report.calls]).toEqual(['unavailable', 2]);
  });

  test('starts no call or retry after its deadline', async () => {
    const queueUrl = await newQueue();
    proxy.plan = (): SendMessageBatchFault => ({ kind: 'failCall', status: 400, type: 'RequestThrottled' });
    let clock = 0;
    const failure = await spiller(queueUrl, {
      maxAttempts: 20,
      deadlineMs: 1000,
      baseDelayMs: 200,
      maxDelayMs: 400,
      random: () => 1,
      now: () => clock,
      sleep: async (ms) => { clock += ms; },
    }).spill(records(3, (i) => `k${i}`)).catch((e: unknown) => e) as SpillFailure;
    // Delays of 200, 400, 400 fit in 1,000 ms; the next would not.
    expect(failure.reason).toBe('throttled');
    expect(failure.report.calls).toBe(4);
    expect(clock).toBe(1000);
    expect(failure.unsent).toHaveLength(3);
  });
});
