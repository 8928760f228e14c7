import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ConfigError, readConfigDocument } from '../common/config-document';
import { StreamWriteFailure, type WriteRecord, type WriteReport } from '../common/kinesis-writer';
import { decodeSpillMessage, SpillMessageError } from '../ingest/spill';

/** Bumped whenever the drain's configuration document changes shape. */
export const DRAIN_CONFIG_VERSION = 1;

/** What the construct hands the drain function, as JSON in CONFIG_ENV_VAR. */
export interface DrainConfig {
  readonly version: typeof DRAIN_CONFIG_VERSION;
  /** The streams the drain may write to. A message naming any other is poison. */
  readonly streamNames: readonly string[];
  /** PutRecords attempts per call, the first one included. */
  readonly maxAttempts: number;
  /** Time that retries of one batch may take in all. */
  readonly retryBudgetMs: number;
  /** No PutRecords call starts later than this after the batch began. */
  readonly writeDeadlineMs: number;
}

/** Parses and validates the drain's configuration document. Throws ConfigError. */
export function parseDrainConfig(json: string | undefined): DrainConfig {
  const { streamNames, maxAttempts, retryBudgetMs, writeDeadlineMs } = readConfigDocument(json, DRAIN_CONFIG_VERSION, 'this drain reads version');
  if (!Array.isArray(streamNames) || streamNames.length === 0 || !streamNames.every((s) => typeof s === 'string' && s !== '')) {
    throw new ConfigError('streamNames must be a non-empty list of stream names');
  }
  for (const [key, value] of Object.entries({ maxAttempts, retryBudgetMs, writeDeadlineMs })) {
    if (!Number.isInteger(value) || (value as number) < 1) throw new ConfigError(`${key} must be a whole number of at least 1`);
  }
  return {
    version: DRAIN_CONFIG_VERSION,
    streamNames: streamNames as string[],
    maxAttempts: maxAttempts as number,
    retryBudgetMs: retryBudgetMs as number,
    writeDeadlineMs: writeDeadlineMs as number,
  };
}

/** The slice of Powertools' Logger the drain uses. Attributes never hold a body, a record or a key. */
export interface DrainLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface DrainDependencies {
  readonly config: DrainConfig;
  readonly writer: { write(records: readonly WriteRecord[], streamName: string): Promise<WriteReport> };
  readonly logger: DrainLogger;
}

export type DrainHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

interface Pending {
  readonly index: number;
  readonly message: SQSRecord;
  readonly group: string;
  readonly streamName: string;
  readonly record: WriteRecord;
}

/**
 * Moves a batch of spilled messages from the FIFO queue into their streams.
 *
 * Messages are written in the order SQS handed them over, one PutRecords plan per stream (the
 * writer keeps the order per partition key and retries only failed records). The answer lists,
 * as batchItemFailures, every message not written and, for FIFO order, every later message of
 * the same message group, written or not: SQS hands them over again, in order. A later message
 * that had been written is then written again (at-least-once), which only happens when one group
 * spans two streams or two keys.
 *
 * A message that is not a spilled record, or names a stream this drain does not serve, is poison:
 * it is reported failed, so SQS moves it to the dead-letter queue after maxReceiveCount receives.
 * Only its messageId is logged, never its body.
 */
export function createDrainHandler(deps: DrainDependencies): DrainHandler {
  const streams = new Set(deps.config.streamNames);

  return async (event) => {
    const messages = event.Records;
    // The position of the first message of each group that is not in its stream.
    const failedFrom = new Map<string, number>();
    const blocked = (group: string, index: number) => (failedFrom.get(group) ?? Infinity) <= index;
    const failAt = (group: string, index: number) => {
      if (!blocked(group, index)) failedFrom.set(group, index);
    };
    const pending: Pending[] = [];
    let poison = 0;

    messages.forEach((message, index) => {
      const group = message.attributes?.MessageGroupId ?? message.messageId;
      if (blocked(group, index)) return;
      let problem: string | undefined;
      try {
        const decoded = decodeSpillMessage(message.body);
        if (streams.has(decoded.streamName)) {
          pending.push({ index, message, group, streamName: decoded.streamName, record: { partitionKey: decoded.partitionKey, data: decoded.data } });
          return;
        }
        problem = 'unknownStream';
      } catch (error) {
        if (!(error instanceof SpillMessageError)) throw error;
        problem = error.problem;
      }
      poison += 1;
      failAt(group, index);
      deps.logger.error('poison message; it goes to the dead-letter queue after maxReceiveCount receives', {
        messageId: message.messageId,
        receiveCount: Number(message.attributes?.ApproximateReceiveCount ?? 0),
        problem,
      });
    });

    // One stream after another, in the order they first appear; each write keeps its records' order.
    const byStream = new Map<string, Pending[]>();
    for (const p of pending) {
      const list = byStream.get(p.streamName);
      if (list === undefined) byStream.set(p.streamName, [p]);
      else list.push(p);
    }
    let written = 0;
    let calls = 0;
    let retried = 0;
    for (const [streamName, list] of byStream) {
      const toWrite = list.filter((p) => !blocked(p.group, p.index));
      if (toWrite.length === 0) continue;
      const owner = new Map(toWrite.map((p) => [p.record, p]));
      try {
        const report = await deps.writer.write(toWrite.map((p) => p.record), streamName);
        written += report.written;
        calls += report.calls;
        retried += report.retried;
      } catch (error) {
        if (!(error instanceof StreamWriteFailure)) throw error;
        written += error.report.written;
        calls += error.report.calls;
        retried += error.report.retried;
        for (const record of error.unwritten) {
          const p = owner.get(record);
          // Never guess: a record the writer does not name back fails its whole stream's share.
          if (p === undefined) toWrite.forEach((q) => failAt(q.group, q.index));
          else failAt(p.group, p.index);
        }
        deps.logger.warn('stream write failed; the messages not written go back to the queue', {
          streamName,
          reason: error.reason,
          unwritten: error.unwritten.length,
          written: error.report.written,
          causeName: error.cause instanceof Error ? error.cause.name : undefined,
        });
      }
    }

    const batchItemFailures = messages
      .filter((message, index) => blocked(message.attributes?.MessageGroupId ?? message.messageId, index))
      .map((message) => ({ itemIdentifier: message.messageId }));
    deps.logger.info('drained', {
      received: messages.length,
      written,
      failed: batchItemFailures.length,
      poison,
      calls,
      retried,
    });
    return { batchItemFailures };
  };
}
