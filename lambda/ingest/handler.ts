/**
 * The stream source's request path, as named stages:
 *
 * admit (size, authenticate) -> read (the Content-Type decided once) -> envelope (and claim
 * check) -> claim (dedup) -> deliver (the backpressure strategy's plan) -> answer.
 *
 * Authentication runs before parsing, so an unsigned sender learns nothing about the body rules.
 * A 202 is only sent once every record of the request is in the stream (or durably queued).
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { admit, type AdmissionMetrics, type AdmissionRules } from '../common/admit';
import type { JwtVerifier } from '../common/authenticate';
import type { IngestConfig } from './config';
import { errorCodeOf } from '../common/errors';
import { jsonResponse, jsonTextResponse, type WebhookRequest } from '../common/http';
import { httpShell, type HttpHandler, type RefusalLogging, type RequestPath } from '../common/http-shell';
import { StreamWriteFailure } from '../common/kinesis-writer';
import type { HandlerLogger } from '../common/logger';
import type { ParsedBody } from '../common/parse';
import type { Redactor } from '../common/redact';
import type { SecretSource, SecretStage } from '../common/secrets';
import { backpressureStrategy, type SpillTarget } from './backpressure';
import { EventClaims, uniqueById, type DedupClaims } from './dedup-claim';
import { deliver, type Deliverer, type Delivery, type StreamWriter } from './deliver';
import { buildRecords, type EnvelopeResult, type EventCheck, type PayloadStore } from './envelope';
import { readBody } from './read';
import { describeViolations, SchemaViolationError, validateEvent, type PayloadValidator } from './schema';
import { SpillFailure } from './spill';

export { OUTAGE_RETRY_AFTER_SECONDS } from './backpressure';

/** The slice of Powertools' Logger the pipeline uses. Attributes never hold a body or a secret. */
export type IngestLogger = HandlerLogger;

export interface IngestDependencies {
  readonly config: IngestConfig;
  readonly secrets: SecretSource;
  /** Required when the source's scheme is `jwt`. */
  readonly jwt?: JwtVerifier;
  readonly writer: StreamWriter;
  /** Required with the queue-and-slow-accept policy. */
  readonly spill?: SpillTarget;
  /** Required when the source pins a schema. */
  readonly validator?: PayloadValidator;
  /** Counts what the source quarantined, wrote and shed, for the alarms. */
  readonly metrics?: AdmissionMetrics & {
    quarantined(count: number): void;
    /** Sample-or-shed sources only: events written, and events shed, by one request. */
    sampled?(written: number, shed: number): void;
  };
  /** Required when the source has a claim check. */
  readonly payloadStore?: PayloadStore;
  /** Required when the source dedups. */
  readonly dedup?: DedupClaims;
  readonly logger: IngestLogger;
  readonly now?: () => number;
}

export type IngestHandler = HttpHandler;

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

/** Slack's url_verification handshake: the challenge to echo, when this is one. */
export function slackChallenge(body: ParsedBody): string | undefined {
  const [event] = body.events;
  if (body.isBatch || event?.type !== 'url_verification') return undefined;
  return typeof event.challenge === 'string' ? event.challenge : undefined;
}

/**
 * The schema check of a source that pins schemas. Strict: the first invalid event fails the
 * request (400) before anything is written. Quarantine: invalid events go to the quarantine stream
 * with their violations; valid ones go on.
 */
function eventCheckOf(config: IngestConfig, validator: PayloadValidator | undefined): EventCheck | undefined {
  if (validator === undefined || config.payloadValidation === undefined) return undefined;
  const strict = config.payloadValidation.mode === 'strict';
  return (type, event, index) => {
    const result = validateEvent(validator, type, event);
    if (result.valid) return result;
    if (strict) throw new SchemaViolationError(result.errors, index);
    return { valid: false, reason: describeViolations(result.errors), violations: result.errors };
  };
}

/** What every log line of a request says: the source, the correlation id, the body's size, and what admission learned. */
interface IngestLog {
  [attribute: string]: unknown;
  readonly source: string;
  readonly correlationId: string;
  readonly bodyBytes: number;
  clientCertSerial?: string;
  secretStage?: SecretStage;
}

/** `,"<name>":<count>` when the count is not 0. */
const countMember = (name: string, count: number) => (count > 0 ? `,"${name}":${count}` : '');

/**
 * The 202's JSON, as JSON.stringify writes it: every id the request carried but those shed, and
 * what became of the rest (`accepted`, `ids`, `correlationId`, then each count that is not 0).
 */
export function acceptedJson(built: EnvelopeResult, delivery: Delivery, duplicates: number, correlationId: string): string {
  const { records, ignored, quarantined } = built;
  const shedIds = delivery.shed.length === 0 ? undefined : new Set(delivery.shed.map((r) => r.envelope.id));
  let accepted = 0;
  let ids = '';
  for (const record of records) {
    if (shedIds !== undefined && shedIds.has(record.envelope.id)) continue;
    ids += `${accepted === 0 ? '' : ','}${JSON.stringify(record.envelope.id)}`;
    accepted += 1;
  }
  return `{"accepted":${accepted},"ids":[${ids}],"correlationId":${JSON.stringify(correlationId)}${countMember('duplicates', duplicates)}`
    + `${countMember('quarantined', quarantined)}${countMember('queued', delivery.queued)}${countMember('shed', delivery.shed.length)}${countMember('ignored', ignored)}}`;
}

class IngestPath implements RequestPath<IngestLog> {
  private readonly config: IngestConfig;
  private readonly now: () => number;
  private readonly admission: AdmissionRules;
  private readonly check: EventCheck | undefined;
  private readonly deliverer: Deliverer;

  constructor(private readonly deps: IngestDependencies) {
    const { config } = deps;
    this.config = config;
    this.now = deps.now ?? Date.now;
    this.admission = { auth: config.auth, maxBodyBytes: config.maxBodyBytes, endpoint: 'source' };
    this.check = eventCheckOf(config, deps.validator);
    this.deliverer = {
      writer: deps.writer,
      strategy: backpressureStrategy(config.backpressure, { spill: deps.spill, metrics: deps.metrics, now: this.now }),
      claims: deps.dedup === undefined || config.dedup === undefined ? undefined : new EventClaims(deps.dedup, config.source, config.dedup.leaseSeconds),
    };
  }

  begin(request: WebhookRequest, correlationId: string): IngestLog {
    const log: IngestLog = { source: this.config.source, correlationId, bodyBytes: request.rawBody.length };
    // A serial number is no secret, and tells the operator which certificate was refused.
    if (request.clientCertSerialNumber !== undefined) log.clientCertSerial = request.clientCertSerialNumber;
    return log;
  }

  logAttributes(_request: WebhookRequest, log: IngestLog): Record<string, unknown> {
    return log;
  }

  async serve(request: WebhookRequest, log: IngestLog, logger: HandlerLogger, redactor: Redactor | undefined): Promise<APIGatewayProxyResult> {
    const { config, deps } = this;
    const secretStage = await admit(this.admission, request, this.now, deps);
    if (secretStage !== undefined) log.secretStage = secretStage;
    const body = await readBody(config, request, deps.payloadStore);
    redactor?.collect(body.events);
    const challenge = config.challenge === 'slackUrlVerification' ? slackChallenge(body) : undefined;
    if (challenge !== undefined) {
      logger.info('answered url_verification', log);
      return jsonResponse(200, { challenge }, { 'X-Correlation-Id': log.correlationId });
    }
    const built = await buildRecords(config, request, body, log.correlationId, deps.payloadStore, this.check);
    const unique = uniqueById(built.records);
    const { claims } = this.deliverer;
    const claimed = claims === undefined || unique.length === 0 ? undefined : await claims.claim(unique);
    const delivery = await deliver(this.deliverer, claimed?.records ?? unique, claimed?.claim, logger, log);
    return this.answer(built, delivery, log, logger);
  }

  private answer(built: EnvelopeResult, delivery: Delivery, log: IngestLog, logger: HandlerLogger): APIGatewayProxyResult {
    const { records, ignored, quarantined } = built;
    const duplicates = records.length - delivery.delivered.length - delivery.shed.length;
    if (quarantined > 0) this.deps.metrics?.quarantined(quarantined);
    logger.info('accepted', {
      ...log,
      accepted: records.length,
      written: delivery.delivered.length,
      duplicates,
      quarantined,
      queued: delivery.queued,
      shed: delivery.shed.length,
      ignored,
      calls: delivery.calls,
      retried: delivery.retried,
    });
    return jsonTextResponse(202, acceptedJson(built, delivery, duplicates, log.correlationId), log.correlationId);
  }
}

/** How the ingest path's refusals are logged: the cause's code, no outcome. */
const INGEST_REFUSALS: RefusalLogging = { outcome: false, causeAttribute: 'cause', causeOf: causeCodeOf };

/** The stream source's Lambda handler: the ingest path in the HTTP shell. */
export function createIngestHandler(deps: IngestDependencies): IngestHandler {
  return httpShell(deps, INGEST_REFUSALS, new IngestPath(deps));
}
