import { authenticate, type AuthenticatorDependencies } from './authenticate';
import type { AuthConfig } from './auth-config';
import { daysToExpiry } from './credentials';
import { PayloadTooLargeError } from './errors';
import type { WebhookRequest } from './http';
import type { SecretStage } from './secrets';

/** What admission counts, for the rotation and certificate alarms. */
export interface AdmissionMetrics {
  /** A request verified with a pending or previous secret, not the current one: a rotation is under way. */
  nonCurrentSecret?(): void;
  /**
   * A request authenticated with a client certificate whose notAfter is known: its normalized
   * serial number, and the days left until it expires (see daysToExpiry).
   */
  clientCertificateDaysToExpiry?(serialNumber: string, days: number): void;
}

export interface AdmissionRules {
  readonly auth: AuthConfig;
  readonly maxBodyBytes: number;
  /** What the 413 calls the endpoint: `source` or `trigger`. */
  readonly endpoint: string;
}

export interface AdmissionDependencies extends AuthenticatorDependencies {
  readonly metrics?: AdmissionMetrics;
}

/**
 * The first stage of a request path: the body's size (413), then who sent it (401, 403). It runs
 * before the body is read, so an unsigned sender learns nothing about the body rules. Returns the
 * stage of the secret that verified the request, when the scheme uses one.
 */
export async function admit(rules: AdmissionRules, request: WebhookRequest, now: () => number, deps: AdmissionDependencies): Promise<SecretStage | undefined> {
  if (request.rawBody.length > rules.maxBodyBytes) {
    throw new PayloadTooLargeError(`body is ${request.rawBody.length} bytes; this ${rules.endpoint} accepts at most ${rules.maxBodyBytes}`);
  }
  const { secretStage, clientCertificate } = await authenticate(rules.auth, request, now(), deps);
  if (secretStage !== undefined && secretStage !== 'AWSCURRENT') deps.metrics?.nonCurrentSecret?.();
  if (clientCertificate?.notAfterMs !== undefined) {
    deps.metrics?.clientCertificateDaysToExpiry?.(clientCertificate.serialNumber, daysToExpiry(clientCertificate.notAfterMs, now()));
  }
  return secretStage;
}
