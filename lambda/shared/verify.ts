import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HmacAuthConfig, SignatureEncodingName } from './config';
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

function readSignatureHeader(config: HmacAuthConfig, request: WebhookRequest): SignatureHeader {
  const value = singleHeader(request, config.signatureHeader);
  if (value === undefined || value.trim() === '') {
    throw new MissingCredentialsError(`missing ${config.signatureHeader} header`);
  }
  const format = config.signatureFormat;
  if (format.kind === 'plain') {
    const prefix = format.prefix ?? '';
    if (!value.startsWith(prefix)) throw new SignatureMismatchError();
    return {
      signatures: [value.slice(prefix.length).trim()],
      timestamp: config.timestampHeader === undefined ? undefined : singleHeader(request, config.timestampHeader),
    };
  }
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

function decodeSignature(signature: string, encoding: SignatureEncodingName): Buffer | undefined {
  if (encoding === 'hex') {
    return /^(?:[0-9a-fA-F]{2})+$/.test(signature) ? Buffer.from(signature, 'hex') : undefined;
  }
  return /^[A-Za-z0-9+/]+={0,2}$/.test(signature) ? Buffer.from(signature, 'base64') : undefined;
}

/**
 * Verifies an HMAC-signed request against every active secret, over the raw body bytes.
 * Any one of the sent signatures may match any one of the secrets (rotation). Comparison is in
 * constant time. A timestamp is only trusted when the scheme signs it, and then it must be
 * within the tolerance, in either direction.
 */
export function verifyHmac(
  config: HmacAuthConfig,
  request: WebhookRequest,
  secrets: readonly string[],
  nowMs: number,
): VerifiedRequest {
  const header = readSignatureHeader(config, request);
  const parts = compileSignedContent(config.signedContent);
  const signsTimestamp = parts.some((p) => p.kind === 'timestamp');

  let timestamp: string | undefined;
  if (signsTimestamp) {
    timestamp = header.timestamp;
    if (timestamp === undefined || timestamp === '') {
      throw new MissingCredentialsError('missing signed timestamp');
    }
    // Only a plain decimal number of seconds can be signed and compared unambiguously.
    if (!/^\d{1,12}$/.test(timestamp)) throw new SignatureMismatchError();
  }

  const headerParts = new Map<string, string>();
  for (const part of parts) {
    if (part.kind !== 'header') continue;
    const value = singleHeader(request, part.name);
    if (value === undefined) throw new MissingCredentialsError(`missing ${part.name} header`);
    headerParts.set(part.name, value);
  }

  const provided = header.signatures
    .map((s) => decodeSignature(s, config.encoding))
    .filter((s): s is Buffer => s !== undefined);

  let matched = false;
  for (const secret of secrets) {
    const hmac = createHmac(config.algorithm, secret);
    for (const part of parts) {
      if (part.kind === 'literal') hmac.update(part.bytes);
      else if (part.kind === 'body') hmac.update(request.rawBody);
      else if (part.kind === 'timestamp') hmac.update(timestamp as string, 'utf8');
      else hmac.update(headerParts.get(part.name) as string, 'utf8');
    }
    const expected = hmac.digest();
    for (const candidate of provided) {
      // Lengths are public (they follow from the algorithm); the bytes are compared in constant time.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
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
