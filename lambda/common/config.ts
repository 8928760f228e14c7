/**
 * The contract between the constructs (lib/) and the handlers (lambda/).
 *
 * A construct serializes one versioned JSON document into the function's environment; the
 * handler parses and validates it once, at cold start. This file has no runtime dependencies so
 * that lib/ can import its types and constants.
 */

import type { PayloadValidationConfig } from '../ingest/schema-runtime';

/** Bumped whenever the document changes shape. A handler refuses any other version. */
export const INGEST_CONFIG_VERSION = 1;

/** The environment variable that carries the JSON document. */
export const CONFIG_ENV_VAR = 'WEBHOOK_INGRESS_CONFIG';

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

/** Kinesis limits that the writer and the constructs both respect. */
export const KINESIS_LIMITS = {
  /** Records in one PutRecords call. */
  maxRecordsPerCall: 500,
  /** Bytes of data plus partition keys in one PutRecords call (5 MiB). */
  maxBytesPerCall: 5 * 1024 * 1024,
  /** Bytes of data plus partition key in one record (1 MiB). */
  maxBytesPerRecord: 1024 * 1024,
  /** Unicode characters in a partition key. */
  maxPartitionKeyLength: 256,
} as const;

/** Where a value comes from: a request header, or a JSON pointer (RFC 6901) into each event. */
export type FieldSource = { readonly header: string } | { readonly jsonPointer: string };

export type HmacAlgorithmName = 'sha1' | 'sha256' | 'sha512';
export type SignatureEncodingName = 'hex' | 'base64';

/**
 * How signatures are carried in the signature header.
 * - `plain`: the header holds one signature, after an optional prefix (GitHub: `sha256=`).
 * - `keyValueList`: `k=v` pairs split by `separator`; the timestamp is the value of
 *   `timestampKey` and every value of `signatureKey` is a candidate signature (Stripe:
 *   `t=...,v1=...,v1=...`).
 * - `versionedList`: entries split by `entrySeparator`, each `<version><versionSeparator><sig>`;
 *   only entries of `version` are candidates (Standard Webhooks: `v1,<b64> v1a,<b64>`).
 */
export type SignatureFormat =
  | { readonly kind: 'plain'; readonly prefix?: string }
  | {
    readonly kind: 'keyValueList';
    readonly separator: string;
    readonly timestampKey: string;
    readonly signatureKey: string;
  }
  | {
    readonly kind: 'versionedList';
    readonly entrySeparator: string;
    readonly versionSeparator: string;
    readonly version: string;
  };

/** What every signature scheme shares: where the signature is, how it is written, what it covers. */
export interface SignedRequestConfig {
  /** Lower-case header name. */
  readonly signatureHeader: string;
  readonly signatureFormat: SignatureFormat;
  readonly encoding: SignatureEncodingName;
  /**
   * The signed content, as a template over the raw request: `{body}` (the raw bytes),
   * `{timestamp}` (the signed timestamp) and `{header:name}`.
   */
  readonly signedContent: string;
  /** Lower-case header that carries the timestamp, for signatures that sign one outside the signature header. */
  readonly timestampHeader?: string;
  /** Allowed distance between the signed timestamp and now. Present exactly when a timestamp is signed. */
  readonly toleranceSeconds?: number;
}

/** A shared-secret HMAC. The secret's value is the key. */
export interface HmacAuthConfig extends SignedRequestConfig {
  readonly kind: 'hmac';
  readonly secretArn: string;
  readonly algorithm: HmacAlgorithmName;
  /**
   * How a secret value becomes key bytes: its UTF-8 bytes, or Standard Webhooks' `whsec_<base64>`
   * (the prefix optional, padding optional). Absent: UTF-8.
   */
  readonly keyEncoding?: 'utf8' | 'whsecBase64';
}

/** An Ed25519 signature, checked with published public keys (no secret). */
export interface Ed25519AuthConfig extends SignedRequestConfig {
  readonly kind: 'ed25519';
  /** Raw 32-byte public keys, base64, optionally prefixed `whpk_`. Any may match (rotation). */
  readonly publicKeys: readonly string[];
}

/** A static bearer token. The secret holds every active token. */
export interface BearerAuthConfig {
  readonly kind: 'bearer';
  readonly secretArn: string;
  /** Lower-case header that carries the token. */
  readonly header: string;
  /** Text before the token, compared case-insensitively, such as `Bearer `. Absent: none. */
  readonly scheme?: string;
}

/** The TLS client certificate API Gateway verified at the custom domain. */
export interface MtlsAuthConfig {
  readonly kind: 'mtls';
  /** Subject DNs allowed, exactly as API Gateway reports them. Absent: any certificate the truststore accepts. */
  readonly allowedSubjects?: readonly string[];
  /** Lower-case hex serial numbers (no separators, no leading zeros) of the only certificates accepted: a managed CA's issued, unrevoked client certificates. Absent: any certificate the truststore accepts. */
  readonly allowedSerialNumbers?: readonly string[];
  /** Managed mutual TLS: a request without a client certificate is refused with 403, like a revoked one. Absent: 401. */
  readonly managed?: boolean;
}

/**
 * The algorithms Twilio's `X-Twilio-Webhooks-Signature-Settings` header may name. Without the
 * header, Twilio signs with HMAC-SHA1.
 */
export const TWILIO_ALGORITHMS = ['HMAC_SHA1', 'HMAC_SHA256'] as const;
export type TwilioAlgorithmName = typeof TWILIO_ALGORITHMS[number];

/**
 * A public URL Twilio may be configured to call, without its query: https, a host, an optional
 * port, a path; no credentials, query or fragment, and only printable ASCII.
 */
export const TWILIO_URL = /^https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/[!$&'()*+,;=:@%/~A-Za-z0-9._-]*)?$/;

/**
 * Twilio's X-Twilio-Signature: a base64 HMAC over the URL Twilio called plus the sorted form
 * parameters, or a bodySHA256 query parameter for other bodies. HMAC-SHA1, or the algorithm that
 * `X-Twilio-Webhooks-Signature-Settings` names.
 */
export interface TwilioAuthConfig {
  readonly kind: 'twilio';
  readonly secretArn: string;
  /**
   * The public URL Twilio calls, without the query (see TWILIO_URL). Absent: https, API
   * Gateway's `requestContext.domainName` and `requestContext.path`. Never the Host header.
   */
  readonly url?: string;
  /**
   * The only algorithm accepted; a request announcing another (or, for HMAC_SHA256, none) is
   * refused. Absent: HMAC-SHA1 unless the settings header announces HMAC_SHA256.
   */
  readonly algorithm?: TwilioAlgorithmName;
}

/** JWT bearer tokens from an identity provider, verified against its JWKS. */
export interface JwtAuthConfig {
  readonly kind: 'jwt';
  /** The exact `iss` a token must carry. */
  readonly issuer: string;
  /** `aud` values accepted; a token must carry at least one. */
  readonly audience: readonly string[];
  /** The IdP's JWKS document, over HTTPS. */
  readonly jwksUri: string;
  /** JWS `alg` values accepted, such as RS256 or ES256. Never `none` or an HMAC algorithm. */
  readonly algorithms: readonly string[];
  /** Clock skew allowed on `exp`, `nbf` and `iat`. */
  readonly clockSkewSeconds: number;
  /** Claims every token must carry (any value). */
  readonly requiredClaims: readonly string[];
}

export type AuthConfig = HmacAuthConfig | Ed25519AuthConfig | BearerAuthConfig | JwtAuthConfig | MtlsAuthConfig | TwilioAuthConfig;

/** Auth configs that read a Secrets Manager secret. */
export function secretArnOf(auth: AuthConfig): string | undefined {
  return 'secretArn' in auth ? auth.secretArn : undefined;
}

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

/** Thrown when the configuration document is unusable. A deployment bug, never a sender's. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(`invalid ${CONFIG_ENV_VAR}: ${message}`);
    this.name = 'ConfigError';
  }
}

/**
 * The common start of every function's configuration: the variable is set, is a JSON object, and
 * has the version this code reads (`reader` says who, in the error: "this drain reads version").
 */
export function readConfigDocument(json: string | undefined, version: number, reader: string): Record<string, unknown> {
  if (json === undefined || json === '') throw new ConfigError('the variable is not set');
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new ConfigError('not JSON');
  }
  if (!isObject(doc)) throw new ConfigError('must be a JSON object');
  if (doc.version !== version) {
    throw new ConfigError(`version ${String(doc.version)} is not supported; ${reader} ${version}`);
  }
  return doc;
}

/** A JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the secret cache settings that the ingest and trigger configurations share. */
export function checkSecretSettings(doc: Record<string, unknown>): void {
  requirePositiveInt(doc, 'secretCacheTtlSeconds', 'config');
  if (doc.previousSecretGraceSeconds !== undefined && !(Number.isInteger(doc.previousSecretGraceSeconds) && (doc.previousSecretGraceSeconds as number) >= 0)) {
    throw new ConfigError('previousSecretGraceSeconds must be a whole number of seconds, 0 or more');
  }
}

/** `obj[key]` as a non-empty string, or a ConfigError naming `where.key`. */
export function requireString(obj: Record<string, unknown>, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(`${where}.${key} must be a non-empty string`);
  }
  return value;
}

/** `obj[key]` as a positive integer, or a ConfigError naming `where.key`. */
export function requirePositiveInt(obj: Record<string, unknown>, key: string, where: string): number {
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`${where}.${key} must be a positive integer`);
  }
  return value;
}

function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], where: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`${where} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function checkFieldSource(value: unknown, where: string): void {
  if (value === undefined) return;
  if (!isObject(value)) throw new ConfigError(`${where} must be an object`);
  if (typeof value.header === 'string' && value.header.length > 0) return;
  if (typeof value.jsonPointer === 'string' && (value.jsonPointer === '' || value.jsonPointer.startsWith('/'))) return;
  throw new ConfigError(`${where} must name a header or a JSON pointer`);
}

function checkJwtAuth(auth: Record<string, unknown>): void {
  requireString(auth, 'issuer', 'auth');
  requireString(auth, 'jwksUri', 'auth');
  for (const key of ['audience', 'algorithms', 'requiredClaims']) {
    const value = auth[key];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
      throw new ConfigError(`auth.${key} must be a list of non-empty strings`);
    }
  }
  if ((auth.audience as string[]).length === 0 || (auth.algorithms as string[]).length === 0) {
    throw new ConfigError('auth.audience and auth.algorithms must not be empty');
  }
  if (typeof auth.clockSkewSeconds !== 'number' || !Number.isInteger(auth.clockSkewSeconds) || auth.clockSkewSeconds < 0) {
    throw new ConfigError('auth.clockSkewSeconds must be a whole number of seconds');
  }
}

function checkSignedRequest(auth: Record<string, unknown>): void {
  checkOneOf(auth.encoding, ['hex', 'base64'], 'auth.encoding');
  requireString(auth, 'signatureHeader', 'auth');
  const content = requireString(auth, 'signedContent', 'auth');
  const format = auth.signatureFormat;
  if (!isObject(format)) throw new ConfigError('auth.signatureFormat must be an object');
  const kind = checkOneOf(format.kind, ['plain', 'keyValueList', 'versionedList'], 'auth.signatureFormat.kind');
  if (kind === 'keyValueList') {
    for (const key of ['separator', 'timestampKey', 'signatureKey']) requireString(format, key, 'auth.signatureFormat');
  }
  if (kind === 'versionedList') {
    for (const key of ['entrySeparator', 'versionSeparator', 'version']) requireString(format, key, 'auth.signatureFormat');
  }
  const signsTimestamp = content.includes('{timestamp}');
  if (signsTimestamp) {
    if (kind !== 'keyValueList') requireString(auth, 'timestampHeader', 'auth');
    requirePositiveInt(auth, 'toleranceSeconds', 'auth');
  } else if (auth.timestampHeader !== undefined || auth.toleranceSeconds !== undefined) {
    throw new ConfigError('auth.timestampHeader and auth.toleranceSeconds need a signed {timestamp}');
  }
}

function checkStringList(obj: Record<string, unknown>, key: string, where: string): void {
  const value = obj[key];
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw new ConfigError(`${where}.${key} must be a non-empty list of non-empty strings`);
  }
}

/** Whether `url` is a public URL Twilio may be configured to call, without its query (see TWILIO_URL). */
export function isTwilioUrl(url: string): boolean {
  if (!TWILIO_URL.test(url)) return false;
  const port = /^https:\/\/[^/]*:(\d+)/.exec(url)?.[1];
  const host = /^https:\/\/([^/:]*)/.exec(url)![1];
  return !/%(?![0-9A-Fa-f]{2})/.test(url)
    && (port === undefined || (Number(port) >= 1 && Number(port) <= 65535))
    && host.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/** A certificate serial number as the handler compares it (see normalizeSerialNumber in ./http). */
const SERIAL_NUMBER = /^(?:0|[1-9a-f][0-9a-f]*)$/;

export function checkAuth(auth: unknown): void {
  if (!isObject(auth)) throw new ConfigError('auth must be an object');
  const kind = checkOneOf(auth.kind, ['hmac', 'ed25519', 'bearer', 'jwt', 'mtls', 'twilio'], 'auth.kind');
  switch (kind) {
    case 'hmac':
      requireString(auth, 'secretArn', 'auth');
      checkOneOf(auth.algorithm, ['sha1', 'sha256', 'sha512'], 'auth.algorithm');
      if (auth.keyEncoding !== undefined) checkOneOf(auth.keyEncoding, ['utf8', 'whsecBase64'], 'auth.keyEncoding');
      checkSignedRequest(auth);
      return;
    case 'ed25519':
      checkStringList(auth, 'publicKeys', 'auth');
      checkSignedRequest(auth);
      return;
    case 'bearer':
      requireString(auth, 'secretArn', 'auth');
      requireString(auth, 'header', 'auth');
      return;
    case 'jwt':
      checkJwtAuth(auth);
      return;
    case 'mtls':
      if (auth.allowedSubjects !== undefined) checkStringList(auth, 'allowedSubjects', 'auth');
      if (auth.allowedSerialNumbers !== undefined) {
        checkStringList(auth, 'allowedSerialNumbers', 'auth');
        const bad = (auth.allowedSerialNumbers as string[]).find((serial) => !SERIAL_NUMBER.test(serial));
        if (bad !== undefined) {
          throw new ConfigError(`auth.allowedSerialNumbers must be lower-case hex without separators or leading zeros, got '${bad}'`);
        }
      }
      if (auth.managed !== undefined && typeof auth.managed !== 'boolean') throw new ConfigError('auth.managed must be a boolean');
      return;
    case 'twilio':
      requireString(auth, 'secretArn', 'auth');
      if (auth.url !== undefined && !(typeof auth.url === 'string' && isTwilioUrl(auth.url))) {
        throw new ConfigError('auth.url must be an https URL with a host and a path, without credentials, query or fragment');
      }
      if (auth.algorithm !== undefined) checkOneOf(auth.algorithm, TWILIO_ALGORITHMS, 'auth.algorithm');
      return;
  }
}

/** Parses and validates the configuration document. Throws ConfigError. */
export function parseIngestConfig(json: string | undefined): IngestConfig {
  const doc = readConfigDocument(json, INGEST_CONFIG_VERSION, 'this handler reads version');
  requireString(doc, 'source', 'config');
  requireString(doc, 'streamName', 'config');
  checkAuth(doc.auth);
  checkSecretSettings(doc);
  if (!isObject(doc.metadata)) throw new ConfigError('metadata must be an object');
  for (const key of ['id', 'type', 'timestamp', 'account']) checkFieldSource(doc.metadata[key], `metadata.${key}`);
  if (doc.routes !== undefined) {
    if (!Array.isArray(doc.routes)) throw new ConfigError('routes must be a list');
    doc.routes.forEach((route, i) => {
      if (!isObject(route)) throw new ConfigError(`routes[${i}] must be an object`);
      requireString(route, 'streamName', `routes[${i}]`);
      checkStringList(route, 'eventTypes', `routes[${i}]`);
    });
  }
  checkFieldSource(doc.partitionKey, 'partitionKey');
  if (doc.headerAliases !== undefined && !(isObject(doc.headerAliases)
    && Object.entries(doc.headerAliases).every(([k, v]) => k === k.toLowerCase() && typeof v === 'string' && v === v.toLowerCase()))) {
    throw new ConfigError('headerAliases must map lower-case header names to lower-case header names');
  }
  if (doc.redactPaths !== undefined && !(Array.isArray(doc.redactPaths) && doc.redactPaths.every((p) => typeof p === 'string' && p.startsWith('/')))) {
    throw new ConfigError('redactPaths must be a list of JSON pointers');
  }
  if (doc.challenge !== undefined) checkOneOf(doc.challenge, ['slackUrlVerification'], 'challenge');
  if (doc.allowedEventTypes !== undefined
    && !(Array.isArray(doc.allowedEventTypes) && doc.allowedEventTypes.every((t) => typeof t === 'string'))) {
    throw new ConfigError('allowedEventTypes must be a list of strings');
  }
  if (!Array.isArray(doc.headerAllowlist) || !doc.headerAllowlist.every((h) => typeof h === 'string' && h === h.toLowerCase())) {
    throw new ConfigError('headerAllowlist must be a list of lower-case header names');
  }
  requirePositiveInt(doc, 'maxBodyBytes', 'config');
  requirePositiveInt(doc, 'maxBatchRecords', 'config');
  if (doc.claimCheck !== undefined) {
    if (!isObject(doc.claimCheck)) throw new ConfigError('claimCheck must be an object');
    requireString(doc.claimCheck, 'bucket', 'claimCheck');
    if (typeof doc.claimCheck.prefix !== 'string') throw new ConfigError('claimCheck.prefix must be a string');
  }
  if (doc.multipart !== undefined) {
    if (!isObject(doc.multipart) || doc.claimCheck === undefined) throw new ConfigError('multipart must be an object, and needs claimCheck');
    for (const key of ['maxParts', 'maxFields', 'maxFieldBytes', 'maxFiles', 'maxFileBytes', 'maxTotalFileBytes']) requirePositiveInt(doc.multipart, key, 'multipart');
  }
  if (isObject(doc.payloadValidation) && doc.payloadValidation.mode === 'quarantine') {
    requireString(doc, 'quarantineStreamName', 'config');
  }
  if (doc.dedup !== undefined) {
    if (!isObject(doc.dedup)) throw new ConfigError('dedup must be an object');
    requireString(doc.dedup, 'tableName', 'dedup');
    requirePositiveInt(doc.dedup, 'ttlSeconds', 'dedup');
    requirePositiveInt(doc.dedup, 'leaseSeconds', 'dedup');
  }
  const bp = doc.backpressure;
  if (!isObject(bp)) throw new ConfigError('backpressure must be an object');
  const policy = checkOneOf(bp.kind, ['rejectWith429', 'sampleOrShed', 'queueAndSlowAccept'], 'backpressure.kind');
  if (policy !== 'sampleOrShed') requirePositiveInt(bp, 'retryAfterSeconds', 'backpressure');
  if (policy === 'queueAndSlowAccept') {
    requireString(bp, 'queueUrl', 'backpressure');
    requirePositiveInt(bp, 'queueWindowMs', 'backpressure');
  }
  if (policy === 'sampleOrShed') {
    if (typeof bp.keepFraction !== 'number' || !(bp.keepFraction >= 0 && bp.keepFraction < 1)) {
      throw new ConfigError('backpressure.keepFraction must be a number from 0 to less than 1');
    }
    requirePositiveInt(bp, 'pressureWindowMs', 'backpressure');
  }
  requirePositiveInt(bp, 'maxAttempts', 'backpressure');
  requirePositiveInt(bp, 'retryBudgetMs', 'backpressure');
  return doc as unknown as IngestConfig;
}
