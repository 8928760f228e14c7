/**
 * The backpressure policies, one strategy object each. A strategy decides, before anything is
 * written, where each record of a request goes (the stream, the spill queue, or nowhere: shed),
 * and, when the stream refuses records, where the rest goes instead; ./deliver carries the plan out.
 */
import type { BackpressureConfig, QueueAndSlowAcceptConfig, RejectWith429Config, SampleOrShedConfig } from './config';
import type { WriteFailureReason } from '../common/kinesis-writer';
import type { OutgoingRecord } from './envelope';
import { LoadShedder, PressureWindow } from './shed';
import type { SpillProducer } from './spill';

/**
 * `Retry-After` of a sample-or-shed source's 503 when the stream is down (it sheds throttling, so
 * it has no `retryAfter` of its own): as long as the other policies' default.
 */
export const OUTAGE_RETRY_AFTER_SECONDS = 30;

/** How often a container asks the spill queue for its backlog. */
const BACKLOG_CHECK_MS = 5_000;

/** Where a request's records go. Each record is in one list, in request order. */
export interface DeliveryPlan {
  /** To the stream (a route's, for some types). */
  readonly write: readonly OutgoingRecord[];
  /** To the spill queue, which the drain empties into the stream in order. */
  readonly spill: readonly OutgoingRecord[];
  /** Nowhere, on purpose: the sample was taken without them. */
  readonly shed: readonly OutgoingRecord[];
}

/** What the stream did not take goes to the queue, is shed, or (undefined) fails the request. */
export type Diversion = 'spill' | 'shed' | undefined;

export type SpillTarget = Pick<SpillProducer, 'spill' | 'backlog'>;

export interface BackpressureStrategy {
  /** Sent with a 429 or a 503 when the stream or the queue did not take the request. */
  readonly retryAfterSeconds: number;
  /** The queue spilled records go to; only a strategy that spills has one. */
  readonly queue?: SpillTarget;
  /** Before any write: where each record goes. */
  plan(records: readonly OutgoingRecord[]): Promise<DeliveryPlan>;
  /** After the stream refused records for `reason`: where they, and the rest, go instead. */
  divert(reason: WriteFailureReason): Diversion;
  /** A request was answered 202, having written (or queued) `written` events and shed `shed`. */
  delivered(written: number, shed: number): void;
}

export interface BackpressureDependencies {
  /** Required with the queue-and-slow-accept policy. */
  readonly spill?: SpillTarget;
  readonly metrics?: { sampled?(written: number, shed: number): void };
  readonly now: () => number;
}

const NONE: readonly OutgoingRecord[] = [];

const allToStream = (records: readonly OutgoingRecord[]): DeliveryPlan => ({ write: records, spill: NONE, shed: NONE });

/** Reject with 429: every record goes to the stream; what it does not take fails the request. */
function rejectWith429(policy: RejectWith429Config): BackpressureStrategy {
  return {
    retryAfterSeconds: policy.retryAfterSeconds,
    plan: async (records) => allToStream(records),
    divert: () => undefined,
    delivered: () => undefined,
  };
}

/** Sample or shed: under pressure, only the sample is written; the rest is shed, on purpose. */
function sampleOrShed(policy: SampleOrShedConfig, deps: BackpressureDependencies): BackpressureStrategy {
  const shedder = new LoadShedder(policy.keepFraction, policy.pressureWindowMs, deps.now);
  return {
    retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS,
    async plan(records) {
      if (!shedder.underPressure()) return allToStream(records);
      const write: OutgoingRecord[] = [];
      const shed: OutgoingRecord[] = [];
      for (const record of records) (shedder.keeps(record.envelope.id) ? write : shed).push(record);
      return { write, spill: NONE, shed };
    },
    divert(reason) {
      // Shed what is left instead of asking for a retry: the sender gets 202 for the sample.
      // Only throttling is shed: an outage is no load to shed, and is answered 503.
      if (reason !== 'throttled') return undefined;
      shedder.notePressure();
      return 'shed';
    },
    // Both, on every request: the loss alarm divides one by the other.
    delivered: (written, shed) => deps.metrics?.sampled?.(written, shed),
  };
}

/**
 * Queue and slow accept: what the stream did not take is spilled to the FIFO queue, and for a
 * window after a spill everything goes there, so that no event overtakes a queued one of its key.
 */
function queueAndSlowAccept(policy: QueueAndSlowAcceptConfig, queue: SpillTarget, now: () => number): BackpressureStrategy {
  const window = new PressureWindow(policy.queueWindowMs, now);
  // While the queue holds a backlog (any container's), new records join it rather than overtake it.
  let backlogCheckedAt = -Infinity;
  let backlog = 0;
  async function queueHasBacklog(): Promise<boolean> {
    if (now() - backlogCheckedAt >= BACKLOG_CHECK_MS) {
      backlog = await queue.backlog().catch(() => backlog);
      backlogCheckedAt = now();
    }
    return backlog > 0;
  }
  return {
    retryAfterSeconds: policy.retryAfterSeconds,
    queue,
    async plan(records) {
      if (records.length > 0 && (window.underPressure() || await queueHasBacklog())) return { write: NONE, spill: records, shed: NONE };
      return allToStream(records);
    },
    divert(reason) {
      // Throttled or failing, the stream's share goes to the queue, and so does everything for a
      // while, so that no record overtakes a queued one. A misconfigured stream is no load.
      if (reason === 'misconfigured') return undefined;
      window.notePressure();
      return 'spill';
    },
    delivered: () => undefined,
  };
}

/** The strategy of a source's policy, with its state for this container. */
export function backpressureStrategy(policy: BackpressureConfig, deps: BackpressureDependencies): BackpressureStrategy {
  switch (policy.kind) {
    case 'rejectWith429':
      return rejectWith429(policy);
    case 'sampleOrShed':
      return sampleOrShed(policy, deps);
    case 'queueAndSlowAccept':
      if (deps.spill === undefined) throw new Error('the queue-and-slow-accept policy needs a spill queue (deps.spill)');
      return queueAndSlowAccept(policy, deps.spill, deps.now);
  }
}
