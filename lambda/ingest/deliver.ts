/**
 * The deliver stage: carries out the plan the backpressure strategy computed. Records go to their
 * streams, one stream after another, each in request order; what a stream does not take goes
 * where the strategy diverts it (the spill queue, or shed), or the request is refused and every
 * claim released, so that a retry writes the records again (at least once, never lost).
 */
import { DependencyUnavailableError, StreamThrottledError, errorCodeOf, type WebhookError } from '../common/errors';
import { StreamWriteFailure, type WriteFailureReason, type WriteRecord, type WriteReport } from '../common/kinesis-writer';
import type { HandlerLogger } from '../common/logger';
import type { BackpressureStrategy, Diversion } from './backpressure';
import type { EventClaims } from './dedup-claim';
import type { Claim } from './dedup';
import type { OutgoingRecord } from './envelope';
import { SpillFailure } from './spill';

export interface StreamWriter {
  write(records: readonly WriteRecord[], streamName?: string): Promise<WriteReport>;
}

/** What delivers a container's requests. */
export interface Deliverer {
  readonly writer: StreamWriter;
  readonly strategy: BackpressureStrategy;
  /** A dedup source's claims. */
  readonly claims?: EventClaims;
}

/** What a request delivered. */
export interface Delivery {
  /** Written to a stream, or durably queued for the drain to write in order: delivered. */
  readonly delivered: readonly OutgoingRecord[];
  /** How many of `delivered` went to the queue. */
  readonly queued: number;
  /** Not written, on purpose. */
  readonly shed: readonly OutgoingRecord[];
  /** PutRecords calls and retries of the writes that succeeded. */
  readonly calls: number;
  readonly retried: number;
}

/** The stream writes of one request: what was written, and what was diverted when a stream refused records. */
interface StreamOutcome {
  written: readonly OutgoingRecord[];
  diverted: readonly OutgoingRecord[];
  diversion: Diversion;
  /** Why the stream did not take this request's records, when it did not. */
  failure?: WriteFailureReason;
  calls: number;
  retried: number;
}

const NONE: readonly OutgoingRecord[] = [];

/** Whether every record goes to one stream, as every record of most requests does. */
function oneStream(records: readonly OutgoingRecord[]): boolean {
  for (let i = 1; i < records.length; i++) if (records[i].streamName !== records[0].streamName) return false;
  return records.length > 0;
}

/** The records of each stream, streams in the order of their first record. */
function groupByStream(records: readonly OutgoingRecord[]): (readonly [string, readonly OutgoingRecord[]])[] {
  if (oneStream(records)) return [[records[0].streamName, records]];
  const groups = new Map<string, OutgoingRecord[]>();
  for (const record of records) {
    const group = groups.get(record.streamName);
    if (group === undefined) groups.set(record.streamName, [record]);
    else group.push(record);
  }
  return [...groups.entries()];
}

async function releaseClaim(deliverer: Deliverer, claim: Claim | undefined): Promise<void> {
  if (claim !== undefined) await deliverer.claims?.releaseAll(claim);
}

/** The answer when the stream refused records and the strategy diverts none: 429 for throttling, else 503. */
function streamRefusal(error: StreamWriteFailure, retryAfterSeconds: number): WebhookError {
  if (error.reason === 'throttled') return new StreamThrottledError(retryAfterSeconds, error.unwritten.length, { cause: error });
  return new DependencyUnavailableError('the Kinesis stream', { cause: error, retryAfterSeconds });
}

/** The records the failed write left, and every record of the streams not yet written, in request order. */
function divertRest(outcome: StreamOutcome, error: StreamWriteFailure, later: readonly (readonly OutgoingRecord[])[]): void {
  const unwritten = new Set<WriteRecord>(error.unwritten);
  for (const group of later) for (const record of group) unwritten.add(record);
  outcome.diverted = outcome.written.filter((r) => unwritten.has(r));
  outcome.written = outcome.written.filter((r) => !unwritten.has(r));
}

async function writeToStreams(
  deliverer: Deliverer,
  records: readonly OutgoingRecord[],
  claim: Claim | undefined,
  logger: HandlerLogger,
  log: Record<string, unknown>,
): Promise<StreamOutcome> {
  const outcome: StreamOutcome = { written: records, diverted: NONE, diversion: undefined, calls: 0, retried: 0 };
  const groups = groupByStream(records);
  for (let g = 0; g < groups.length; g++) {
    const [streamName, group] = groups[g];
    try {
      const written = await deliverer.writer.write(group, streamName);
      outcome.calls += written.calls;
      outcome.retried += written.retried;
    } catch (error) {
      if (!(error instanceof StreamWriteFailure)) {
        await releaseClaim(deliverer, claim);
        throw error;
      }
      // The reason and the error code name the cause; never a message, which may quote a body.
      logger.warn('stream write failed', {
        ...log,
        reason: error.reason,
        cause: error.causeCode,
        unwritten: error.unwritten.length,
        written: error.report.written,
        calls: error.report.calls,
        retried: error.report.retried,
      });
      outcome.failure = error.reason;
      outcome.diversion = deliverer.strategy.divert(error.reason);
      if (outcome.diversion === undefined) {
        // Records already written stay written; the sender retries the whole request.
        await releaseClaim(deliverer, claim);
        throw streamRefusal(error, deliverer.strategy.retryAfterSeconds);
      }
      divertRest(outcome, error, groups.slice(g + 1).map(([, rest]) => rest));
      break;
    }
  }
  return outcome;
}

/** Sends records to the spill queue; refuses the request (and releases its claim) when the queue does not take them. */
async function spillToQueue(
  deliverer: Deliverer,
  records: readonly OutgoingRecord[],
  streamFailure: WriteFailureReason | undefined,
  claim: Claim | undefined,
  logger: HandlerLogger,
  log: Record<string, unknown>,
): Promise<void> {
  const { queue, retryAfterSeconds } = deliverer.strategy;
  if (queue === undefined) throw new Error('records to spill, and no spill queue');
  try {
    await queue.spill(records.map((r) => ({ streamName: r.streamName, partitionKey: r.partitionKey, data: r.data, dedupId: r.envelope.id })));
  } catch (error) {
    if (!(error instanceof SpillFailure)) throw error;
    logger.warn('spill failed', {
      ...log, reason: error.reason, cause: errorCodeOf(error.cause), unsent: error.unsent.length, queued: error.report.queued,
    });
    await releaseClaim(deliverer, claim);
    // A 429 when the queue could take the records again soon (it throttled or failed for a while)
    // and the stream, if it failed at all, was throttling; a refusal or a record too large is a 503.
    if ((error.reason === 'throttled' || error.reason === 'unavailable') && streamFailure !== 'outage') {
      throw new StreamThrottledError(retryAfterSeconds, error.unsent.length, { cause: error });
    }
    // The log lines name both causes; the answer names what the sender depends on first.
    throw new DependencyUnavailableError(streamFailure === 'outage' ? 'the Kinesis stream' : 'the spill queue', { cause: error, retryAfterSeconds });
  }
}

/**
 * Delivers a request's claimed, unique records as the strategy plans. Resolves once every record
 * is written or queued (except those shed on purpose); throws the refusal otherwise.
 */
export async function deliver(
  deliverer: Deliverer,
  records: readonly OutgoingRecord[],
  claim: Claim | undefined,
  logger: HandlerLogger,
  log: Record<string, unknown>,
): Promise<Delivery> {
  const plan = await deliverer.strategy.plan(records);
  const stream = await writeToStreams(deliverer, plan.write, claim, logger, log);
  const spill = stream.diversion === 'spill' ? plan.spill.concat(stream.diverted) : plan.spill;
  const shed = stream.diversion === 'shed' ? plan.shed.concat(stream.diverted) : plan.shed;
  if (spill.length > 0) await spillToQueue(deliverer, spill, stream.failure, claim, logger, log);
  const delivered = spill.length > 0 ? stream.written.concat(spill) : stream.written;
  if (claim !== undefined && shed.length > 0) await deliverer.claims?.release(claim, shed);
  deliverer.strategy.delivered(delivered.length, shed.length);
  if (claim !== undefined && delivered.length > 0) await deliverer.claims?.complete(claim, delivered, logger, log);
  return { delivered, queued: spill.length, shed, calls: stream.calls, retried: stream.retried };
}
