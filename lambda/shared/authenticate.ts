import type { AuthConfig } from './config';
import type { WebhookRequest } from './http';
import { verifyHmac } from './verify';

/** Who or what the request was authenticated as. Never holds a secret or a token. */
export interface AuthResult {
  /** The signed timestamp, in Unix seconds, when the scheme signs one. */
  readonly signedTimestamp?: number;
  /** The token's subject or the client certificate's subject DN, when the scheme has one. */
  readonly principal?: string;
}

/** Verifies a JWT from a request's Authorization header (see ./jwt). */
export interface JwtVerifier {
  verify(request: WebhookRequest): Promise<{ subject?: string; claims: Record<string, unknown> }>;
}

export interface AuthenticatorDependencies {
  readonly secrets: { get(secretArn: string): Promise<readonly string[]> };
  /** Required when the scheme is `jwt`. */
  readonly jwt?: JwtVerifier;
}

/** Authenticates a request by its source's scheme. Throws a 401 or 403 WebhookError. */
export async function authenticate(
  auth: AuthConfig,
  request: WebhookRequest,
  nowMs: number,
  deps: AuthenticatorDependencies,
): Promise<AuthResult> {
  switch (auth.kind) {
    case 'hmac':
      return verifyHmac(auth, request, await deps.secrets.get(auth.secretArn), nowMs);
    case 'jwt': {
      if (deps.jwt === undefined) throw new Error('a jwt source needs a JWT verifier');
      const { subject } = await deps.jwt.verify(request);
      return { principal: subject };
    }
  }
}
