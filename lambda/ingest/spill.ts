import { createHash } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageBatchCommand, type SendMessageBatchResultEntry, type BatchResultErrorEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { Backoff, type BackoffOptions, type RetryLimits } from '../common/backoff';
import { classifyRecordError, classifyWriteError } from '../common/kinesis-writer';
import { encodeSpillMessage } from '../common/spill-message';
import { planWaves } from '../common/waves';

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

export interface SpillOptions extends BackoffOptions {
  readonly queueUrl: string;
  /** SendMessageBatch attempts per batch, the first one included. @default 4 */
  readonly maxAttempts?: number;
  /** No call or retry starts later than this after the spill began. @default 5000 */
  readonly deadlineMs?: number;
  /** Batches of one wave in flight at once (they never share a message group). @default 4 */
  readonly concurrency?: number;
  /** The queue's MaximumMessageSize. @default SQS_LIMITS.maxMessageBytes */
  readonly maxMessageBytes?: number;
}

export interface SpillReport {
  /** Records the queue confirmed, duplicates it dropped included. */
  readonly queued: number;
  readonly calls: number;
  /** Entries sent again after a failure. */
  readonly retried: number;
}

/**
 * Why not every record was queued:
 * - `tooLarge`: a record does not fit in one SQS message; nothing was sent.
 * - `throttled`: SQS kept throttling (RequestThrottled, KmsThrottled, OverLimit, ...) past the
 *   attempts or the deadline.
 * - `unavailable`: SQS kept failing or could not be reached (InternalError, ServiceUnavailable,
 *   5xx, a refused or reset connection, a timeout), or was too slow to answer before the deadline.
 * - `refused`: SQS refused in a way retrying does not fix (a missing queue, denied access or KMS
 *   key, an entry rejected as the sender's fault).
 */
export type SpillFailureReason = 'tooLarge' | 'throttled' | 'unavailable' | 'refused';

/** What went wrong with one SendMessageBatch call or entry. */
type SendFailureKind = Exclude<SpillFailureReason, 'tooLarge'>;

/**
 * Not every record is confirmed queued. `unsent` lists them in request order; every other record
 * is in the queue. A record listed may still be in the queue when an answer was lost; a re-spill
 * within 5 minutes is then dropped by SQS as a duplicate.
 */
export class SpillFailure extends Error {
  constructor(
    readonly reason: SpillFailureReason,
    readonly unsent: readonly SpillRecord[],
    readonly report: SpillReport,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SpillFailure';
  }
}

/** SQS's own names for throttling and for failing; other names are read as Kinesis's are. */
const SQS_THROTTLING_CODES = new Set(['RequestThrottled', 'KmsThrottled', 'OverLimit']);
const SQS_OUTAGE_CODES = new Set(['InternalError', 'ServiceUnavailable']);

/** What a failed SendMessageBatch call says about the queue. */
export function classifySendError(error: unknown): SendFailureKind {
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  if (typeof name === 'string' && SQS_THROTTLING_CODES.has(name)) return 'throttled';
  if (typeof name === 'string' && SQS_OUTAGE_CODES.has(name)) return 'unavailable';
  const kind = classifyWriteError(error);
  return kind === 'throttled' ? 'throttled' : kind === 'outage' ? 'unavailable' : 'refused';
}

/** What an entry SQS failed without blaming the sender says: throttling or failing, retried either way. */
function classifyEntryError(code: string | undefined): SendFailureKind {
  return code !== undefined && (SQS_THROTTLING_CODES.has(code) || classifyRecordError(code) === 'throttled') ? 'throttled' : 'unavailable';
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
 * Splits entries into waves of SendMessageBatch calls: at most 10 entries and 1 MiB of bodies per
 * call, at most one message per group per wave (see planWaves). A failed entry is retried alone,
 * so a group's later message is never queued ahead of an earlier one.
 */
function planEntries(entries: readonly Entry[]): Entry[][][] {
  return planWaves(entries, {
    maxItems: SQS_LIMITS.maxEntriesPerBatch,
    maxBytes: SQS_LIMITS.maxBatchBytes,
    orderKeyOf: (entry) => entry.groupId,
    bytesOf: (entry) => entry.bytes,
  });
}

/** The SendMessageBatch calls a spill makes, wave by wave, when nothing fails. */
export function planSpill(records: readonly SpillRecord[]): SpillRecord[][][] {
  return planEntries(records.map(toEntry)).map((wave) => wave.map((batch) => batch.map((e) => e.record)));
}

const plural = (n: number) => `${n} entr${n === 1 ? 'y' : 'ies'}`;

/** Why entries are pending again: the last attempt's failure. */
interface EntryFailure {
  readonly kind: SendFailureKind;
  readonly cause: unknown;
}

/** One spill: its limits, what the queue confirmed, its counts, and the first failure, which stops every batch. */
class SpillRun {
  readonly queued = new Set<number>();
  calls = 0;
  retried = 0;
  failure?: { readonly reason: SendFailureKind; readonly message: string; readonly cause?: unknown };

  constructor(readonly limits: RetryLimits) {}

  fail(reason: SendFailureKind, message: string, cause?: unknown): void {
    this.failure ??= { reason, message, cause };
  }

  /** The report, or SpillFailure with the records not confirmed queued. */
  finish(records: readonly SpillRecord[]): SpillReport {
    const report = { queued: this.queued.size, calls: this.calls, retried: this.retried };
    if (this.failure === undefined) return report;
    const unsent = records.filter((_, i) => !this.queued.has(i));
    throw new SpillFailure(this.failure.reason, unsent, report,
      `spill ${this.failure.reason}: ${unsent.length} record(s) not queued; ${this.failure.message}`, { cause: this.failure.cause });
  }
}

/**
 * Queues records that the stream did not take on a FIFO queue: one message per record, grouped
 * by partition key, deduplicated by event id. Resolves once every record is confirmed queued;
 * throws SpillFailure otherwise.
 */
export class SpillProducer {
  private readonly maxAttempts: number;
  private readonly deadlineMs: number;
  private readonly concurrency: number;
  private readonly maxMessageBytes: number;
  private readonly backoff: Backoff;

  constructor(private readonly client: Pick<SQSClient, 'send'>, private readonly options: SpillOptions) {
    this.maxAttempts = options.maxAttempts ?? 4;
    this.deadlineMs = options.deadlineMs ?? 5_000;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.maxMessageBytes = Math.min(options.maxMessageBytes ?? SQS_LIMITS.maxMessageBytes, SQS_LIMITS.maxMessageBytes);
    this.backoff = new Backoff(options);
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
    this.refuseOversize(records, entries);
    const run = new SpillRun({ maxAttempts: this.maxAttempts, retryDeadline: this.backoff.now() + this.deadlineMs });
    for (const wave of planEntries(entries)) {
      await this.sendWave(wave, run);
      if (run.failure !== undefined) break;
    }
    return run.finish(records);
  }

  /** Throws `tooLarge`, before anything is sent, when a record does not fit in one message. */
  private refuseOversize(records: readonly SpillRecord[], entries: readonly Entry[]): void {
    const oversize = entries.filter((e) => e.bytes > this.maxMessageBytes);
    if (oversize.length === 0) return;
    const first = oversize[0];
    throw new SpillFailure('tooLarge', records, { queued: 0, calls: 0, retried: 0 },
      `record ${first.index} is ${first.bytes} bytes as an SQS message (${first.record.data.byteLength} bytes of data, base64); `
      + `a message holds at most ${this.maxMessageBytes}; ${oversize.length} record(s) too large, nothing was queued`);
  }

  /** Sends a wave's batches, `concurrency` at a time, until all are through or one failed. */
  private async sendWave(wave: readonly Entry[][], run: SpillRun): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < wave.length && run.failure === undefined) await this.sendBatch(wave[next++], run);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, wave.length) }, worker));
  }

  /** Sends one batch, retrying the entries SQS did not queue, until all are or the spill fails. */
  private async sendBatch(batch: readonly Entry[], run: SpillRun): Promise<void> {
    let last: EntryFailure | undefined;
    const outcome = await this.backoff.retry(batch, {
      limits: run.limits,
      startDeadline: run.limits.retryDeadline,
      stopped: () => run.failure !== undefined,
      onRetry: (again) => { run.retried += again.length; },
      attempt: async (pending) => {
        const { again, failure } = await this.sendOnce(pending, run);
        last = failure ?? last;
        return again;
      },
    });
    if (outcome.stop === 'exhausted') {
      run.fail(last?.kind ?? 'unavailable', `SendMessageBatch kept failing after ${outcome.attempts} attempt(s)`, last?.cause);
    } else if (outcome.stop === 'startDeadline') {
      // Without a failure before, SQS was only slow: unavailable, not throttling.
      run.fail(last?.kind ?? 'unavailable', `the spill deadline of ${this.deadlineMs} ms passed`, last?.cause);
    }
  }

  /** One SendMessageBatch call: resolves to the entries to send again and why. */
  private async sendOnce(pending: readonly Entry[], run: SpillRun): Promise<{ again: readonly Entry[]; failure?: EntryFailure }> {
    run.calls += 1;
    try {
      const response = await this.client.send(new SendMessageBatchCommand({
        QueueUrl: this.options.queueUrl,
        Entries: pending.map((e) => ({ Id: String(e.index), MessageBody: e.body, MessageGroupId: e.groupId, MessageDeduplicationId: e.dedupId })),
      }));
      return readAnswer(pending, response.Successful ?? [], response.Failed ?? [], run);
    } catch (error) {
      const kind = classifySendError(error);
      if (kind === 'refused') run.fail('refused', `SendMessageBatch failed: ${error instanceof Error ? error.name : typeof error}`, error);
      return { again: pending, failure: { kind, cause: error } };
    }
  }
}

/**
 * Marks what a SendMessageBatch answer queued, fails the spill when SQS blames the sender, and
 * resolves to the entries to send again: failed ones, and any the answer does not mention (their
 * ids make that safe).
 */
function readAnswer(
  pending: readonly Entry[],
  successful: readonly SendMessageBatchResultEntry[],
  failed: readonly BatchResultErrorEntry[],
  run: SpillRun,
): { again: readonly Entry[]; failure?: EntryFailure } {
  const ok = new Set(successful.map((s) => s.Id));
  for (const e of pending) if (ok.has(String(e.index))) run.queued.add(e.index);
  const rejected = failed.filter((f) => f.SenderFault === true);
  if (rejected.length > 0) run.fail('refused', `SQS rejected ${plural(rejected.length)}: ${[...new Set(rejected.map((f) => f.Code))].join(', ')}`);
  const again = pending.filter((e) => !ok.has(String(e.index)));
  if (again.length === 0) return { again };
  const codes = [...new Set(failed.map((f) => f.Code))];
  return {
    again,
    failure: {
      kind: codes.some((code) => classifyEntryError(code) === 'throttled') ? 'throttled' : 'unavailable',
      cause: new Error(`SendMessageBatch failed ${plural(again.length)}: ${codes.join(', ')}`),
    },
  };
}
