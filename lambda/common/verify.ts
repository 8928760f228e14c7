import { createHash, createHmac, createPublicKey, timingSafeEqual, verify as verifySignatureBytes, type KeyObject } from 'node:crypto';
import { TWILIO_ALGORITHMS, type Ed25519AuthConfig, type HmacAuthConfig, type SignatureEncodingName, type SignedRequestConfig, type TwilioAlgorithmName } from './auth-config';
import {
  MissingCredentialsError,
  SignatureMismatchError,
  TimestampOutsideToleranceError,
  WebhookError,
} from './errors';
import { singleHeader, type WebhookRequest } from './http';

/** What verification proved about the request. */
export interface VerifiedRequest {
  /** The signed timestamp, in Unix seconds, when the scheme signs one. */
  readonly signedTimestamp?: number;
}

type ContentPart =
  | { readonly kind: 'literal'; readonly bytes: Buffer; readonly text: string }
  | { readonly kind: 'body' }
  | { readonly kind: 'timestamp' }
  | { readonly kind: 'header'; readonly name: string };

const PLACEHOLDER = /\{(body|timestamp|header:[^}]+)\}/g;

/** A signed-content template, split once: its parts, and whether it signs a timestamp. */
interface CompiledTemplate {
  readonly parts: readonly ContentPart[];
  readonly signsTimestamp: boolean;
}

const templates = new Map<string, CompiledTemplate>();

const literalPart = (text: string): ContentPart => ({ kind: 'literal', bytes: Buffer.from(text, 'utf8'), text });

function compileTemplate(template: string): CompiledTemplate {
  const cached = templates.get(template);
  if (cached) return cached;
  const parts: ContentPart[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push(literalPart(template.slice(last, match.index)));
    const token = match[1];
    if (token === 'body') parts.push({ kind: 'body' });
    else if (token === 'timestamp') parts.push({ kind: 'timestamp' });
    else parts.push({ kind: 'header', name: token.slice('header:'.length).toLowerCase() });
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push(literalPart(template.slice(last)));
  const compiled = { parts, signsTimestamp: parts.some((p) => p.kind === 'timestamp') };
  templates.set(template, compiled);
  return compiled;
}

/** Splits a signed-content template such as `{timestamp}.{body}` into parts, once per template. */
export function compileSignedContent(template: string): readonly ContentPart[] {
  return compileTemplate(template).parts;
}

interface SignatureHeader {
  readonly signatures: readonly string[];
  readonly timestamp?: string;
}

function timestampFromHeader(config: SignedRequestConfig, request: WebhookRequest): string | undefined {
  return config.timestampHeader === undefined ? undefined : singleHeader(request, config.timestampHeader);
}

function readSignatureHeader(config: SignedRequestConfig, request: WebhookRequest): SignatureHeader {
  const value = singleHeader(request, config.signatureHeader);
  if (value === undefined || value.trim() === '') {
    throw new MissingCredentialsError(`missing ${config.signatureHeader} header`);
  }
  const format = config.signatureFormat;
  switch (format.kind) {
    case 'plain': {
      const prefix = format.prefix ?? '';
      if (!value.startsWith(prefix)) throw new SignatureMismatchError();
      return { signatures: [value.slice(prefix.length).trim()], timestamp: timestampFromHeader(config, request) };
    }
    case 'versionedList': {
      // Entries of other versions (v1a next to v1) belong to another verifier and are skipped.
      const prefix = `${format.version}${format.versionSeparator}`;
      const signatures: string[] = [];
      for (const item of value.split(format.entrySeparator)) {
        const entry = item.trim();
        if (entry.startsWith(prefix)) signatures.push(entry.slice(prefix.length));
      }
      if (signatures.length === 0) {
        throw new MissingCredentialsError(`no ${format.version} signature in ${config.signatureHeader} header`);
      }
      return { signatures, timestamp: timestampFromHeader(config, request) };
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

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Whether base64 text (alphabet, then at most two `=`) is the canonical spelling of its bytes:
 * its length without padding leaves no lone character, and the bits of its last character that
 * fall beyond the last byte are zero. Other spellings decode to the same bytes and are refused.
 */
function isCanonicalBase64(text: string): boolean {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  const rest = end % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const unusedBits = rest === 2 ? 0x0f : 0x03;
  return (BASE64_ALPHABET.indexOf(text[end - 1]) & unusedBits) === 0;
}

function decodeSignature(signature: string, encoding: SignatureEncodingName): Buffer | undefined {
  if (encoding === 'hex') {
    return /^(?:[0-9a-fA-F]{2})+$/.test(signature) ? Buffer.from(signature, 'hex') : undefined;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || !isCanonicalBase64(signature)) return undefined;
  return Buffer.from(signature, 'base64');
}

/** Equal length and equal bytes, compared in constant time. Lengths are public (they follow from the algorithm). */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Decides whether one decoded signature is valid for the signed content, given as its chunks in
 * order (a MAC takes them one by one; nothing copies the body into one buffer for it).
 */
type SignatureCheck = (content: readonly SignedChunk[]) => (signature: Buffer) => boolean;

/** A piece of the signed content: the body's bytes, or text (UTF-8). */
type SignedChunk = Buffer | string;

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** `text` followed by `next`; `text` goes to the chunks first when the two would join a surrogate pair. */
function appendText(chunks: SignedChunk[], text: string, next: string): string {
  if (text === '' || !isHighSurrogate(text.charCodeAt(text.length - 1)) || !isLowSurrogate(next.charCodeAt(0))) return text + next;
  chunks.push(text);
  return next;
}

/**
 * The signed content as chunks: the body as it is, every run of other parts as one string. Each
 * part is encoded on its own, so two halves of a surrogate pair in adjacent parts stay two chunks.
 */
function signedChunks(parts: readonly ContentPart[], request: WebhookRequest, timestamp: string | undefined): SignedChunk[] {
  const chunks: SignedChunk[] = [];
  let text = '';
  for (const part of parts) {
    switch (part.kind) {
      case 'literal': text = appendText(chunks, text, part.text); break;
      case 'timestamp': text = appendText(chunks, text, timestamp as string); break;
      case 'header': {
        const value = singleHeader(request, part.name);
        if (value === undefined) throw new MissingCredentialsError(`missing ${part.name} header`);
        text = appendText(chunks, text, value);
        break;
      }
      case 'body':
        if (text !== '') chunks.push(text);
        text = '';
        chunks.push(request.rawBody);
    }
  }
  if (text !== '') chunks.push(text);
  return chunks;
}

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
  const { parts, signsTimestamp } = compileTemplate(config.signedContent);

  let timestamp: string | undefined;
  if (signsTimestamp) {
    timestamp = header.timestamp;
    if (timestamp === undefined || timestamp === '') throw new MissingCredentialsError('missing signed timestamp');
    // Only a plain decimal number of seconds can be signed and compared unambiguously.
    if (!/^\d{1,12}$/.test(timestamp)) throw new SignatureMismatchError();
  }

  const chunks = signedChunks(parts, request, timestamp);
  const accepts = check(chunks);
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
  const keys = hmacKeys(secrets, config.keyEncoding);
  return verifySignedRequest(config, request, nowMs, (content) => {
    const expected = keys.map((key) => {
      const hmac = createHmac(config.algorithm, key);
      for (const chunk of content) hmac.update(chunk);
      return hmac.digest();
    });
    return (signature) => expected.some((e) => constantTimeEqual(e, signature));
  });
}

interface DerivedKeys {
  readonly secrets: readonly string[];
  readonly keys: readonly Buffer[];
}

/** The keys of a list of secrets, per list: the authenticator passes the same list while the secret's cache holds. */
const keysByEncoding = { utf8: new WeakMap<readonly string[], DerivedKeys>(), whsecBase64: new WeakMap<readonly string[], DerivedKeys>() };

function hmacKeys(secrets: readonly string[], encoding: HmacAuthConfig['keyEncoding']): readonly Buffer[] {
  const cache = keysByEncoding[encoding ?? 'utf8'];
  const derived = cache.get(secrets);
  // A caller may refill its list in place: the keys hold only while the list holds the same secrets.
  if (derived !== undefined && derived.secrets.length === secrets.length && derived.secrets.every((s, i) => s === secrets[i])) return derived.keys;
  const keys = secrets.map((s) => hmacKey(s, encoding));
  cache.set(secrets, { secrets: [...secrets], keys });
  return keys;
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
  return verifySignedRequest(config, request, nowMs, (chunks) => {
    const content = Buffer.concat(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk)));
    return (signature) => signature.length === 64 && keys.some((key) => verifySignatureBytes(null, content, key, signature));
  });
}

/** Orders name/value pairs as Twilio does before signing: by name, then by value. */
export function sortedPairs(pairs: readonly (readonly [string, string])[]): (readonly [string, string])[] {
  return [...pairs].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
}

/** 401: the Twilio settings header names no algorithm Twilio signs with, or not the one this source accepts. */
export class SignatureAlgorithmError extends WebhookError {
  constructor(message: string) {
    super(401, message);
    this.name = 'SignatureAlgorithmError';
  }
}

/** The header in which Twilio announces the key and algorithm of a signature made under a Webhook Setting. */
export const TWILIO_SETTINGS_HEADER = 'x-twilio-webhooks-signature-settings';

/**
 * The algorithm of a request's X-Twilio-Signature, as Twilio documents it: HMAC_SHA1 when
 * `X-Twilio-Webhooks-Signature-Settings` is absent, else the one algorithm its `algorithm=` entry
 * names, which must be one Twilio signs with. With `pinned`, any other is refused (HMAC_SHA256
 * pinned: a request without the header too). The header is not signed, so pinning is what keeps a
 * sender from choosing the algorithm. Messages never quote the header.
 */
export function twilioAlgorithm(request: WebhookRequest, pinned?: TwilioAlgorithmName): TwilioAlgorithmName {
  const settings = singleHeader(request, TWILIO_SETTINGS_HEADER);
  let algorithm: TwilioAlgorithmName = 'HMAC_SHA1';
  if (settings !== undefined) {
    const named = settings.split(',')
      .map((entry) => /^\s*algorithm\s*=(.*)$/i.exec(entry)?.[1].trim())
      .filter((value): value is string => value !== undefined);
    if (named.length !== 1) throw new SignatureAlgorithmError(`${TWILIO_SETTINGS_HEADER} must name exactly one algorithm`);
    const [name] = named;
    if (!(TWILIO_ALGORITHMS as readonly string[]).includes(name)) {
      throw new SignatureAlgorithmError(`${TWILIO_SETTINGS_HEADER} names an algorithm Twilio does not sign with; expected ${TWILIO_ALGORITHMS.join(' or ')}`);
    }
    algorithm = name as TwilioAlgorithmName;
  }
  if (pinned !== undefined && algorithm !== pinned) {
    throw new SignatureAlgorithmError(`this source accepts only ${pinned} signatures, announced in ${TWILIO_SETTINGS_HEADER}`);
  }
  return algorithm;
}

const HMAC_OF: Readonly<Record<TwilioAlgorithmName, 'sha1' | 'sha256'>> = { HMAC_SHA1: 'sha1', HMAC_SHA256: 'sha256' };

/**
 * The characters, beyond letters, digits and `-._`, that each common way of writing a query
 * leaves as they are; every other character is percent-encoded (UTF-8, upper-case hex).
 */
const QUERY_SPELLINGS: readonly string[] = [
  "~!'()*", // encodeURIComponent, Node's querystring (Twilio's library's legacy form)
  '*', // URLSearchParams (WHATWG form encoding), Java's URLEncoder
  '~', // RFC 3986 unreserved only: Python's quote and urlencode, Go, .NET
  "~!$'()*,;:@/?", // as written by hand: what a query value may hold unencoded (RFC 3986)
  "~!$()*,;:@/?", // the same after `new URL()`, which encodes ' as %27
];

/** Characters every encoder leaves as they are: a part made only of them has one spelling. */
const UNRESERVED = /^[A-Za-z0-9._-]*$/;

function encodeQueryPart(text: string, keep: string, space: string): string {
  if (UNRESERVED.test(text)) return text;
  let out = '';
  for (const char of text) {
    if (/^[A-Za-z0-9._-]$/.test(char) || keep.includes(char)) out += char;
    else if (char === ' ') out += space;
    else for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The spellings of a query Twilio may have signed, given the pairs as API Gateway decoded them
 * (it reads `%20` and `+` alike as a space, and `%27` and `'` alike): each common encoder's, with a
 * space as `%20` and as `+`. Pairs keep the order API Gateway gave (by name, then by value order).
 */
export function twilioQueryCandidates(query: readonly (readonly [string, string])[]): string[] {
  if (query.length === 0) return [''];
  const spelled = (keep: string, space: string) => query.map(([name, value]) => `${encodeQueryPart(name, keep, space)}=${encodeQueryPart(value, keep, space)}`).join('&');
  // Names and values of unreserved characters only (`bodySHA256=<hex>`): every encoder spells them
  // alike, so the first spelling is the only one.
  if (query.every(([name, value]) => UNRESERVED.test(name) && UNRESERVED.test(value))) return [`?${spelled(QUERY_SPELLINGS[0], '%20')}`];
  const spellings = new Set<string>();
  for (const keep of QUERY_SPELLINGS) {
    for (const space of ['%20', '+']) spellings.add(spelled(keep, space));
  }
  return [...spellings].map((q) => `?${q}`);
}

/**
 * A URL without its query, with and without the default port, as Twilio's own library tries it: a
 * URL with a port is also tried without one, a URL without a port also with `:443`.
 */
function portCandidates(base: string): string[] {
  const parts = /^(https:\/\/)([^/:]*)(:\d+)?(.*)$/.exec(base);
  if (parts === null) return [base];
  const [, scheme, host, port, rest] = parts;
  return port === undefined ? [base, `${scheme}${host}:443${rest}`] : [`${scheme}${host}${rest}`, base];
}

/** Every URL Twilio may have signed: each port form of `base` with each spelling of the query. */
export function twilioUrlCandidates(base: string, query: readonly (readonly [string, string])[]): string[] {
  const queries = twilioQueryCandidates(query);
  return portCandidates(base).flatMap((url) => queries.map((q) => url + q));
}

/**
 * Twilio's X-Twilio-Signature: a base64 HMAC, keyed with the auth token (or a Webhook Setting's
 * shared key), of the full URL followed by each form parameter's name and value in name order.
 * Another body is instead covered by a `bodySHA256` query parameter holding its hex SHA-256, and
 * the signature covers the URL only.
 *
 * @param baseUrl the URL Twilio called, without the query, as the deployment knows it (see requestUrl)
 * @param form the form parameters, for `application/x-www-form-urlencoded` bodies
 * @param algorithm the signature's algorithm (see twilioAlgorithm)
 */
export function verifyTwilio(
  request: WebhookRequest,
  secrets: readonly string[],
  baseUrl: string,
  form: readonly (readonly [string, string])[] | undefined,
  algorithm: TwilioAlgorithmName = 'HMAC_SHA1',
): VerifiedRequest {
  const sent = singleHeader(request, 'x-twilio-signature');
  if (sent === undefined || sent === '') throw new MissingCredentialsError('missing x-twilio-signature header');
  const decoded = decodeSignature(sent, 'base64');

  const bodyHashes = request.query.filter(([name]) => name === 'bodySHA256').map(([, value]) => value);
  let suffix = '';
  if (bodyHashes.length > 0) {
    // One hash, of exactly these bytes; a second one would leave it open which was checked.
    const actual = createHash('sha256').update(request.rawBody).digest();
    const claimed = bodyHashes.length === 1 ? decodeSignature(bodyHashes[0], 'hex') : undefined;
    if (claimed === undefined || !constantTimeEqual(actual, claimed)) throw new SignatureMismatchError();
  } else {
    suffix = sortedPairs(form ?? []).map(([name, value]) => `${name}${value}`).join('');
  }
  const hmac = HMAC_OF[algorithm];
  // Every secret is computed and compared for a candidate URL; none short-circuits the others. The
  // URLs are no secret (the sender wrote them): the first one that matches ends the search.
  for (const candidate of twilioUrlCandidates(baseUrl, request.query)) {
    let matched = false;
    for (const secret of secrets) {
      const expected = createHmac(hmac, secret).update(candidate + suffix, 'utf8').digest();
      if (decoded !== undefined && constantTimeEqual(expected, decoded)) matched = true;
    }
    if (matched) return {};
  }
  throw new SignatureMismatchError();
}
