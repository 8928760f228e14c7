/**
 * How a handler authenticates a request: the `auth` part of the ingest's and the trigger's
 * configuration documents, its types and its one parse, with the secret cache settings both share.
 * No runtime dependencies: lib/ imports it.
 */
import {
  ConfigError, isObject, isStringList, isWholeNumber, optional, requireObject, requireOneOf, requirePositiveInt,
  requireString, requireStringList, withoutAbsent, type JsonObject,
} from './config-document';

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

/** A certificate serial number as the handler compares it (see normalizeSerialNumber in ./http). */
const SERIAL_NUMBER = /^(?:0|[1-9a-f][0-9a-f]*)$/;

/** Whether `url` is a public URL Twilio may be configured to call, without its query (see TWILIO_URL). */
export function isTwilioUrl(url: string): boolean {
  if (!TWILIO_URL.test(url)) return false;
  const port = /^https:\/\/[^/]*:(\d+)/.exec(url)?.[1];
  const host = /^https:\/\/([^/:]*)/.exec(url)![1];
  return !/%(?![0-9A-Fa-f]{2})/.test(url)
    && (port === undefined || (Number(port) >= 1 && Number(port) <= 65535))
    && host.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/** Parses the `auth` part of a configuration document. Throws ConfigError. */
export function parseAuthConfig(value: unknown): AuthConfig {
  const auth = requireObject(value, 'auth');
  const kind = requireOneOf(auth.kind, ['hmac', 'ed25519', 'bearer', 'jwt', 'mtls', 'twilio'], 'auth.kind');
  switch (kind) {
    case 'hmac': return readHmacAuth(auth);
    case 'ed25519': return readEd25519Auth(auth);
    case 'bearer': return readBearerAuth(auth);
    case 'jwt': return readJwtAuth(auth);
    case 'mtls': return readMtlsAuth(auth);
    case 'twilio': return readTwilioAuth(auth);
  }
}

function readHmacAuth(auth: JsonObject): HmacAuthConfig {
  const secretArn = requireString(auth, 'secretArn', 'auth');
  const algorithm = requireOneOf(auth.algorithm, ['sha1', 'sha256', 'sha512'], 'auth.algorithm');
  const keyEncoding = optional(auth.keyEncoding, (v) => requireOneOf(v, ['utf8', 'whsecBase64'], 'auth.keyEncoding'));
  return withoutAbsent({ kind: 'hmac', secretArn, algorithm, keyEncoding, ...readSignedRequest(auth) });
}

function readEd25519Auth(auth: JsonObject): Ed25519AuthConfig {
  const publicKeys = requireStringList(auth, 'publicKeys', 'auth');
  return { kind: 'ed25519', publicKeys, ...readSignedRequest(auth) };
}

function readBearerAuth(auth: JsonObject): BearerAuthConfig {
  const secretArn = requireString(auth, 'secretArn', 'auth');
  const header = requireString(auth, 'header', 'auth');
  const scheme = optional(auth.scheme, () => requireString(auth, 'scheme', 'auth'));
  return withoutAbsent({ kind: 'bearer', secretArn, header, scheme });
}

function readJwtAuth(auth: JsonObject): JwtAuthConfig {
  const issuer = requireString(auth, 'issuer', 'auth');
  const jwksUri = requireString(auth, 'jwksUri', 'auth');
  const [audience, algorithms, requiredClaims] = ['audience', 'algorithms', 'requiredClaims'].map((key) => {
    const list = auth[key];
    if (!isStringList(list, (v) => v !== '')) throw new ConfigError(`auth.${key} must be a list of non-empty strings`);
    return list;
  });
  if (audience.length === 0 || algorithms.length === 0) {
    throw new ConfigError('auth.audience and auth.algorithms must not be empty');
  }
  const clockSkewSeconds = auth.clockSkewSeconds;
  if (!isWholeNumber(clockSkewSeconds)) throw new ConfigError('auth.clockSkewSeconds must be a whole number of seconds');
  return { kind: 'jwt', issuer, audience, jwksUri, algorithms, clockSkewSeconds, requiredClaims };
}

function readMtlsAuth(auth: JsonObject): MtlsAuthConfig {
  const allowedSubjects = optional(auth.allowedSubjects, () => requireStringList(auth, 'allowedSubjects', 'auth'));
  const allowedSerialNumbers = optional(auth.allowedSerialNumbers, () => {
    const serials = requireStringList(auth, 'allowedSerialNumbers', 'auth');
    const bad = serials.find((serial) => !SERIAL_NUMBER.test(serial));
    if (bad !== undefined) {
      throw new ConfigError(`auth.allowedSerialNumbers must be lower-case hex without separators or leading zeros, got '${bad}'`);
    }
    return serials;
  });
  const managed = optional(auth.managed, (v) => {
    if (typeof v !== 'boolean') throw new ConfigError('auth.managed must be a boolean');
    return v;
  });
  return withoutAbsent({ kind: 'mtls', allowedSubjects, allowedSerialNumbers, managed });
}

function readTwilioAuth(auth: JsonObject): TwilioAuthConfig {
  const secretArn = requireString(auth, 'secretArn', 'auth');
  const url = optional(auth.url, (v) => {
    if (!(typeof v === 'string' && isTwilioUrl(v))) {
      throw new ConfigError('auth.url must be an https URL with a host and a path, without credentials, query or fragment');
    }
    return v;
  });
  const algorithm = optional(auth.algorithm, (v) => requireOneOf(v, TWILIO_ALGORITHMS, 'auth.algorithm'));
  return withoutAbsent({ kind: 'twilio', secretArn, url, algorithm });
}

function readSignedRequest(auth: JsonObject): SignedRequestConfig {
  const encoding = requireOneOf(auth.encoding, ['hex', 'base64'], 'auth.encoding');
  const signatureHeader = requireString(auth, 'signatureHeader', 'auth');
  const signedContent = requireString(auth, 'signedContent', 'auth');
  const signatureFormat = readSignatureFormat(auth.signatureFormat);
  if (!signedContent.includes('{timestamp}')) {
    if (auth.timestampHeader !== undefined || auth.toleranceSeconds !== undefined) {
      throw new ConfigError('auth.timestampHeader and auth.toleranceSeconds need a signed {timestamp}');
    }
    return { signatureHeader, signatureFormat, encoding, signedContent };
  }
  // keyValueList carries the signed timestamp in the signature header itself.
  const timestampHeader = signatureFormat.kind === 'keyValueList'
    ? optional(auth.timestampHeader, () => requireString(auth, 'timestampHeader', 'auth'))
    : requireString(auth, 'timestampHeader', 'auth');
  const toleranceSeconds = requirePositiveInt(auth, 'toleranceSeconds', 'auth');
  return withoutAbsent({ signatureHeader, signatureFormat, encoding, signedContent, timestampHeader, toleranceSeconds });
}

function readSignatureFormat(value: unknown): SignatureFormat {
  const format = requireObject(value, 'auth.signatureFormat');
  const kind = requireOneOf(format.kind, ['plain', 'keyValueList', 'versionedList'], 'auth.signatureFormat.kind');
  const read = (key: string) => requireString(format, key, 'auth.signatureFormat');
  switch (kind) {
    case 'plain': {
      const prefix = format.prefix;
      if (prefix !== undefined && typeof prefix !== 'string') throw new ConfigError('auth.signatureFormat.prefix must be a string');
      return withoutAbsent({ kind, prefix });
    }
    case 'keyValueList':
      return { kind, separator: read('separator'), timestampKey: read('timestampKey'), signatureKey: read('signatureKey') };
    case 'versionedList':
      return { kind, entrySeparator: read('entrySeparator'), versionSeparator: read('versionSeparator'), version: read('version') };
  }
}

/** How a handler caches its signing secret: the settings the ingest and trigger documents share. */
export interface SecretSettingsConfig {
  readonly secretCacheTtlSeconds: number;
  /** How long AWSPREVIOUS is still accepted after a rotation, in seconds. Absent: 24 hours. */
  readonly previousSecretGraceSeconds?: number;
}

/** Reads the secret cache settings that the ingest and trigger configurations share. Throws ConfigError. */
export function readSecretSettings(doc: JsonObject): SecretSettingsConfig {
  const secretCacheTtlSeconds = requirePositiveInt(doc, 'secretCacheTtlSeconds', 'config');
  const previousSecretGraceSeconds = optional(doc.previousSecretGraceSeconds, (v) => {
    if (!isWholeNumber(v)) throw new ConfigError('previousSecretGraceSeconds must be a whole number of seconds, 0 or more');
    return v;
  });
  return withoutAbsent({ secretCacheTtlSeconds, previousSecretGraceSeconds });
}

/** Reads `headerAliases`: a map from header names to header names, each passing `isHeaderName`. Throws ConfigError. */
export function readHeaderAliases(value: unknown, isHeaderName: (name: string) => boolean): Readonly<Record<string, string>> | undefined {
  const refuse = () => new ConfigError('headerAliases must map lower-case header names to lower-case header names');
  return optional(value, (v) => {
    if (!isObject(v)) throw refuse();
    const aliases: Record<string, string> = {};
    for (const [name, alias] of Object.entries(v)) {
      if (!(isHeaderName(name) && typeof alias === 'string' && isHeaderName(alias))) throw refuse();
      aliases[name] = alias;
    }
    return aliases;
  });
}
