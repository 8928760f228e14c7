import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { KINESIS_LIMITS } from '../common/kinesis-limits';
import { errorCodeOf } from '../common/errors';
import type { HandlerLogger } from '../common/logger';
import { StreamWriteFailure, type WriteRecord, type WriteReport } from '../common/kinesis-writer';
import { decodeSpillMessage, SpillMessageError, type SpillMessageProblem } from '../common/spill-message';
import type { DrainConfig } from './config';
import { receiveCountOf } from './dead-letter';

export interface DrainDependencies {
  readonly config: DrainConfig;
  readonly writer: { write(records: readonly WriteRecord[], streamName: string): Promise<WriteReport> };
  /** Sends a poison message to the dead-letter queue with its reason (see DeadLetterSender). */
  readonly deadLetters: { send(message: SQSRecord, reason: PoisonReason): Promise<void> };
  /** Attributes never hold a body, a record or a key. */
  readonly logger: HandlerLogger;
}

export type DrainHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * Why a message can never be written: its body is not a spilled record (a SpillMessageProblem),
 * it names a stream this drain does not serve, or Kinesis would refuse its record whatever the
 * retry (larger than a record may be).
 */
export type PoisonReason = SpillMessageProblem | 'unknownStream' | 'recordTooLarge';

/** What became of one message of the batch. */
type Outcome =
  | { readonly kind: 'toWrite'; readonly streamName: string; readonly record: WriteRecord }
  | { readonly kind: 'written' }
  | { readonly kind: 'deadLettered' }
  /** Not written, or not dead-lettered, for now: SQS hands it over again. */
  | { readonly kind: 'retry'; readonly cause: string };

/** A message to write, by its position in the batch. */
interface Pending {
  readonly index: number;
  readonly record: WriteRecord;
}

/** A message that goes back to the queue. Its message is a cause code, never a body. */
class RetryLaterError extends Error {
  constructor(cause: string) {
    super(`not drained, retried later: ${cause}`);
    this.name = 'RetryLaterError';
  }
}

const groupOf = (message: SQSRecord) => message.attributes?.MessageGroupId ?? message.messageId;

/** A message's record, or why it is poison. */
function readMessage(message: SQSRecord, streams: ReadonlySet<string>): { streamName: string; record: WriteRecord } | { poison: PoisonReason } {
  try {
    const { streamName, partitionKey, data } = decodeSpillMessage(message.body);
    if (!streams.has(streamName)) return { poison: 'unknownStream' };
    // Kinesis refuses the whole PutRecords call for one such record, every time.
    if (data.length + Buffer.byteLength(partitionKey, 'utf8') > KINESIS_LIMITS.maxBytesPerRecord) return { poison: 'recordTooLarge' };
    return { streamName, record: { partitionKey, data } };
  } catch (error) {
    if (error instanceof SpillMessageError) return { poison: error.problem };
    throw error;
  }
}

/** The messages of one batch, what became of each, and which groups may not go on. */
class BatchState {
  readonly outcomes = new Map<string, Outcome>();
  /** The position of the first message of each group that goes back to the queue. */
  private readonly failedFrom = new Map<string, number>();
  readonly totals = { written: 0, calls: 0, retried: 0, poison: 0 };
  /** Why the dead-letter queue did not take a message, once it did not: no other is tried. */
  deadLetterFailure?: string;

  constructor(readonly messages: readonly SQSRecord[]) {}

  blocked(index: number): boolean {
    return (this.failedFrom.get(groupOf(this.messages[index])) ?? Infinity) <= index;
  }

  settle(index: number, outcome: Outcome): void {
    this.outcomes.set(this.messages[index].messageId, outcome);
    const group = groupOf(this.messages[index]);
    if (outcome.kind === 'retry' && !this.blocked(index)) this.failedFrom.set(group, index);
  }

  count(report: WriteReport): void {
    this.totals.written += report.written;
    this.totals.calls += report.calls;
    this.totals.retried += report.retried;
  }
}

/**
 * Moves a batch of spilled messages from the FIFO queue into their streams, in three steps:
 *
 * 1. Each message is read. A poison message (see PoisonReason) is sent to the dead-letter queue
 *    with its reason, right away, so that the messages after it in its group can be written; when
 *    that send fails, the message and every later one of its group go back to the queue (and so
 *    does every later poison message of the batch, without a try).
 * 2. The rest is written in the order SQS handed it over, one PutRecords plan per stream, in the
 *    order the streams first appear (the writer keeps the order per partition key, at most 500
 *    records and 5 MiB per call, and retries only failed records). A message whose group already
 *    failed is not written.
 * 3. Powertools' FIFO batch processor settles each message in order: written or dead-lettered is
 *    done; anything else fails, and with `skipGroupOnError` so does every later message of its
 *    group, and only of its group. SQS hands those over again, in order. A later message that had
 *    been written is then written again (at least once), which only happens when one group spans
 *    two streams or two keys; a later poison message is sent to the dead-letter queue again, which
 *    drops the repeat within 5 minutes.
 *
 * No body, record or key is ever logged: a poison message is logged by its messageId and reason.
 */
export function createDrainHandler(deps: DrainDependencies): DrainHandler {
  const drain = new Drain(deps);
  return (event) => drain.drainBatch(event);
}

/** The steps of createDrainHandler, over the dependencies they share. */
class Drain {
  private readonly streams: ReadonlySet<string>;

  constructor(private readonly deps: DrainDependencies) {
    this.streams = new Set(deps.config.streamNames);
  }

  async drainBatch(event: SQSEvent): Promise<SQSBatchResponse> {
    const batch = new BatchState(event.Records);
    await this.readAll(batch);
    await this.writeAll(batch);
    const response = await settleInOrder(event, batch);
    this.deps.logger.info('drained', {
      received: batch.messages.length,
      written: batch.totals.written,
      failed: response.batchItemFailures.length,
      poison: batch.totals.poison,
      calls: batch.totals.calls,
      retried: batch.totals.retried,
    });
    return response;
  }

  /** Step 1: reads each message not blocked by its group, and sends poison to the dead-letter queue. */
  private async readAll(batch: BatchState): Promise<void> {
    for (const [index, message] of batch.messages.entries()) {
      if (batch.blocked(index)) continue;
      const read = readMessage(message, this.streams);
      if ('poison' in read) await this.deadLetter(batch, index, read.poison);
      else batch.settle(index, { kind: 'toWrite', ...read });
    }
  }

  private async deadLetter(batch: BatchState, index: number, reason: PoisonReason): Promise<void> {
    const message = batch.messages[index];
    const attributes = { messageId: message.messageId, receiveCount: receiveCountOf(message), problem: reason };
    // One failed send is enough: the batch does not spend its time on a queue that is down.
    if (batch.deadLetterFailure === undefined) {
      try {
        await this.deps.deadLetters.send(message, reason);
      } catch (error) {
        batch.deadLetterFailure = errorCodeOf(error) ?? 'unknown';
      }
    }
    if (batch.deadLetterFailure !== undefined) {
      this.deps.logger.error('poison message not sent to the dead-letter queue; it goes back to the queue', { ...attributes, cause: batch.deadLetterFailure });
      batch.settle(index, { kind: 'retry', cause: `DeadLetterSend ${batch.deadLetterFailure}` });
      return;
    }
    batch.totals.poison += 1;
    this.deps.logger.error('poison message sent to the dead-letter queue', attributes);
    batch.settle(index, { kind: 'deadLettered' });
  }

  /** Step 2: writes the messages read, one plan per stream, in the order the streams first appear. */
  private async writeAll(batch: BatchState): Promise<void> {
    for (const [streamName, pending] of pendingByStream(batch)) await this.writeStream(batch, streamName, pending);
  }

  private async writeStream(batch: BatchState, streamName: string, pending: readonly Pending[]): Promise<void> {
    const toWrite = pending.filter((p) => !batch.blocked(p.index));
    if (toWrite.length === 0) return;
    try {
      batch.count(await this.deps.writer.write(toWrite.map((p) => p.record), streamName));
      for (const p of toWrite) batch.settle(p.index, { kind: 'written' });
    } catch (error) {
      if (!(error instanceof StreamWriteFailure)) throw error;
      settleFailedWrite(batch, toWrite, error);
      this.deps.logger.warn('stream write failed; the messages not written go back to the queue', {
        streamName,
        reason: error.reason,
        // The failure's error code (a record's ErrorCode, or the call's), never a message.
        cause: error.causeCode,
        unwritten: error.unwritten.length,
        written: error.report.written,
      });
    }
  }
}

/** The messages to write, by stream, in the order the streams first appear. */
function pendingByStream(batch: BatchState): Map<string, Pending[]> {
  const byStream = new Map<string, Pending[]>();
  batch.messages.forEach((message, index) => {
    const outcome = batch.outcomes.get(message.messageId);
    if (outcome?.kind !== 'toWrite') return;
    const p = { index, record: outcome.record };
    const list = byStream.get(outcome.streamName);
    if (list === undefined) byStream.set(outcome.streamName, [p]);
    else list.push(p);
  });
  return byStream;
}

/** Settles a stream's share after a failed write: the records the writer names back go back to the queue. */
function settleFailedWrite(batch: BatchState, toWrite: readonly Pending[], error: StreamWriteFailure): void {
  batch.count(error.report);
  const unwritten = new Set(error.unwritten);
  // Never guess: a record the writer does not name back fails the whole stream's share.
  const ours = new Set(toWrite.map((p) => p.record));
  const all = error.unwritten.some((record) => !ours.has(record));
  const retry: Outcome = { kind: 'retry', cause: `${error.reason} ${error.causeCode}` };
  for (const p of toWrite) batch.settle(p.index, all || unwritten.has(p.record) ? retry : { kind: 'written' });
}

/** Step 3: Powertools' FIFO processor settles each message in order, skipping the rest of a failed group. */
function settleInOrder(event: SQSEvent, batch: BatchState): Promise<SQSBatchResponse> {
  return processPartialResponse(event, async (message: SQSRecord) => {
    const outcome = batch.outcomes.get(message.messageId);
    if (outcome?.kind === 'written' || outcome?.kind === 'deadLettered') return;
    throw new RetryLaterError(outcome?.kind === 'retry' ? outcome.cause : 'an earlier message of its group failed');
  }, new SqsFifoPartialProcessorAsync(), { skipGroupOnError: true, throwOnFullBatchFailure: false });
}
