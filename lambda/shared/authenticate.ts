import type { AuthConfig } from './config';
import { activeValues, verifyBearer, verifyClientCertificate } from './credentials';
import { MissingCredentialsError } from './errors';
import { requestUrl, type WebhookRequest } from './http';
import { formPairs, isFormRequest } from './parse';
import { verifyEd25519, verifyHmac, verifyTwilio } from './verify';

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

/** Every active value of the secret, a JSON `{"active": [...]}` list included. */
async function secretValues(deps: AuthenticatorDependencies, secretArn: string): Promise<string[]> {
  return (await deps.secrets.get(secretArn)).flatMap(activeValues);
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
      return verifyHmac(auth, request, await secretValues(deps, auth.secretArn), nowMs);
    case 'ed25519':
      return verifyEd25519(auth, request, nowMs);
    case 'bearer':
      verifyBearer(auth, request, await secretValues(deps, auth.secretArn));
      return {};
    case 'mtls':
      return { principal: verifyClientCertificate(auth, request) };
    case 'twilio': {
      const url = requestUrl(request);
      if (url === undefined) throw new MissingCredentialsError('cannot rebuild the URL Twilio signed: no Host header');
      return verifyTwilio(request, await secretValues(deps, auth.secretArn), url, isFormRequest(request) ? formPairs(request.rawBody) : undefined);
    }
    case 'jwt': {
      if (deps.jwt === undefined) throw new Error('a jwt source needs a JWT verifier');
      const { subject } = await deps.jwt.verify(request);
      return { principal: subject };
    }
  }
}
