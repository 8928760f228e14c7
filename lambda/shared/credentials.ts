import { createHash, timingSafeEqual } from 'node:crypto';
import type { BearerAuthConfig, MtlsAuthConfig } from './config';
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

/**
 * The client certificate API Gateway verified against the truststore. A request without one did
 * not come through the mTLS domain and is refused; a subject outside the allowlist is forbidden.
 */
export function verifyClientCertificate(config: MtlsAuthConfig, request: WebhookRequest): string {
  const subject = request.clientCertSubject;
  if (subject === undefined || subject === '') throw new MissingCredentialsError('a TLS client certificate is required');
  if (config.allowedSubjects !== undefined && !config.allowedSubjects.includes(subject)) {
    throw new ForbiddenError('this client certificate is not allowed to send here');
  }
  return subject;
}
