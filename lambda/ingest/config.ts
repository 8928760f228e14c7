/**
 * The ingest function's configuration: the document WebhookStreamSource (lib/) writes, its one
 * parse at cold start, and the rules both check with the same code. No runtime dependencies:
 * lib/ imports it.
 */
import { parseAuthConfig, readHeaderAliases, readSecretSettings, type AuthConfig } from '../common/auth-config';
import {
  ConfigError, isObject, isPositiveInt, isStringList, optional, readConfigDocument, refuseIf, requireNumber, requireObject,
  requireOneOf, requirePositiveInt, requireString, requireStringList, withoutAbsent, type JsonObject,
} from '../common/config-document';
import { PAYLOAD_SCHEMA_MODULE_FILE, type PayloadValidationConfig } from './schema-runtime';

/** Bumped whenever the document changes shape. A handler refuses any other version. */
export const INGEST_CONFIG_VERSION = 1;

/**
 * Headers that never reach a record, whatever an allowlist says: they carry credentials,
 * signatures or session state.
 */
export const NEVER_FORWARDED_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'stripe-signature',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-signature',
  'x-shopify-hmac-sha256',
  'x-slack-signature',
  'x-twilio-signature',
  'webhook-signature',
  'svix-signature',
  'x-planasonix-signature',
];

/** Where a value comes from: a request header, or a JSON pointer (RFC 6901) into each event. */
export type FieldSource = { readonly header: string } | { readonly jsonPointer: string };

export interface RejectWith429Config {
  readonly kind: 'rejectWith429';
  /** Seconds sent in `Retry-After` when the stream could not take the request. */
  readonly retryAfterSeconds: number;
  /** PutRecords attempts per chunk of records, the first one included. */
  readonly maxAttempts: number;
  /** Time the handler may spend retrying before it answers 429. */
  readonly retryBudgetMs: number;
}

export interface SampleOrShedConfig {
  readonly kind: 'sampleOrShed';
  /** The share of events kept while the stream is under pressure, 0 to 1; 0 sheds whole requests. */
  readonly keepFraction: number;
  /** How long after a throttled write the source keeps sampling. */
  readonly pressureWindowMs: number;
  readonly maxAttempts: number;
  readonly retryBudgetMs: number;
}

export interface QueueAndSlowAcceptConfig {
  readonly kind: 'queueAndSlowAccept';
  /** The FIFO queue that takes what the stream did not. */
  readonly queueUrl: string;
  /** For how long after a spill every record goes to the queue, so none overtakes a queued one. */
  readonly queueWindowMs: number;
  /** Seconds sent in `Retry-After` when not even the queue took the request. */
  readonly retryAfterSeconds: number;
  readonly maxAttempts: number;
  readonly retryBudgetMs: number;
}

export type BackpressureConfig = RejectWith429Config | SampleOrShedConfig | QueueAndSlowAcceptConfig;

/**
 * Limits on one `multipart/form-data` body. Each is inclusive: a body exactly at a limit is
 * accepted, one byte or one part over it is a 413 that names the limit.
 */
export interface MultipartLimits {
  /** Parts of any kind, fields and files together. */
  readonly maxParts: number;
  /** Parts that are not files. */
  readonly maxFields: number;
  /** Bytes in one field value. */
  readonly maxFieldBytes: number;
  /** Parts that are files (a filename, or the type application/octet-stream). */
  readonly maxFiles: number;
  /** Bytes in one file. */
  readonly maxFileBytes: number;
  /** Bytes in all files together. */
  readonly maxTotalFileBytes: number;
}

export interface IngestConfig {
  readonly version: number;
  /** Written into every envelope as `source`. */
  readonly source: string;
  readonly streamName: string;
  readonly auth: AuthConfig;
  readonly secretCacheTtlSeconds: number;
  /** How long AWSPREVIOUS is still accepted after a rotation, in seconds. Absent: 24 hours. */
  readonly previousSecretGraceSeconds?: number;
  /**
   * Headers read under another name when absent, canonical name to fallback (Standard
   * Webhooks: `webhook-id` falls back to `svix-id`). Lower-case.
   */
  readonly headerAliases?: Readonly<Record<string, string>>;
  /** JSON pointers into each event whose values are scrubbed from every log line of the request. */
  readonly redactPaths?: readonly string[];
  /** A handshake some senders make before delivering: Slack's `url_verification`. */
  readonly challenge?: 'slackUrlVerification';
  readonly metadata: {
    readonly id?: FieldSource;
    readonly type?: FieldSource;
    readonly timestamp?: FieldSource;
    /** The sender's sub-account (Stripe Connect's `account`); when set, envelopes carry `account`. */
    readonly account?: FieldSource;
  };
  /** Events of these types go to another stream instead of `streamName`; the first match wins. */
  readonly routes?: readonly { readonly eventTypes: readonly string[]; readonly streamName: string }[];
  /** Absent: the event id. */
  readonly partitionKey?: FieldSource;
  /** Absent: every type is accepted. */
  readonly allowedEventTypes?: readonly string[];
  /** Lower-case header names copied into the envelope. */
  readonly headerAllowlist: readonly string[];
  readonly maxBodyBytes: number;
  readonly maxBatchRecords: number;
  readonly backpressure: BackpressureConfig;
  /** Where events too large for a record, and uploaded files, go. Absent: they are a 413 (files a 415). */
  readonly claimCheck?: {
    readonly bucket: string;
    readonly prefix: string;
    readonly kmsKeyId?: string;
  };
  /** Limits of `multipart/form-data` bodies, accepted only with a claim check. */
  readonly multipart?: MultipartLimits;
  /** Pinned JSON Schemas. Absent: events are not validated. */
  readonly payloadValidation?: PayloadValidationConfig;
  /** Where quarantined events go, with `payloadValidation` in quarantine mode. */
  readonly quarantineStreamName?: string;
  /** Dedup on the event id, in a DynamoDB table with a TTL. Absent: every delivery is written. */
  readonly dedup?: {
    readonly tableName: string;
    readonly ttlSeconds: number;
    readonly leaseSeconds: number;
  };
}

/** The ingest configuration the handler runs with: the document, and what follows from it. */
export interface ParsedIngestConfig extends IngestConfig {
  /** When no PutRecords call starts any more, counted from the request's start (see writeDeadlineMsFor). */
  readonly writeDeadlineMs: number;
}

/**
 * How long a request may keep trying the stream. With a queue to spill to (queueAndSlowAccept),
 * 12 s, which leaves room to spill within API Gateway's 29 seconds; otherwise 20 s.
 */
export function writeDeadlineMsFor(backpressure: Pick<BackpressureConfig, 'kind'>): number {
  return backpressure.kind === 'queueAndSlowAccept' ? 12_000 : 20_000;
}

// The rules below are checked at synth (lib/, which names the prop and the fix) and at cold start
// (the parse, which names the document's field), with the same code. Each says why a value is
// refused, or undefined when it is accepted.

/** Why `keepFraction` is not a share of events to keep under pressure, or undefined. */
export function keepFractionProblem(keepFraction: number): string | undefined {
  return keepFraction >= 0 && keepFraction < 1
    ? undefined
    : 'must be from 0 to less than 1 (0 sheds whole requests)';
}

/** The limits of a multipart body, by their names in the document. */
export const MULTIPART_LIMIT_NAMES = ['maxParts', 'maxFields', 'maxFieldBytes', 'maxFiles', 'maxFileBytes', 'maxTotalFileBytes'] as const;

/** Why a value is not a multipart limit (a count or a size in bytes), or undefined. */
export function multipartLimitProblem(limit: number): string | undefined {
  return isPositiveInt(limit) ? undefined : 'must be a whole number of at least 1';
}

/** Why a multipart file limit can never be reached under the body limit, or undefined. */
export function multipartFileSizeProblem(maxFileBytes: number, maxBodyBytes: number): string | undefined {
  return maxFileBytes > maxBodyBytes
    ? `(${maxFileBytes} bytes) is larger than the body limit (${maxBodyBytes} bytes), so it could never be reached`
    : undefined;
}

/** A header name as an allowlist holds it and the handler compares it: lower case. */
export function allowlistHeaderName(name: string): string {
  return name.toLowerCase();
}

/**
 * Why a list is not a header allowlist, or undefined: each entry a header name in lower case (see
 * allowlistHeaderName), none of NEVER_FORWARDED_HEADERS nor `credentialHeader` (the header that
 * carries the source's own credential, lower case).
 */
export function headerAllowlistProblem(names: readonly string[], credentialHeader?: string): string | undefined {
  if (!names.every((name) => name === allowlistHeaderName(name))) return 'must be a list of lower-case header names';
  const forbidden = names.filter((name) => NEVER_FORWARDED_HEADERS.includes(name) || name === credentialHeader);
  return forbidden.length === 0 ? undefined : `must not include credentials or signatures, got '${forbidden.join("', '")}'`;
}

/** Parses and validates the ingest function's configuration document. Throws ConfigError. */
export function parseIngestConfig(json: string | undefined): ParsedIngestConfig {
  const doc = readConfigDocument(json, INGEST_CONFIG_VERSION, 'this handler reads version');
  const source = requireString(doc, 'source', 'config');
  const streamName = requireString(doc, 'streamName', 'config');
  const auth = parseAuthConfig(doc.auth);
  const secretSettings = readSecretSettings(doc);
  const metadata = readMetadata(doc.metadata);
  const routes = optional(doc.routes, readRoutes);
  const partitionKey = readFieldSource(doc.partitionKey, 'partitionKey');
  const headerAliases = readHeaderAliases(doc.headerAliases, (name) => name === allowlistHeaderName(name));
  const redactPaths = optional(doc.redactPaths, (v) => {
    if (!isStringList(v, (p) => p.startsWith('/'))) throw new ConfigError('redactPaths must be a list of JSON pointers');
    return v;
  });
  const challenge = optional(doc.challenge, (v) => requireOneOf(v, ['slackUrlVerification'], 'challenge'));
  const allowedEventTypes = optional(doc.allowedEventTypes, (v) => {
    if (!isStringList(v)) throw new ConfigError('allowedEventTypes must be a list of strings');
    return v;
  });
  const headerAllowlist = readHeaderAllowlist(doc.headerAllowlist, auth);
  const maxBodyBytes = requirePositiveInt(doc, 'maxBodyBytes', 'config');
  const maxBatchRecords = requirePositiveInt(doc, 'maxBatchRecords', 'config');
  const claimCheck = optional(doc.claimCheck, readClaimCheck);
  const multipart = optional(doc.multipart, (v) => readMultipart(v, claimCheck !== undefined, maxBodyBytes));
  const payloadValidation = optional(doc.payloadValidation, (v) => parsePayloadValidationConfig(v));
  const quarantineStreamName = payloadValidation?.mode === 'quarantine'
    ? requireString(doc, 'quarantineStreamName', 'config')
    : optional(doc.quarantineStreamName, () => requireString(doc, 'quarantineStreamName', 'config'));
  const dedup = optional(doc.dedup, readDedup);
  const backpressure = readBackpressure(doc.backpressure);
  return withoutAbsent({
    version: INGEST_CONFIG_VERSION,
    source,
    streamName,
    auth,
    ...secretSettings,
    headerAliases,
    redactPaths,
    challenge,
    metadata,
    routes,
    partitionKey,
    allowedEventTypes,
    headerAllowlist,
    maxBodyBytes,
    maxBatchRecords,
    backpressure,
    claimCheck,
    multipart,
    payloadValidation,
    quarantineStreamName,
    dedup,
    writeDeadlineMs: writeDeadlineMsFor(backpressure),
  });
}

/**
 * Checks the `payloadValidation` fragment of the configuration document. Throws ConfigError.
 *
 * @param where the fragment's name in error messages
 */
export function parsePayloadValidationConfig(value: unknown, where = 'payloadValidation'): PayloadValidationConfig {
  const fragment = requireObject(value, where);
  const mode = requireOneOf(fragment.mode, ['strict', 'quarantine'], `${where}.mode`);
  const module = fragment.module;
  if (typeof module !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*\.js$/.test(module)) {
    throw new ConfigError(`${where}.module must be a file name ending in .js, such as ${PAYLOAD_SCHEMA_MODULE_FILE}`);
  }
  const sha256 = fragment.sha256;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new ConfigError(`${where}.sha256 must be 64 lower-case hex digits`);
  }
  const unmatchedTypes = requireOneOf(fragment.unmatchedTypes, ['accept', 'reject'], `${where}.unmatchedTypes`);
  return { mode, module, sha256, unmatchedTypes };
}

/** The credential header of an auth config, lower case: the one header an allowlist must never name besides NEVER_FORWARDED_HEADERS. */
function credentialHeaderOf(auth: AuthConfig): string | undefined {
  switch (auth.kind) {
    case 'hmac':
    case 'ed25519':
      return auth.signatureHeader;
    case 'bearer':
      return auth.header;
    default:
      return undefined;
  }
}

function readHeaderAllowlist(value: unknown, auth: AuthConfig): string[] {
  if (!isStringList(value)) throw new ConfigError('headerAllowlist must be a list of lower-case header names');
  refuseIf(headerAllowlistProblem(value, credentialHeaderOf(auth)), 'headerAllowlist');
  return value;
}

function readFieldSource(value: unknown, where: string): FieldSource | undefined {
  return optional(value, (v) => {
    const source = requireObject(v, where);
    const { header, jsonPointer } = source;
    if (typeof header === 'string' && header.length > 0) return { header };
    if (typeof jsonPointer === 'string' && (jsonPointer === '' || jsonPointer.startsWith('/'))) return { jsonPointer };
    throw new ConfigError(`${where} must name a header or a JSON pointer`);
  });
}

function readMetadata(value: unknown): IngestConfig['metadata'] {
  const metadata = requireObject(value, 'metadata');
  const [id, type, timestamp, account] = (['id', 'type', 'timestamp', 'account'] as const)
    .map((key) => readFieldSource(metadata[key], `metadata.${key}`));
  return withoutAbsent({ id, type, timestamp, account });
}

function readRoutes(value: unknown): NonNullable<IngestConfig['routes']> {
  if (!Array.isArray(value)) throw new ConfigError('routes must be a list');
  return value.map((item: unknown, i) => {
    const route = requireObject(item, `routes[${i}]`);
    const streamName = requireString(route, 'streamName', `routes[${i}]`);
    return { eventTypes: requireStringList(route, 'eventTypes', `routes[${i}]`), streamName };
  });
}

function readClaimCheck(value: unknown): NonNullable<IngestConfig['claimCheck']> {
  const claimCheck = requireObject(value, 'claimCheck');
  const bucket = requireString(claimCheck, 'bucket', 'claimCheck');
  const prefix = claimCheck.prefix;
  if (typeof prefix !== 'string') throw new ConfigError('claimCheck.prefix must be a string');
  const kmsKeyId = optional(claimCheck.kmsKeyId, () => requireString(claimCheck, 'kmsKeyId', 'claimCheck'));
  return withoutAbsent({ bucket, prefix, kmsKeyId });
}

function readMultipart(value: unknown, hasClaimCheck: boolean, maxBodyBytes: number): MultipartLimits {
  if (!isObject(value) || !hasClaimCheck) throw new ConfigError('multipart must be an object, and needs claimCheck');
  const [maxParts, maxFields, maxFieldBytes, maxFiles, maxFileBytes, maxTotalFileBytes] = MULTIPART_LIMIT_NAMES.map((name) => {
    const limit = requireNumber(value, name, 'multipart');
    refuseIf(multipartLimitProblem(limit), `multipart.${name}`);
    return limit;
  });
  refuseIf(multipartFileSizeProblem(maxFileBytes, maxBodyBytes), 'multipart.maxFileBytes');
  return { maxParts, maxFields, maxFieldBytes, maxFiles, maxFileBytes, maxTotalFileBytes };
}

function readDedup(value: unknown): NonNullable<IngestConfig['dedup']> {
  const dedup = requireObject(value, 'dedup');
  return {
    tableName: requireString(dedup, 'tableName', 'dedup'),
    ttlSeconds: requirePositiveInt(dedup, 'ttlSeconds', 'dedup'),
    leaseSeconds: requirePositiveInt(dedup, 'leaseSeconds', 'dedup'),
  };
}

function readBackpressure(value: unknown): BackpressureConfig {
  const bp = requireObject(value, 'backpressure');
  const kind = requireOneOf(bp.kind, ['rejectWith429', 'sampleOrShed', 'queueAndSlowAccept'], 'backpressure.kind');
  const retryAfterSeconds = kind === 'sampleOrShed' ? 0 : requirePositiveInt(bp, 'retryAfterSeconds', 'backpressure');
  switch (kind) {
    case 'rejectWith429':
      return { kind, retryAfterSeconds, ...readRetries(bp) };
    case 'queueAndSlowAccept': {
      const queueUrl = requireString(bp, 'queueUrl', 'backpressure');
      const queueWindowMs = requirePositiveInt(bp, 'queueWindowMs', 'backpressure');
      return { kind, queueUrl, queueWindowMs, retryAfterSeconds, ...readRetries(bp) };
    }
    case 'sampleOrShed': {
      const keepFraction = requireNumber(bp, 'keepFraction', 'backpressure');
      refuseIf(keepFractionProblem(keepFraction), 'backpressure.keepFraction');
      const pressureWindowMs = requirePositiveInt(bp, 'pressureWindowMs', 'backpressure');
      return { kind, keepFraction, pressureWindowMs, ...readRetries(bp) };
    }
  }
}

function readRetries(bp: JsonObject): { maxAttempts: number; retryBudgetMs: number } {
  return {
    maxAttempts: requirePositiveInt(bp, 'maxAttempts', 'backpressure'),
    retryBudgetMs: requirePositiveInt(bp, 'retryBudgetMs', 'backpressure'),
  };
}
