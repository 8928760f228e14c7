import type { BackpressureConfig } from '../../../lambda/ingest/config';
import { backpressureStrategy, OUTAGE_RETRY_AFTER_SECONDS, type SpillTarget } from '../../../lambda/ingest/backpressure';
import type { OutgoingRecord } from '../../../lambda/ingest/envelope';
import { LoadShedder } from '../../../lambda/ingest/shed';

const record = (id: string): OutgoingRecord => ({ envelope: { id } as OutgoingRecord['envelope'], streamName: 's', partitionKey: id, data: Buffer.from(id) });
const records = Array.from({ length: 40 }, (_, i) => record(`evt_${i}`));

const reject: BackpressureConfig = { kind: 'rejectWith429', retryAfterSeconds: 7, maxAttempts: 2, retryBudgetMs: 100 };
const sample: BackpressureConfig = { kind: 'sampleOrShed', keepFraction: 0.5, pressureWindowMs: 1_000, maxAttempts: 2, retryBudgetMs: 100 };
const queue: BackpressureConfig = { kind: 'queueAndSlowAccept', queueUrl: 'https://sqs.example/q.fifo', queueWindowMs: 1_000, retryAfterSeconds: 9, maxAttempts: 2, retryBudgetMs: 100 };

function spillQueue(backlog: number): SpillTarget & { backlogCalls: number } {
  return {
    backlogCalls: 0,
    async backlog() {
      this.backlogCalls += 1;
      return backlog;
    },
    spill: async () => ({ queued: 0, calls: 0, retried: 0 }) as never,
  };
}

describe('rejectWith429', () => {
  test('plans every record for the stream, and diverts nothing the stream refuses', async () => {
    const strategy = backpressureStrategy(reject, { now: () => 0 });
    expect(await strategy.plan(records)).toEqual({ write: records, spill: [], shed: [] });
    expect(['throttled', 'outage', 'misconfigured'].map((r) => strategy.divert(r as never))).toEqual([undefined, undefined, undefined]);
    expect(strategy.retryAfterSeconds).toBe(7);
  });
});

describe('sampleOrShed', () => {
  test('writes everything until the stream throttles, then samples for the pressure window', async () => {
    // GIVEN a sample-or-shed source and a clock
    let now = 0;
    const sampled: [number, number][] = [];
    const strategy = backpressureStrategy(sample, { now: () => now, metrics: { sampled: (w, s) => sampled.push([w, s]) } });
    expect((await strategy.plan(records)).write).toEqual(records);
    // WHEN the stream throttles
    expect(strategy.divert('throttled')).toBe('shed');
    // THEN within the window only the sample is written, the rest shed, in request order
    const keeper = new LoadShedder(0.5, 1_000);
    const plan = await strategy.plan(records);
    expect(plan.write).toEqual(records.filter((r) => keeper.keeps(r.envelope.id)));
    expect(plan.shed).toEqual(records.filter((r) => !keeper.keeps(r.envelope.id)));
    expect(plan.write.length).toBeGreaterThan(0);
    expect(plan.shed.length).toBeGreaterThan(0);
    // AND after the window everything is written again
    now = 1_000;
    expect((await strategy.plan(records)).shed).toEqual([]);
    strategy.delivered(3, 1);
    expect(sampled).toEqual([[3, 1]]);
  });

  test('does not shed an outage or a misconfiguration: the request is refused, 503 with the default Retry-After', () => {
    const strategy = backpressureStrategy(sample, { now: () => 0 });
    expect(strategy.divert('outage')).toBeUndefined();
    expect(strategy.divert('misconfigured')).toBeUndefined();
    expect(strategy.retryAfterSeconds).toBe(OUTAGE_RETRY_AFTER_SECONDS);
  });
});

describe('queueAndSlowAccept', () => {
  test('spills what the stream refused, and everything for the queue window after, so nothing overtakes it', async () => {
    let now = 0;
    const strategy = backpressureStrategy(queue, { now: () => now, spill: spillQueue(0) });
    expect(await strategy.plan(records)).toEqual({ write: records, spill: [], shed: [] });
    expect(strategy.divert('outage')).toBe('spill');
    expect(await strategy.plan(records)).toEqual({ write: [], spill: records, shed: [] });
    now = 1_000;
    expect((await strategy.plan(records)).write).toEqual(records);
  });

  test('joins a backlog another container left in the queue, asking for it at most every 5 seconds', async () => {
    let now = 0;
    const target = spillQueue(3);
    const strategy = backpressureStrategy(queue, { now: () => now, spill: target });
    expect((await strategy.plan(records)).spill).toEqual(records);
    now = 4_999;
    await strategy.plan(records);
    expect(target.backlogCalls).toBe(1);
    now = 5_000;
    await strategy.plan(records);
    expect(target.backlogCalls).toBe(2);
  });

  test('refuses a request the stream refused as misconfigured: that is no load to queue', () => {
    const strategy = backpressureStrategy(queue, { now: () => 0, spill: spillQueue(0) });
    expect(strategy.divert('misconfigured')).toBeUndefined();
    expect(strategy.retryAfterSeconds).toBe(9);
  });

  test('fails when created without a spill queue', () => {
    expect(() => backpressureStrategy(queue, { now: () => 0 })).toThrow(/needs a spill queue/);
  });
});
