import { DependencyUnavailableError, StreamThrottledError } from '../../../lambda/common/errors';
import { StreamWriteFailure, type WriteRecord } from '../../../lambda/common/kinesis-writer';
import type { HandlerLogger } from '../../../lambda/common/logger';
import { backpressureStrategy } from '../../../lambda/ingest/backpressure';
import { EventClaims } from '../../../lambda/ingest/dedup-claim';
import type { Claim } from '../../../lambda/ingest/dedup';
import { deliver, type Deliverer, type StreamWriter } from '../../../lambda/ingest/deliver';
import type { OutgoingRecord } from '../../../lambda/ingest/envelope';
import { SpillFailure, type SpillRecord } from '../../../lambda/ingest/spill';

const record = (id: string, streamName: string): OutgoingRecord => ({ envelope: { id } as OutgoingRecord['envelope'], streamName, partitionKey: id, data: Buffer.from(id) });
// Two streams: a route sends b-* elsewhere.
const records = [record('a1', 'main'), record('b1', 'routed'), record('a2', 'main'), record('b2', 'routed')];
const silent: HandlerLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const REPORT = { written: 0, calls: 1, retried: 0 };

/** A writer that takes `main` and fails `routed` for `reason`. */
function failingRouted(reason: 'throttled' | 'outage'): StreamWriter & { calls: string[] } {
  return {
    calls: [],
    async write(batch: readonly WriteRecord[], streamName?: string) {
      this.calls.push(streamName ?? '');
      if (streamName === 'routed') throw new StreamWriteFailure(reason, batch, REPORT, 'ProvisionedThroughputExceededException');
      return { written: batch.length, calls: 1, retried: 0 };
    },
  };
}

/** Dedup claims that record what they were asked. */
function claimsLog(): { claims: EventClaims; asked: string[] } {
  const asked: string[] = [];
  const store = {
    claim: async () => { throw new Error('not used'); },
    complete: async (ids: readonly string[]) => { asked.push(`complete ${ids.join(',')}`); },
    release: async (ids: readonly string[]) => { asked.push(`release ${ids.join(',')}`); },
  };
  return { claims: new EventClaims(store, 'src', 30), asked };
}
const claim: Claim = { claimed: ['src#a1', 'src#b1', 'src#a2', 'src#b2'], duplicates: [], busy: [], token: 't' };

describe('deliver', () => {
  test('with reject-with-429, a throttled stream fails the request and releases every claim', async () => {
    const { claims, asked } = claimsLog();
    const deliverer: Deliverer = { writer: failingRouted('throttled'), strategy: backpressureStrategy({ kind: 'rejectWith429', retryAfterSeconds: 5, maxAttempts: 1, retryBudgetMs: 1 }, { now: () => 0 }), claims };
    await expect(deliver(deliverer, records, claim, silent, {})).rejects.toThrow(StreamThrottledError);
    expect(asked).toEqual(['release src#a1,src#b1,src#a2,src#b2']);
  });

  test('with sample-or-shed, what a throttled stream did not take is shed, its claims released, the rest completed', async () => {
    // GIVEN a source that sheds, whose routed stream throttles
    const { claims, asked } = claimsLog();
    const sampled: number[][] = [];
    const strategy = backpressureStrategy({ kind: 'sampleOrShed', keepFraction: 0.5, pressureWindowMs: 1_000, maxAttempts: 1, retryBudgetMs: 1 }, { now: () => 0, metrics: { sampled: (w, s) => sampled.push([w, s]) } });
    // WHEN the request is delivered
    const delivery = await deliver({ writer: failingRouted('throttled'), strategy, claims }, records, claim, silent, {});
    // THEN the main stream's records count as delivered, the routed ones as shed
    expect(delivery.delivered.map((r) => r.envelope.id)).toEqual(['a1', 'a2']);
    expect(delivery.shed.map((r) => r.envelope.id)).toEqual(['b1', 'b2']);
    expect(asked).toEqual(['release src#b1,src#b2', 'complete src#a1,src#a2']);
    expect(sampled).toEqual([[2, 2]]);
  });

  test('with queue-and-slow-accept, what a failing stream did not take is queued, in request order', async () => {
    const spilled: SpillRecord[] = [];
    const queue = { backlog: async () => 0, spill: async (batch: readonly SpillRecord[]) => { spilled.push(...batch); return { queued: batch.length } as never; } };
    const strategy = backpressureStrategy({ kind: 'queueAndSlowAccept', queueUrl: 'q', queueWindowMs: 1_000, retryAfterSeconds: 5, maxAttempts: 1, retryBudgetMs: 1 }, { now: () => 0, spill: queue });
    const delivery = await deliver({ writer: failingRouted('outage'), strategy }, records, undefined, silent, {});
    expect(spilled.map((r) => [r.dedupId, r.streamName])).toEqual([['b1', 'routed'], ['b2', 'routed']]);
    expect(delivery.delivered.map((r) => r.envelope.id)).toEqual(['a1', 'a2', 'b1', 'b2']);
    expect(delivery.queued).toBe(2);
  });

  test('when neither the stream nor the queue takes the records, an outage names the stream (503)', async () => {
    const { claims, asked } = claimsLog();
    const queue = { backlog: async () => 0, spill: async (batch: readonly SpillRecord[]) => { throw new SpillFailure('throttled', batch, { queued: 0 } as never, 'busy'); } };
    const strategy = backpressureStrategy({ kind: 'queueAndSlowAccept', queueUrl: 'q', queueWindowMs: 1_000, retryAfterSeconds: 5, maxAttempts: 1, retryBudgetMs: 1 }, { now: () => 0, spill: queue });
    const refusal = deliver({ writer: failingRouted('outage'), strategy, claims }, records, claim, silent, {});
    await expect(refusal).rejects.toThrow(DependencyUnavailableError);
    await expect(refusal).rejects.toThrow(/Kinesis stream/);
    expect(asked).toEqual(['release src#a1,src#b1,src#a2,src#b2']);
  });
});
