import { PutRecordsCommand, type KinesisClient, type PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { Backoff, type BackoffOptions, type RetryLimits } from './backoff';
import { KINESIS_LIMITS } from './kinesis-limits';
import { errorCodeOf } from './errors';
import { planWaves } from './waves';

export interface WriteRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export interface WriterOptions extends BackoffOptions {
  readonly streamName: string;
  /** PutRecords attempts per call, the first one included. */
  readonly maxAttempts: number;
  /** Time that retries of one request may take in all. */
  readonly retryBudgetMs: number;
  /**
   * No call starts later than this after the write began, retry or not, so that the answer comes
   * before API Gateway's 29 s integration timeout even when Kinesis is slow.
   */
  readonly writeDeadlineMs?: number;
}

export interface WriteReport {
  readonly written: number;
  readonly calls: number;
  /** Records sent again after a throttle or failure. */
  readonly retried: number;
}

/**
 * Why the stream did not take every record:
 * - `throttled`: Kinesis throttled (ProvisionedThroughputExceededException, KMSThrottlingException,
 *   ...) past the attempts or the time budget. The sender should slow down: a 429.
 * - `outage`: Kinesis failed or could not be reached (InternalFailure for a record or a call,
 *   5xx, ServiceUnavailable, connection refused or reset, a timeout, or no call could start before
 *   the write deadline): a 503, retried later.
 * - `misconfigured`: Kinesis refused in a way no retry fixes and only the operator can (access
 *   denied, no such stream, a disabled or missing KMS key, expired credentials): a 503, not retried.
 */
export type WriteFailureReason = 'throttled' | 'outage' | 'misconfigured';

/**
 * The stream did not take every record. `unwritten` lists, in request order, the records that
 * are not in the stream; every other record of the request is.
 */
export class StreamWriteFailure extends Error {
  constructor(
    readonly reason: WriteFailureReason,
    readonly unwritten: readonly WriteRecord[],
    readonly report: WriteReport,
    /**
     * The last failure, for the log: an error name or code and the HTTP status
     * (`ProvisionedThroughputExceededException`, `InternalFailure HTTP 500`, `ECONNREFUSED`,
     * `WriteDeadline`), never a message.
     */
    readonly causeCode: string,
    options?: { cause?: unknown },
  ) {
    super(`PutRecords ${reason} (${causeCode}): ${unwritten.length} record(s) not written`, options);
    this.name = 'StreamWriteFailure';
  }
}

function recordBytes(record: WriteRecord): number {
  return record.data.length + Buffer.byteLength(record.partitionKey, 'utf8');
}

/**
 * Splits records into PutRecords calls that are safe to send one after another:
 * - at most 500 records and 5 MiB (data plus partition keys) per call;
 * - at most one record per partition key per call. PutRecords does not promise to keep the order
 *   of records inside one call, and only failed records are retried, so two records with the same
 *   key never share a call: the n-th record of each key goes in the n-th "wave", and a wave is
 *   only sent once the one before it is fully written.
 *
 * With the default partition key (the event id) every key is unique and there is one wave.
 */
export function planCalls(records: readonly WriteRecord[]): WriteRecord[][] {
  return planWaves(records, {
    maxItems: KINESIS_LIMITS.maxRecordsPerCall,
    maxBytes: KINESIS_LIMITS.maxBytesPerCall,
    orderKeyOf: (record) => record.partitionKey,
    bytesOf: recordBytes,
  }).flat();
}

/**
 * Throttling, as PutRecords reports it for a call or a record, and as AWS SDKs name it generally.
 * @see https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html#API_PutRecords_Errors
 */
const THROTTLING_CODES = new Set([
  'ProvisionedThroughputExceededException',
  'KMSThrottlingException',
  'LimitExceededException',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

/** Kinesis failing, for a call or a record: worth retrying, and a 503 if it lasts. */
const OUTAGE_CODES = new Set([
  'InternalFailure',
  'InternalFailureException',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** What a failed PutRecords call, or a failed record's ErrorCode, says about the stream. */
export function classifyWriteError(error: unknown): WriteFailureReason {
  // Read by shape, not `instanceof Error`: an error made in another realm is an error all the same.
  if (typeof error !== 'object' || error === null) return 'misconfigured';
  const meta = error as { name?: unknown; $metadata?: { httpStatusCode?: number }; $fault?: string; $retryable?: { throttling?: boolean } };
  const name = typeof meta.name === 'string' ? meta.name : '';
  const status = meta.$metadata?.httpStatusCode;
  if (THROTTLING_CODES.has(name) || meta.$retryable?.throttling === true || status === 429) return 'throttled';
  if (OUTAGE_CODES.has(name) || meta.$fault === 'server') return 'outage';
  // No HTTP status at all: the request never got an answer (refused, reset, timed out).
  if (status === undefined || status >= 500) return 'outage';
  // Any other 4xx: access denied, no such stream, a KMS key disabled, not found or denied, ...
  return 'misconfigured';
}

/** The same, for one record's ErrorCode in a PutRecords answer. */
export function classifyRecordError(errorCode: string): WriteFailureReason {
  if (THROTTLING_CODES.has(errorCode)) return 'throttled';
  // PutRecords documents ProvisionedThroughputExceededException and InternalFailure; anything
  // else a record reports is taken as a failure worth retrying rather than guessed at.
  if (OUTAGE_CODES.has(errorCode) || !/^KMS|AccessDenied|ResourceNotFound/.test(errorCode)) return 'outage';
  return 'misconfigured';
}

/** Why the records of a call are pending again: the last attempt's failure. */
interface CallFailure {
  readonly reason: WriteFailureReason;
  /** See StreamWriteFailure.causeCode. */
  readonly code: string;
  readonly cause?: unknown;
}

/** What one PutRecords attempt left: the records to send again, why, and whether a retry can help. */
interface AttemptResult {
  readonly written: number;
  readonly failed: readonly WriteRecord[];
  readonly failure?: CallFailure;
  /** A failure no retry fixes: the write stops at once. */
  readonly final: boolean;
}

/** The counts of one write, as they grow. */
type WriteCounts = { -readonly [K in keyof WriteReport]: WriteReport[K] };

/** An ErrorCode safe to log (an identifier, never free text), or NoSequenceNumber. */
function loggableCode(errorCode: string | undefined): string {
  return errorCode !== undefined && /^[A-Za-z][A-Za-z0-9_.-]{0,79}$/.test(errorCode) ? errorCode : 'NoSequenceNumber';
}

/** The records a PutRecords answer (one result per record, in order) says were not written, and why. */
function readResults(sent: readonly WriteRecord[], results: readonly PutRecordsResultEntry[]): AttemptResult {
  const failed: WriteRecord[] = [];
  const codes = new Map<string, WriteFailureReason>();
  sent.forEach((record, i) => {
    const { ErrorCode, SequenceNumber } = results[i];
    if (ErrorCode === undefined && SequenceNumber !== undefined) return;
    failed.push(record);
    codes.set(loggableCode(ErrorCode), ErrorCode === undefined ? 'outage' : classifyRecordError(ErrorCode));
  });
  const written = sent.length - failed.length;
  if (failed.length === 0) return { written, failed, final: false };
  const reasons = new Set(codes.values());
  const reason: WriteFailureReason = reasons.has('misconfigured') ? 'misconfigured' : reasons.has('throttled') ? 'throttled' : 'outage';
  return { written, failed, failure: { reason, code: [...codes.keys()].sort().join(', ') }, final: reason === 'misconfigured' };
}

/**
 * Writes records with PutRecords, retrying only the records that failed, with exponential
 * backoff and full jitter, inside one time budget for the whole request.
 */
export class KinesisWriter {
  private readonly backoff: Backoff;
  private readonly writeDeadlineMs: number;

  constructor(private readonly client: KinesisClient, private readonly options: WriterOptions) {
    this.backoff = new Backoff(options);
    this.writeDeadlineMs = options.writeDeadlineMs ?? 20_000;
  }

  /**
   * Resolves when every record is in the stream; throws StreamWriteFailure otherwise. Throttled
   * and failed records are retried alike; when they are still not written at the end, the last
   * attempt decides the reason: `throttled` when any of its records (or the call) was throttled,
   * since slowing down is what helps, else `outage`. A refusal that needs an operator fails at once.
   *
   * @param streamName the stream to write to, when not the writer's own
   */
  async write(records: readonly WriteRecord[], streamName = this.options.streamName): Promise<WriteReport> {
    const start = this.backoff.now();
    const limits = { maxAttempts: this.options.maxAttempts, retryDeadline: start + this.options.retryBudgetMs };
    const loop = { streamName, limits, writeDeadline: start + this.writeDeadlineMs };
    const counts: WriteCounts = { written: 0, calls: 0, retried: 0 };
    const calls = planCalls(records);
    for (let c = 0; c < calls.length; c++) {
      // Each call starts afresh: the ones before it were written in the end.
      const { pending, failure } = await this.writeCall(calls[c], loop, counts);
      if (pending.length === 0) continue;
      // No failure before: Kinesis was slow, not failing, and no call may start this late.
      const why = failure ?? { reason: 'outage' as const, code: 'WriteDeadline' };
      throw new StreamWriteFailure(why.reason, [...pending, ...calls.slice(c + 1).flat()], { ...counts }, why.code, { cause: failure?.cause });
    }
    return { ...counts };
  }

  /** Sends one planned call until every record of it is written or it must give up; resolves to what is left and why. */
  private async writeCall(
    call: readonly WriteRecord[],
    loop: { readonly streamName: string; readonly limits: RetryLimits; readonly writeDeadline: number },
    counts: WriteCounts,
  ): Promise<{ pending: readonly WriteRecord[]; failure?: CallFailure }> {
    let failure: CallFailure | undefined;
    let final = false;
    const { pending } = await this.backoff.retry(call, {
      limits: loop.limits,
      startDeadline: loop.writeDeadline,
      stopped: () => final,
      onRetry: (again) => { counts.retried += again.length; },
      attempt: async (sent) => {
        counts.calls += 1;
        const result = await this.putRecords(sent, loop.streamName);
        counts.written += result.written;
        failure = result.failure ?? failure;
        final = result.final;
        return result.failed;
      },
    });
    return { pending, failure };
  }

  /** One PutRecords call with the records still pending. */
  private async putRecords(sent: readonly WriteRecord[], streamName: string): Promise<AttemptResult> {
    let results: PutRecordsResultEntry[];
    try {
      const response = await this.client.send(new PutRecordsCommand({
        StreamName: streamName,
        Records: sent.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })),
      }));
      results = response.Records ?? [];
    } catch (error) {
      const reason = classifyWriteError(error);
      return { written: 0, failed: sent, failure: { reason, code: errorCodeOf(error) ?? 'unknown', cause: error }, final: reason === 'misconfigured' };
    }
    if (results.length !== sent.length) {
      // Never assume which records landed when the answer does not line up with the request.
      const code = `PutRecords answered ${results.length} results for ${sent.length} records`;
      return { written: 0, failed: sent, failure: { reason: 'outage', code }, final: true };
    }
    return readResults(sent, results);
  }
}
