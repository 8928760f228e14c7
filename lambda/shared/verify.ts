import { createHash, createHmac, createPublicKey, timingSafeEqual, verify as verifySignatureBytes, type KeyObject } from 'node:crypto';
import type { Ed25519AuthConfig, HmacAuthConfig, SignatureEncodingName, SignedRequestConfig } from './config';
import {
  MissingCredentialsError,
  SignatureMismatchError,
  TimestampOutsideToleranceError,
} from './errors';
import { singleHeader, type WebhookRequest } from './http';

/** What verification proved about the request. */
export interface VerifiedRequest {
  /** The signed timestamp, in Unix seconds, when the scheme signs one. */
  readonly signedTimestamp?: number;
}

type ContentPart =
  | { readonly kind: 'literal'; readonly bytes: Buffer }
  | { readonly kind: 'body' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'header'; readonly name: string };

const PLACEHOLDER = /\{(body|timestamp|header:[^}]+)\}/g;
const templates = new Map<string, readonly ContentPart[]>();

/** Splits a signed-content template such as `{timestamp}.{body}` into parts, once per template. */
export function compileSignedContent(template: string): readonly ContentPart[] {
  const cached = templates.get(template);
  if (cached) return cached;
  const parts: ContentPart[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push({ kind: 'literal', bytes: Buffer.from(template.slice(last, match.index), 'utf8') });
    const token = match[1];
    if (token === 'body') parts.push({ kind: 'body' });
    else if (token === 'timestamp') parts.push({ kind: 'timestamp' });
    else parts.push({ kind: 'header', name: token.slice('header:'.length).toLowerCase() });
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push({ kind: 'literal', bytes: Buffer.from(template.slice(last), 'utf8') });
  templates.set(template, parts);
  return parts;
}

interface SignatureHeader {
  readonly signatures: readonly string[];
  readonly timestamp?: string;
}

function readSignatureHeader(config: SignedRequestConfig, request: WebhookRequest): SignatureHeader {
  const value = singleHeader(request, config.signatureHeader);
  if (value === undefined || value.trim() === '') {
    throw new MissingCredentialsError(`missing ${config.signatureHeader} header`);
  }
  const timestampFromHeader = () => (config.timestampHeader === undefined ? undefined : singleHeader(request, config.timestampHeader));
  const format = config.signatureFormat;
  switch (format.kind) {
    case 'plain': {
      const prefix = format.prefix ?? '';
      if (!value.startsWith(prefix)) throw new SignatureMismatchError();
      return { signatures: [value.slice(prefix.length).trim()], timestamp: timestampFromHeader() };
    }
    case 'versionedList': {
      // Entries of other versions (v1a next to v1) belong to another verifier and are skipped.
      const signatures = value.split(format.entrySeparator)
        .map((entry) => entry.trim())
        .filter((entry) => entry.startsWith(`${format.version}${format.versionSeparator}`))
        .map((entry) => entry.slice(format.version.length + format.versionSeparator.length));
      if (signatures.length === 0) {
        throw new MissingCredentialsError(`no ${format.version} signature in ${config.signatureHeader} header`);
      }
      return { signatures, timestamp: timestampFromHeader() };
    }
    case 'keyValueList': {
      const signatures: string[] = [];
      const timestamps: string[] = [];
      for (const item of value.split(format.separator)) {
        const eq = item.indexOf('=');
        if (eq <= 0) continue;
        const key = item.slice(0, eq).trim();
        const val = item.slice(eq + 1).trim();
        if (key === format.signatureKey) signatures.push(val);
        else if (key === format.timestampKey) timestamps.push(val);
      }
      if (signatures.length === 0) {
        throw new MissingCredentialsError(`no ${format.signatureKey} signature in ${config.signatureHeader} header`);
      }
      if (timestamps.length > 1) throw new SignatureMismatchError();
      return { signatures, timestamp: timestamps[0] };
    }
  }
}

function decodeSignature(signature: string, encoding: SignatureEncodingName): Buffer | undefined {
  if (encoding === 'hex') {
    return /^(?:[0-9a-fA-F]{2})+$/.test(signature) ? Buffer.from(signature, 'hex') : undefined;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return undefined;
  // Only the canonical encoding: other spellings of the same bytes (unused low bits set) are refused.
  const bytes = Buffer.from(signature, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === signature.replace(/=+$/, '') ? bytes : undefined;
}

/** Equal length and equal bytes, compared in constant time. Lengths are public (they follow from the algorithm). */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Decides whether one decoded signature is valid for the signed content. */
type SignatureCheck = (content: Buffer) => (signature: Buffer) => boolean;

/**
 * The shared core of every signature scheme: read the signature header, rebuild the signed
 * content from the raw request bytes, accept when any sent signature passes `check`, and only
 * then trust the signed timestamp, which must be within the tolerance in either direction.
 */
export function verifySignedRequest(
  config: SignedRequestConfig,
  request: WebhookRequest,
  nowMs: number,
  check: SignatureCheck,
): VerifiedRequest {
  const header = readSignatureHeader(config, request);
  const parts = compileSignedContent(config.signedContent);

  let timestamp: string | undefined;
  if (parts.some((p) => p.kind === 'timestamp')) {
    timestamp = header.timestamp;
    if (timestamp === undefined || timestamp === '') throw new MissingCredentialsError('missing signed timestamp');
    // Only a plain decimal number of seconds can be signed and compared unambiguously.
    if (!/^\d{1,12}$/.test(timestamp)) throw new SignatureMismatchError();
  }

  const chunks = parts.map((part) => {
    switch (part.kind) {
      case 'literal': return part.bytes;
      case 'body': return request.rawBody;
      case 'timestamp': return Buffer.from(timestamp as string, 'utf8');
      case 'header': {
        const value = singleHeader(request, part.name);
        if (value === undefined) throw new MissingCredentialsError(`missing ${part.name} header`);
        return Buffer.from(value, 'utf8');
      }
    }
  });
  const accepts = check(Buffer.concat(chunks));
  let matched = false;
  for (const sent of header.signatures) {
    const decoded = decodeSignature(sent, config.encoding);
    // Every candidate is checked; none short-circuits the others.
    if (decoded !== undefined && accepts(decoded)) matched = true;
  }
  if (!matched) throw new SignatureMismatchError();

  if (timestamp === undefined) return {};
  const signedTimestamp = Number(timestamp);
  const tolerance = config.toleranceSeconds as number;
  if (Math.abs(nowMs / 1000 - signedTimestamp) > tolerance) {
    throw new TimestampOutsideToleranceError(tolerance);
  }
  return { signedTimestamp };
}

/** Standard Webhooks secrets are `whsec_` plus base64 (padding optional); the key is the decoded bytes. */
export function hmacKey(secret: string, encoding: HmacAuthConfig['keyEncoding']): Buffer {
  if (encoding === 'whsecBase64') return Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return Buffer.from(secret, 'utf8');
}

/** Verifies an HMAC-signed request against every active secret: any may match (rotation). */
export function verifyHmac(
  config: HmacAuthConfig,
  request: WebhookRequest,
  secrets: readonly string[],
  nowMs: number,
): VerifiedRequest {
  const keys = secrets.map((s) => hmacKey(s, config.keyEncoding));
  return verifySignedRequest(config, request, nowMs, (content) => {
    const expected = keys.map((key) => createHmac(config.algorithm, key).update(content).digest());
    return (signature) => expected.some((e) => constantTimeEqual(e, signature));
  });
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const publicKeyCache = new Map<string, KeyObject>();

/** A raw 32-byte Ed25519 public key, base64 and optionally prefixed `whpk_`, as a KeyObject. */
export function ed25519PublicKey(encoded: string): KeyObject {
  let key = publicKeyCache.get(encoded);
  if (key === undefined) {
    const raw = Buffer.from(encoded.replace(/^whpk_/, ''), 'base64');
    if (raw.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    publicKeyCache.set(encoded, key);
  }
  return key;
}

/** Verifies an Ed25519-signed request (Standard Webhooks `v1a`) against published public keys. */
export function verifyEd25519(config: Ed25519AuthConfig, request: WebhookRequest, nowMs: number): VerifiedRequest {
  const keys = config.publicKeys.map(ed25519PublicKey);
  return verifySignedRequest(config, request, nowMs, (content) => (signature) =>
    signature.length === 64 && keys.some((key) => verifySignatureBytes(null, content, key, signature)));
}

/** Orders name/value pairs as Twilio does before signing: by name, then by value. */
export function sortedPairs(pairs: readonly (readonly [string, string])[]): (readonly [string, string])[] {
  return [...pairs].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
}

/** Twilio signs the URL it called: with and without the default port, as Twilio's own libraries accept. */
function urlVariants(url: URL): string[] {
  // WHATWG URL drops a default port, so the form with the port is written out by hand.
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  return [
    `${url.protocol}//${url.host}${url.pathname}${url.search}`,
    `${url.protocol}//${url.hostname}:${port}${url.pathname}${url.search}`,
  ];
}

/**
 * Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL
 * followed by each form parameter's name and value in name order. A JSON body is instead covered
 * by a `bodySHA256` query parameter holding its hex SHA-256, and the signature covers the URL only.
 *
 * @param url the URL Twilio called, as rebuilt from the request
 * @param form the form parameters, for `application/x-www-form-urlencoded` bodies
 */
export function verifyTwilio(
  request: WebhookRequest,
  secrets: readonly string[],
  url: URL,
  form: readonly (readonly [string, string])[] | undefined,
): VerifiedRequest {
  const sent = singleHeader(request, 'x-twilio-signature');
  if (sent === undefined || sent === '') throw new MissingCredentialsError('missing x-twilio-signature header');
  const decoded = decodeSignature(sent, 'base64');

  const bodyHash = url.searchParams.get('bodySHA256');
  let suffix = '';
  if (bodyHash !== null) {
    const actual = createHash('sha256').update(request.rawBody).digest();
    const claimed = decodeSignature(bodyHash, 'hex');
    if (claimed === undefined || !constantTimeEqual(actual, claimed)) throw new SignatureMismatchError();
  } else {
    suffix = sortedPairs(form ?? []).map(([name, value]) => `${name}${value}`).join('');
  }
  let matched = false;
  for (const candidate of urlVariants(url)) {
    for (const secret of secrets) {
      const expected = createHmac('sha1', secret).update(candidate + suffix, 'utf8').digest();
      if (decoded !== undefined && constantTimeEqual(expected, decoded)) matched = true;
    }
  }
  if (!matched) throw new SignatureMismatchError();
  return {};
}
