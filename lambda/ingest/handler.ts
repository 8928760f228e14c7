import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { authenticate, type JwtVerifier } from '../common/authenticate';
import type { IngestConfig } from './config';
import { daysToExpiry } from '../common/credentials';
import type { DedupStore } from './dedup';
import { buildRecords, eventIdOf, type EventCheck, type OutgoingRecord, type PayloadStore } from './envelope';
import {
  DeliveryInProgressError,
  DependencyUnavailableError,
  UnsupportedMediaTypeError,
  PayloadTooLargeError,
  StreamThrottledError,
  WebhookError,
  errorCodeOf,
} from '../common/errors';
import { errorResponse, fromApiGatewayEvent, jsonResponse, withHeaderAliases, type WebhookRequest } from '../common/http';
import { StreamWriteFailure, type WriteFailureReason, type WriteRecord, type WriteReport } from '../common/kinesis-writer';
import { parseMultipart } from './multipart';
import { Redactor } from '../common/redact';
import { LoadShedder, PressureWindow } from './shed';
import type { SecretSource } from '../common/secrets';
import { SpillFailure, type SpillQueue } from './spill';
import { parseBody, parseMediaType, type JsonObject, type ParsedBody } from '../common/parse';
import { describeViolations, SchemaViolationError, validateEvent, type PayloadValidator } from './schema';

/** The slice of Powertools' Logger the pipeline uses. Attributes never hold a body or a secret. */
export interface IngestLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface IngestDependencies {
  readonly config: IngestConfig;
  readonly secrets: SecretSource;
  /** Required when the source's scheme is `jwt`. */
  readonly jwt?: JwtVerifier;
  readonly writer: { write(records: readonly WriteRecord[], streamName?: string): Promise<WriteReport> };
  /** Required with the queue-and-slow-accept policy. */
  readonly spill?: Pick<SpillQueue, 'spill' | 'backlog'>;
  /** Required when the source pins a schema. */
  readonly validator?: PayloadValidator;
  /** Counts what the source quarantined, wrote and shed, for the alarms. */
  readonly metrics?: {
    quarantined(count: number): void;
    /** Sample-or-shed sources only: events written, and events shed, by one request. */
    sampled?(written: number, shed: number): void;
    /** A request verified with a pending or previous secret, not the current one: a rotation is under way. */
    nonCurrentSecret?(): void;
    /**
     * A request authenticated with a client certificate whose notAfter is known: its normalized
     * serial number, and the days left until it expires (see daysToExpiry).
     */
    clientCertificateDaysToExpiry?(serialNumber: string, days: number): void;
  };
  /** Required when the source has a claim check. */
  readonly payloadStore?: PayloadStore;
  /** Required when the source dedups. */
  readonly dedup?: Pick<DedupStore, 'claim' | 'complete' | 'release'>;
  readonly logger: IngestLogger;
  readonly now?: () => number;
}

export type IngestHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * `Retry-After` of a sample-or-shed source's 503 when the stream is down (it sheds throttling, so
 * it has no `retryAfter` of its own): as long as the other policies' default.
 */
export const OUTAGE_RETRY_AFTER_SECONDS = 30;

/** How often a container asks the spill queue for its backlog. */
const BACKLOG_CHECK_MS = 5_000;

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The sender's `X-Correlation-Id` when it is well formed, else the trace id of a W3C
 * `traceparent`, else API Gateway's request id, else a new UUID.
 */
export function correlationIdOf(request: WebhookRequest): string {
  const one = (name: string) => {
    const values = request.headers.get(name);
    return values?.length === 1 ? values[0].trim() : undefined;
  };
  const sent = one('x-correlation-id');
  if (sent !== undefined && CORRELATION_ID.test(sent)) return sent;
  const trace = TRACEPARENT.exec(one('traceparent') ?? '')?.[1];
  // An all-zero trace id is invalid by the spec.
  if (trace !== undefined && !/^0+$/.test(trace)) return trace;
  return request.requestId ?? randomUUID();
}

/** API Gateway's request id, when it is a well-formed one, else a new UUID. */
export function gatewayRequestIdOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>): string {
  const id: unknown = event.requestContext?.requestId;
  return typeof id === 'string' && CORRELATION_ID.test(id) ? id : randomUUID();
}

/**
 * What caused a refusal, for the log: the failed write's error code, or the cause's name, code
 * and HTTP status (see errorCodeOf). Never a message.
 */
export function causeCodeOf(error: unknown): string | undefined {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof StreamWriteFailure) return cause.causeCode;
  if (cause instanceof SpillFailure) return `SpillFailure ${cause.reason}${cause.cause === undefined ? '' : ` ${errorCodeOf(cause.cause)}`}`;
  return errorCodeOf(cause);
}

function groupByStream(records: readonly OutgoingRecord[]): Map<string, OutgoingRecord[]> {
  const groups = new Map<string, OutgoingRecord[]>();
  for (const record of records) {
    const group = groups.get(record.streamName);
    if (group === undefined) groups.set(record.streamName, [record]);
    else group.push(record);
  }
  return groups;
}

/** Slack's url_verification handshake: the challenge to echo, when this is one. */
export function slackChallenge(body: ParsedBody): string | undefined {
  const [event] = body.events;
  if (body.isBatch || event?.type !== 'url_verification') return undefined;
  return typeof event.challenge === 'string' ? event.challenge : undefined;
}

/**
 * The stream source's request path: size, authenticate, parse, envelope, write, answer.
 * Authentication runs before parsing, so an unsigned sender learns nothing about the body rules.
 * A 202 is only sent once every record of the request is in the stream.
 */
export function createIngestHandler(deps: IngestDependencies): IngestHandler {
  const { config } = deps;
  const now = deps.now ?? Date.now;

  const dedupKey = (id: string) => `${config.source}#${id}`;
  const policy = config.backpressure;
  const shedder = policy.kind === 'sampleOrShed' ? new LoadShedder(policy.keepFraction, policy.pressureWindowMs, now) : undefined;
  const queueWindow = policy.kind === 'queueAndSlowAccept' ? new PressureWindow(policy.queueWindowMs, now) : undefined;
  // Sent with a 429 or a 503 when the stream or the queue did not take the request.
  const retryAfterSeconds = policy.kind === 'sampleOrShed' ? OUTAGE_RETRY_AFTER_SECONDS : policy.retryAfterSeconds;
  // While the queue holds a backlog (any container's), new records join it rather than overtake it.
  let backlogCheckedAt = -Infinity;
  let backlog = 0;
  async function queueHasBacklog(): Promise<boolean> {
    if (deps.spill === undefined) return false;
    if (now() - backlogCheckedAt >= BACKLOG_CHECK_MS) {
      backlog = await deps.spill.backlog().catch(() => backlog);
      backlogCheckedAt = now();
    }
    return backlog > 0;
  }

  // Strict: the first invalid event fails the request (400) before anything is written.
  // Quarantine: invalid events go to the quarantine stream with their violations; valid ones go on.
  const validator = deps.validator;
  const check: EventCheck | undefined = validator === undefined || config.payloadValidation === undefined ? undefined : (() => {
    const strict = config.payloadValidation.mode === 'strict';
    return (type, event, index) => {
      const result = validateEvent(validator, type, event);
      if (result.valid) return result;
      if (strict) throw new SchemaViolationError(result.errors, index);
      return { valid: false, reason: describeViolations(result.errors), violations: result.errors };
    };
  })();

  /**
   * A `multipart/form-data` body is one event: its fields, and a `files` list whose bytes went to
   * the payload store. Any other body is read by `parseBody`.
   */
  async function readBody(request: WebhookRequest): Promise<ParsedBody> {
    const contentType = request.headers.get('content-type');
    if (contentType?.length !== 1 || parseMediaType(contentType[0])?.type !== 'multipart/form-data') {
      return parseBody(request, config.maxBatchRecords);
    }
    if (config.multipart === undefined || deps.payloadStore === undefined) {
      throw new UnsupportedMediaTypeError('this source does not accept multipart/form-data; send application/json');
    }
    const form = await parseMultipart(request.rawBody, contentType[0], config.multipart);
    const event: JsonObject = { ...form.fields };
    const eventId = eventIdOf(config, request, event, 0, false);
    const files = [];
    for (const [index, file] of form.files.entries()) {
      const payloadRef = await deps.payloadStore.put(file.bytes, { source: config.source, eventId, contentType: file.contentType, index });
      files.push({ field: file.fieldName, filename: file.filename ?? null, contentType: file.contentType, size: file.bytes.length, sha256: file.sha256, payloadRef });
    }
    if (files.length > 0) event.files = files;
    return { contentType: 'multipart/form-data', events: [event], isBatch: false };
  }

  async function ingest(
    request: WebhookRequest,
    correlationId: string,
    log: Record<string, unknown>,
    logger: IngestLogger,
    redactor: Redactor,
  ): Promise<APIGatewayProxyResult> {
    if (request.rawBody.length > config.maxBodyBytes) {
      throw new PayloadTooLargeError(`body is ${request.rawBody.length} bytes; this source accepts at most ${config.maxBodyBytes}`);
    }
    const { secretStage, clientCertificate } = await authenticate(config.auth, request, now(), deps);
    if (secretStage !== undefined) log.secretStage = secretStage;
    if (secretStage !== undefined && secretStage !== 'AWSCURRENT') deps.metrics?.nonCurrentSecret?.();
    if (clientCertificate?.notAfterMs !== undefined) {
      deps.metrics?.clientCertificateDaysToExpiry?.(clientCertificate.serialNumber, daysToExpiry(clientCertificate.notAfterMs, now()));
    }
    const body = await readBody(request);
    redactor.collect(body.events);
    const challenge = config.challenge === 'slackUrlVerification' ? slackChallenge(body) : undefined;
    if (challenge !== undefined) {
      logger.info('answered url_verification', log);
      return jsonResponse(200, { challenge }, { 'X-Correlation-Id': correlationId });
    }
    const { records, ignored, quarantined } = await buildRecords(config, request, body, correlationId, deps.payloadStore, check);

    // Several events of one request with the same id are one event.
    const seen = new Set<string>();
    const unique = records.filter((r) => !seen.has(r.envelope.id) && seen.add(r.envelope.id));
    let toWrite: readonly OutgoingRecord[] = unique;
    let claim: Awaited<ReturnType<DedupStore['claim']>> | undefined;
    if (deps.dedup !== undefined && config.dedup !== undefined && unique.length > 0) {
      claim = await deps.dedup.claim(unique.map((r) => dedupKey(r.envelope.id)));
      if (claim.busy.length > 0) throw new DeliveryInProgressError(config.dedup.leaseSeconds);
      const claimed = new Set(claim.claimed);
      toWrite = unique.filter((r) => claimed.has(dedupKey(r.envelope.id)));
    }

    // Sample or shed: under pressure, only the sample is written; the rest is shed, on purpose.
    let shed: readonly OutgoingRecord[] = [];
    if (shedder?.underPressure()) {
      shed = toWrite.filter((r) => !shedder.keeps(r.envelope.id));
      toWrite = toWrite.filter((r) => shedder.keeps(r.envelope.id));
    }

    // Queue and slow accept: what the stream did not take is spilled to the FIFO queue, and for a
    // window after a spill everything goes there, so that no event overtakes a queued one of its key.
    let spilled: readonly OutgoingRecord[] = [];
    if (queueWindow !== undefined && toWrite.length > 0 && (queueWindow.underPressure() || await queueHasBacklog())) {
      spilled = toWrite;
      toWrite = [];
    }

    const report: { calls: number; retried: number } = { calls: 0, retried: 0 };
    /** Why the stream did not take this request's records, when it did not. */
    let streamFailure: WriteFailureReason | undefined;
    const groups = [...groupByStream(toWrite)];
    for (const [g, [streamName, group]] of groups.entries()) {
      try {
        // One stream after another, each in request order; routes send some types elsewhere.
        const written = await deps.writer.write(group, streamName);
        report.calls += written.calls;
        report.retried += written.retried;
      } catch (error) {
        if (!(error instanceof StreamWriteFailure)) {
          if (claim !== undefined) await deps.dedup?.release(claim.claimed, claim.token);
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
        streamFailure = error.reason;
        const unwrittenNow = () => new Set<OutgoingRecord>([...(error.unwritten as OutgoingRecord[]), ...groups.slice(g + 1).flatMap(([, rest]) => rest)]);
        if (error.reason !== 'misconfigured' && queueWindow !== undefined) {
          // Queue and slow accept: throttled or failing, the stream's share goes to the queue,
          // and so does everything for a while, so that no record overtakes a queued one.
          queueWindow.notePressure();
          const unwritten = unwrittenNow();
          spilled = toWrite.filter((r) => unwritten.has(r));
          toWrite = toWrite.filter((r) => !unwritten.has(r));
          break;
        }
        if (error.reason === 'throttled' && shedder !== undefined) {
          // Shed what is left instead of asking for a retry: the sender gets 202 for the sample.
          // Only throttling is shed: an outage is no load to shed, and is answered 503.
          shedder.notePressure();
          const unwritten = unwrittenNow();
          shed = [...shed, ...toWrite.filter((r) => unwritten.has(r))];
          toWrite = toWrite.filter((r) => !unwritten.has(r));
          break;
        }
        // Records already written stay written; the sender retries the whole request, so every
        // claim is released and the retry writes them again (at least once, never lost).
        if (claim !== undefined) await deps.dedup?.release(claim.claimed, claim.token);
        if (error.reason === 'throttled') {
          throw new StreamThrottledError(retryAfterSeconds, error.unwritten.length, { cause: error });
        }
        throw new DependencyUnavailableError('the Kinesis stream', { cause: error, retryAfterSeconds });
      }
    }
    if (spilled.length > 0) {
      try {
        await (deps.spill as Pick<SpillQueue, 'spill'>).spill(spilled.map((r) => ({
          streamName: r.streamName, partitionKey: r.partitionKey, data: r.data, dedupId: r.envelope.id,
        })));
      } catch (error) {
        if (!(error instanceof SpillFailure)) throw error;
        logger.warn('spill failed', {
          ...log, reason: error.reason, cause: errorCodeOf(error.cause), unsent: error.unsent.length, queued: error.report.queued,
        });
        if (claim !== undefined) await deps.dedup?.release(claim.claimed, claim.token);
        // A 429 only when nothing but load is in the way: the queue was busy (a spill's `throttled`
        // covers SQS throttling or failing) and the stream, if it failed at all, was throttling.
        if (error.reason === 'throttled' && streamFailure !== 'outage') {
          throw new StreamThrottledError(retryAfterSeconds, error.unsent.length, { cause: error });
        }
        // The log lines above name both causes; the answer names what the sender depends on first.
        throw new DependencyUnavailableError(streamFailure === 'outage' ? 'the Kinesis stream' : 'the spill queue', { cause: error, retryAfterSeconds });
      }
      // Durably queued: the drain writes them in order. They count as delivered.
      toWrite = [...toWrite, ...spilled];
    }
    if (claim !== undefined && shed.length > 0) {
      // A shed event was never written: a redelivery of it may be.
      await deps.dedup?.release(shed.map((r) => dedupKey(r.envelope.id)), claim.token);
    }
    if (shedder !== undefined) deps.metrics?.sampled?.(toWrite.length, shed.length);
    if (claim !== undefined && toWrite.length > 0) {
      // The records are in the stream: a failure to remember that must not turn into an error answer.
      await deps.dedup?.complete(toWrite.map((r) => dedupKey(r.envelope.id)), claim.token).catch((error: unknown) => logger.warn('could not mark ids delivered', {
        ...log,
        errorName: error instanceof Error ? error.name : typeof error,
      }));
    }
    const duplicates = records.length - toWrite.length - shed.length;
    if (quarantined > 0) deps.metrics?.quarantined(quarantined);
    logger.info('accepted', {
      ...log,
      accepted: records.length,
      written: toWrite.length,
      duplicates,
      quarantined,
      queued: spilled.length,
      shed: shed.length,
      ignored,
      calls: report.calls,
      retried: report.retried,
    });
    const shedIds = new Set(shed.map((r) => r.envelope.id));
    const ids = records.map((r) => r.envelope.id).filter((id) => !shedIds.has(id));
    return jsonResponse(
      202,
      { accepted: ids.length, ids, correlationId, ...(duplicates > 0 ? { duplicates } : {}), ...(quarantined > 0 ? { quarantined } : {}), ...(spilled.length > 0 ? { queued: spilled.length } : {}), ...(shed.length > 0 ? { shed: shed.length } : {}), ...(ignored > 0 ? { ignored } : {}) },
      { 'X-Correlation-Id': correlationId },
    );
  }

  /** Logs a refusal, naming its cause (an error name or code, never a message), and answers it. */
  function refuse(error: unknown, correlationId: string, base: Record<string, unknown>, logger: IngestLogger): APIGatewayProxyResult {
    const response = errorResponse(error, correlationId);
    const cause = causeCodeOf(error);
    const attributes = {
      ...base,
      statusCode: response.statusCode,
      errorName: error instanceof Error ? error.name : typeof error,
      ...(cause === undefined ? {} : { cause }),
    };
    if (error instanceof WebhookError) {
      (response.statusCode >= 500 ? logger.error : logger.warn).call(logger, 'rejected', attributes);
    } else {
      // An unexpected failure: our bug. The stack goes to the log to locate it; the response says nothing.
      logger.error('unexpected error', { ...attributes, stack: error instanceof Error ? error.stack : undefined });
    }
    return response;
  }

  return async (event) => {
    const redactor = new Redactor(config.redactPaths ?? []);
    const logger = redactor.wrap(deps.logger);
    let request: WebhookRequest;
    try {
      request = withHeaderAliases(fromApiGatewayEvent(event, now()), config.headerAliases);
    } catch (error) {
      // Not a request the pipeline reads (another method, oversized headers): nothing the sender
      // sent is used, not even its correlation id.
      const correlationId = gatewayRequestIdOf(event);
      return refuse(error, correlationId, { source: config.source, correlationId }, logger);
    }
    const correlationId = correlationIdOf(request);
    const base = {
      source: config.source,
      correlationId,
      bodyBytes: request.rawBody.length,
      // A serial number is no secret, and tells the operator which certificate was refused.
      ...(request.clientCertSerialNumber === undefined ? {} : { clientCertSerial: request.clientCertSerialNumber }),
    };
    try {
      return await ingest(request, correlationId, base, logger, redactor);
    } catch (error) {
      return refuse(error, correlationId, base, logger);
    }
  };
}
