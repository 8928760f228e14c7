import { createHash, timingSafeEqual } from 'node:crypto';
import type { BearerAuthConfig, MtlsAuthConfig } from './auth-config';
import { ForbiddenError, InvalidTokenError, MissingCredentialsError } from './errors';
import { singleHeader, type WebhookRequest } from './http';

/**
 * Reads the active values of a secret: the whole string, or, when it is a JSON object with an
 * `active` list of strings, each of those. The list form lets two tokens (or keys) be valid at
 * once while senders move from one to the other.
 */
export function activeValues(secret: string): string[] {
  if (secret.trimStart().startsWith('{')) {
    try {
      const doc = JSON.parse(secret) as { active?: unknown };
      if (Array.isArray(doc.active) && doc.active.length > 0 && doc.active.every((v) => typeof v === 'string' && v !== '')) {
        return doc.active as string[];
      }
    } catch {
      // Not JSON after all: the whole string is the value.
    }
  }
  return [secret];
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * A static token in a header, compared in constant time against every active token. Both sides
 * are hashed first, so neither the token nor its length shows in the timing.
 */
export function verifyBearer(config: BearerAuthConfig, request: WebhookRequest, tokens: readonly string[]): void {
  const value = singleHeader(request, config.header);
  if (value === undefined || value.trim() === '') throw new MissingCredentialsError(`missing ${config.header} header`);
  let token = value.trim();
  if (config.scheme !== undefined) {
    const scheme = config.scheme.trim();
    if (token.slice(0, scheme.length).toLowerCase() !== scheme.toLowerCase() || !/\s/.test(token.charAt(scheme.length))) {
      throw new MissingCredentialsError(`${config.header} must use the ${scheme} scheme`);
    }
    token = token.slice(scheme.length).trim();
  }
  const sent = digest(token);
  let matched = false;
  for (const candidate of tokens) {
    if (timingSafeEqual(sent, digest(candidate))) matched = true;
  }
  if (!matched) throw new InvalidTokenError();
}

/** What the handler knows of the client certificate API Gateway verified. Never its PEM. */
export interface VerifiedClientCertificate {
  /** Its subject DN, as API Gateway reports it. */
  readonly subject?: string;
  /** Its serial number, normalized (see normalizeSerialNumber). */
  readonly serialNumber?: string;
  /** Its notAfter, in Unix milliseconds. */
  readonly notAfterMs?: number;
}

/**
 * The client certificate API Gateway verified against the truststore. A request without one did
 * not come through the mTLS domain and is refused: 401, or 403 under managed mTLS, where the
 * caller is expected to hold a certificate issued for this path. Under managed mTLS API Gateway
 * does not check revocation, so a serial number outside the allowlist (revoked, or issued for
 * another path) is forbidden; then a subject outside the subject allowlist is forbidden.
 */
export function verifyClientCertificate(config: MtlsAuthConfig, request: WebhookRequest): VerifiedClientCertificate {
  const subject = request.clientCertSubject === '' ? undefined : request.clientCertSubject;
  const serialNumber = request.clientCertSerialNumber;
  if (subject === undefined && serialNumber === undefined) {
    if (config.managed === true) throw new ForbiddenError('a client certificate issued for this path is required');
    throw new MissingCredentialsError('a TLS client certificate is required');
  }
  if (config.allowedSerialNumbers !== undefined && (serialNumber === undefined || !config.allowedSerialNumbers.includes(serialNumber))) {
    throw new ForbiddenError('this client certificate is revoked or was not issued for this path');
  }
  if (config.allowedSubjects !== undefined && (subject === undefined || !config.allowedSubjects.includes(subject))) {
    throw new ForbiddenError('this client certificate is not allowed to send here');
  }
  return {
    ...(subject === undefined ? {} : { subject }),
    ...(serialNumber === undefined ? {} : { serialNumber }),
    ...(request.clientCertNotAfterMs === undefined ? {} : { notAfterMs: request.clientCertNotAfterMs }),
  };
}

const DAY_MS = 86_400_000;

/**
 * The days from `nowMs` until a certificate's notAfter: fractional, rounded to a thousandth of a
 * day (under 90 seconds), and negative once it has expired. Not floored, so that an alarm on
 * `< 7` fires 7 days before the expiry, not up to a day later.
 */
export function daysToExpiry(notAfterMs: number, nowMs: number): number {
  return Math.round(((notAfterMs - nowMs) / DAY_MS) * 1000) / 1000;
}
