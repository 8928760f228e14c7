import { createHash } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageBatchCommand, type SendMessageBatchResultEntry, type BatchResultErrorEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { isRetriable } from '../common/kinesis-writer';

/**
 * SQS limits the spill respects, as documented in @aws-sdk/client-sqs 3.1162
 * (SendMessageBatchCommand, SendMessageBatchRequestEntry, CreateQueue's MaximumMessageSize).
 */
export const SQS_LIMITS = {
  /** Entries in one SendMessageBatch call. */
  maxEntriesPerBatch: 10,
  /** Bytes of one message, body plus attributes (1 MiB); a queue's MaximumMessageSize may be lower. */
  maxMessageBytes: 1_048_576,
  /** Bytes of all the messages of one SendMessageBatch call, added up (1 MiB). */
  maxBatchBytes: 1_048_576,
  /** Characters of a MessageGroupId or a MessageDeduplicationId. */
  maxIdLength: 128,
  /** How long a FIFO queue remembers a MessageDeduplicationId. */
  deduplicationWindowMs: 5 * 60 * 1000,
} as const;

/** The `v` of every spilled message body. The drain refuses any other. */
export const SPILL_MESSAGE_VERSION = 1;

/** One record that the stream did not take, on its way to the spill queue. */
export interface SpillRecord {
  readonly streamName: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  /**
   * The event id. It names the record: a record with the same stream and dedupId, spilled within
   * 5 minutes of another, is taken by SQS as a repeat of it and dropped.
   */
  readonly dedupId: string;
}

/** A spilled message's body, decoded. */
export interface SpilledRecord {
  readonly streamName: string;
  readonly partitionKey: string;
  readonly data: Buffer;
}

/** The JSON body of a spilled message. */
interface SpillMessageBody {
  readonly v: typeof SPILL_MESSAGE_VERSION;
  readonly streamName: string;
  readonly partitionKey: string;
  /** The record's bytes, base64. */
  readonly data: string;
}

/** Alphanumeric characters and punctuation: printable ASCII without the space. */
const SQS_ID = /^[\x21-\x7e]{1,128}$/;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The MessageGroupId of a partition key: the key itself when SQS accepts it (at most 128
 * characters of alphanumerics and punctuation), else its SHA-256 in hex. Deterministic, so every
 * record of a key lands in one group. Two keys that share a group only lose some parallelism,
 * never order.
 */
export function messageGroupIdOf(partitionKey: string): string {
  return SQS_ID.test(partitionKey) ? partitionKey : sha256Hex(partitionKey);
}

/**
 * The MessageDeduplicationId of a record: the SHA-256 of its stream and event id, in hex (64
 * characters). The same event spilled again within 5 minutes gets the same id, so SQS keeps one.
 * Always hashed, so two different events can never share an id (which would drop one).
 */
export function deduplicationIdOf(record: Pick<SpillRecord, 'streamName' | 'dedupId'>): string {
  return sha256Hex(`${record.streamName}\n${record.dedupId}`);
}

/** The body of a spilled message: `{"v":1,"streamName":…,"partitionKey":…,"data":"<base64>"}`. */
export function encodeSpillMessage(record: Pick<SpillRecord, 'streamName' | 'partitionKey' | 'data'>): string {
  const body: SpillMessageBody = {
    v: SPILL_MESSAGE_VERSION,
    streamName: record.streamName,
    partitionKey: record.partitionKey,
    data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString('base64'),
  };
  return JSON.stringify(body);
}

/** Why a message body is not a spilled record. Never quotes the body. */
export type SpillMessageProblem = 'notJson' | 'notObject' | 'version' | 'streamName' | 'partitionKey' | 'data';

/** A message body that is not a spilled record: a poison message. Its message never quotes the body. */
export class SpillMessageError extends Error {
  constructor(readonly problem: SpillMessageProblem) {
    super(`not a spilled record: ${problem}`);
    this.name = 'SpillMessageError';
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Reads a spilled message's body. Throws SpillMessageError. */
export function decodeSpillMessage(body: string): SpilledRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    // V8's message quotes the body: never keep it.
    throw new SpillMessageError('notJson');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new SpillMessageError('notObject');
  const { v, streamName, partitionKey, data } = doc as Record<string, unknown>;
  if (v !== SPILL_MESSAGE_VERSION) throw new SpillMessageError('version');
  if (typeof streamName !== 'string' || streamName === '') throw new SpillMessageError('streamName');
  // Kinesis partition keys are 1 to 256 Unicode characters.
  if (typeof partitionKey !== 'string' || partitionKey === '' || [...partitionKey].length > 256) throw new SpillMessageError('partitionKey');
  if (typeof data !== 'string' || !BASE64.test(data)) throw new SpillMessageError('data');
  return { streamName, partitionKey, data: Buffer.from(data, 'base64') };
}

export interface SpillOptions {
  readonly queueUrl: string;
  /** SendMessageBatch attempts per batch, the first one included. @default 4 */
  readonly maxAttempts?: number;
  /** No call or retry starts later than this after the spill began. @default 5000 */
  readonly deadlineMs?: number;
  /** Batches of one wave in flight at once (they never share a message group). @default 4 */
  readonly concurrency?: number;
  /** The queue's MaximumMessageSize. @default SQS_LIMITS.maxMessageBytes */
  readonly maxMessageBytes?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface SpillReport {
  /** Records the queue confirmed, duplicates it dropped included. */
  readonly queued: number;
  readonly calls: number;
  /** Entries sent again after a failure. */
  readonly retried: number;
}

/**
 * Not every record is confirmed queued. `unsent` lists them in request order; every other record
 * is in the queue. A record listed may still be in the queue when an answer was lost; a re-spill
 * within 5 minutes is then dropped by SQS as a duplicate.
 *
 * - `tooLarge`: a record does not fit in one SQS message; nothing was sent.
 * - `throttled`: SQS kept throttling or failing within the attempts and the deadline.
 * - `unavailable`: SQS refused in a way retrying does not fix (a missing queue, denied access or
 *   KMS key, an entry rejected as the sender's fault).
 */
export class SpillFailure extends Error {
  constructor(
    readonly reason: 'tooLarge' | 'throttled' | 'unavailable',
    readonly unsent: readonly SpillRecord[],
    readonly report: SpillReport,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SpillFailure';
  }
}

const SQS_RETRIABLE = new Set(['RequestThrottled', 'KmsThrottled', 'InternalError', 'ServiceUnavailable', 'OverLimit']);

function isRetriableSqsError(error: unknown): boolean {
  return error instanceof Error && (SQS_RETRIABLE.has(error.name) || isRetriable(error));
}

interface Entry {
  readonly index: number;
  readonly record: SpillRecord;
  readonly body: string;
  readonly bytes: number;
  readonly groupId: string;
  readonly dedupId: string;
}

function toEntry(record: SpillRecord, index: number): Entry {
  const body = encodeSpillMessage(record);
  return { index, record, body, bytes: Buffer.byteLength(body, 'utf8'), groupId: messageGroupIdOf(record.partitionKey), dedupId: deduplicationIdOf(record) };
}

/**
 * Splits entries into waves of SendMessageBatch calls:
 * - at most 10 entries and 1 MiB of bodies per call;
 * - at most one message per group per wave: the n-th message of each group goes in the n-th wave,
 *   and a wave starts only once the one before it is fully queued. A failed entry is retried
 *   alone, so a group's later message is never queued ahead of an earlier one.
 */
function planWaves(entries: readonly Entry[]): Entry[][][] {
  const waves: Entry[][] = [];
  const seen = new Map<string, number>();
  for (const entry of entries) {
    const wave = seen.get(entry.groupId) ?? 0;
    seen.set(entry.groupId, wave + 1);
    (waves[wave] ??= []).push(entry);
  }
  return waves.map((wave) => {
    const batches: Entry[][] = [];
    let batch: Entry[] = [];
    let bytes = 0;
    for (const entry of wave) {
      if (batch.length === SQS_LIMITS.maxEntriesPerBatch || (batch.length > 0 && bytes + entry.bytes > SQS_LIMITS.maxBatchBytes)) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(entry);
      bytes += entry.bytes;
    }
    if (batch.length > 0) batches.push(batch);
    return batches;
  });
}

/** The SendMessageBatch calls a spill makes, wave by wave, when nothing fails. */
export function planSpill(records: readonly SpillRecord[]): SpillRecord[][][] {
  return planWaves(records.map(toEntry)).map((wave) => wave.map((batch) => batch.map((e) => e.record)));
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Queues records that the stream did not take on a FIFO queue: one message per record, grouped
 * by partition key, deduplicated by event id. Resolves once every record is confirmed queued;
 * throws SpillFailure otherwise.
 */
export class SpillQueue {
  private readonly maxAttempts: number;
  private readonly deadlineMs: number;
  private readonly concurrency: number;
  private readonly maxMessageBytes: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly client: Pick<SQSClient, 'send'>, private readonly options: SpillOptions) {
    this.maxAttempts = options.maxAttempts ?? 4;
    this.deadlineMs = options.deadlineMs ?? 5_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.maxMessageBytes = Math.min(options.maxMessageBytes ?? SQS_LIMITS.maxMessageBytes, SQS_LIMITS.maxMessageBytes);
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.maxDelayMs = options.maxDelayMs ?? 1_000;
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /**
   * How many messages the queue holds, visible or being drained. SQS reports it approximately:
   * a message sent in the last moments may not be counted yet.
   */
  async backlog(): Promise<number> {
    const { Attributes = {} } = await this.client.send(new GetQueueAttributesCommand({
      QueueUrl: this.options.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }));
    return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  async spill(records: readonly SpillRecord[]): Promise<SpillReport> {
    const entries = records.map(toEntry);
    const oversize = entries.filter((e) => e.bytes > this.maxMessageBytes);
    if (oversize.length > 0) {
      const first = oversize[0];
      throw new SpillFailure('tooLarge', records, { queued: 0, calls: 0, retried: 0 },
        `record ${first.index} is ${first.bytes} bytes as an SQS message (${first.record.data.byteLength} bytes of data, base64); `
        + `a message holds at most ${this.maxMessageBytes}; ${oversize.length} record(s) too large, nothing was queued`);
    }

    const deadline = this.now() + this.deadlineMs;
    const queued = new Set<number>();
    const state = { calls: 0, retried: 0, failure: undefined as undefined | { reason: 'throttled' | 'unavailable'; message: string; cause?: unknown } };
    const fail = (reason: 'throttled' | 'unavailable', message: string, cause?: unknown) => {
      state.failure ??= { reason, message, cause };
    };

    const sendBatch = async (batch: readonly Entry[]): Promise<void> => {
      let pending = batch;
      let lastCause: unknown;
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (state.failure !== undefined) return;
        if (attempt > 1) {
          const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 2)) * this.random();
          if (attempt > this.maxAttempts || this.now() + delay > deadline) {
            fail('throttled', `SendMessageBatch kept failing after ${attempt - 1} attempt(s)`, lastCause);
            return;
          }
          state.retried += pending.length;
          await this.sleep(delay);
        }
        if (this.now() > deadline) {
          fail('throttled', `the spill deadline of ${this.deadlineMs} ms passed`, lastCause);
          return;
        }
        state.calls += 1;
        let successful: SendMessageBatchResultEntry[];
        let failed: BatchResultErrorEntry[];
        try {
          const response = await this.client.send(new SendMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: pending.map((e) => ({
              Id: String(e.index),
              MessageBody: e.body,
              MessageGroupId: e.groupId,
              MessageDeduplicationId: e.dedupId,
            })),
          }));
          successful = response.Successful ?? [];
          failed = response.Failed ?? [];
        } catch (error) {
          if (!isRetriableSqsError(error)) {
            fail('unavailable', `SendMessageBatch failed: ${error instanceof Error ? error.name : typeof error}`, error);
            return;
          }
          lastCause = error;
          continue;
        }
        const ok = new Set(successful.map((s) => s.Id));
        for (const e of pending) if (ok.has(String(e.index))) queued.add(e.index);
        const rejected = failed.filter((f) => f.SenderFault === true);
        if (rejected.length > 0) {
          fail('unavailable', `SQS rejected ${rejected.length} entr${rejected.length === 1 ? 'y' : 'ies'}: ${[...new Set(rejected.map((f) => f.Code))].join(', ')}`);
          return;
        }
        // Failed entries, and any the answer does not mention, go again; their ids make that safe.
        pending = pending.filter((e) => !ok.has(String(e.index)));
        if (pending.length > 0) lastCause = new Error(`SendMessageBatch failed ${pending.length} entr${pending.length === 1 ? 'y' : 'ies'}: ${[...new Set(failed.map((f) => f.Code))].join(', ')}`);
      }
    };

    for (const wave of planWaves(entries)) {
      let next = 0;
      const worker = async () => {
        while (next < wave.length && state.failure === undefined) await sendBatch(wave[next++]);
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, wave.length) }, worker));
      if (state.failure !== undefined) break;
    }

    const report = { queued: queued.size, calls: state.calls, retried: state.retried };
    if (state.failure !== undefined) {
      const unsent = records.filter((_, i) => !queued.has(i));
      throw new SpillFailure(state.failure.reason, unsent, report,
        `spill ${state.failure.reason}: ${unsent.length} record(s) not queued; ${state.failure.message}`, { cause: state.failure.cause });
    }
    return report;
  }
}
