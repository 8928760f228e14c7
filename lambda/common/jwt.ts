import { JwtVerifier as AwsJwtVerifier } from 'aws-jwt-verify';
import {
  FetchError,
  JwksValidationError,
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtParseError,
  JwtWithoutValidKidError,
  KidNotFoundInJwksError,
  WaitPeriodNotYetEndedJwkError,
} from 'aws-jwt-verify/error';
import { SimpleFetcher, type Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache, type Jwk, type Jwks, type JwksCache, type JwkWithKid } from 'aws-jwt-verify/jwk';
import type { DecomposedJwt } from 'aws-jwt-verify/jwt';
import type { JwtPayload } from 'aws-jwt-verify/jwt-model';
import { supportedSignatureAlgorithms } from 'aws-jwt-verify/jwt-verifier';
import type { JwtVerifier } from './authenticate';
import { type JwtAuthConfig } from './auth-config';
import { ConfigError, isObject } from './config-document';
import {
  DependencyUnavailableError,
  InvalidTokenError,
  MissingCredentialsError,
  WebhookError,
} from './errors';
import { singleHeader, type WebhookRequest } from './http';
import { duplicateKeyPointer } from './parse';

/** Hooks for tests. Production code passes none. */
export interface JwtVerifierOptions {
  /**
   * Fetches the JWKS document.
   * @default - aws-jwt-verify's SimpleFetcher: HTTPS, the runtime's trusted CAs, one immediate retry
   */
  readonly fetcher?: Fetcher;
}

/** The dependency named in a 503 when the JWKS cannot be fetched. */
export const JWKS_DEPENDENCY = 'the identity provider JWKS';

/**
 * The key type (and curve) each asymmetric JWS algorithm needs. aws-jwt-verify only compares a
 * JWK's `alg` with the token's when the JWK has one; without this check an RS256 signature sent
 * as `alg: ES256` verifies against an RSA key that has no `alg`.
 */
const KEY_FOR_ALGORITHM: Readonly<Record<string, { readonly kty: string; readonly crv?: readonly string[] }>> = {
  RS256: { kty: 'RSA' },
  RS384: { kty: 'RSA' },
  RS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: ['P-256'] },
  ES384: { kty: 'EC', crv: ['P-384'] },
  ES512: { kty: 'EC', crv: ['P-521'] },
  EdDSA: { kty: 'OKP', crv: ['Ed25519', 'Ed448'] },
};

/** RFC 6750 `b64token`, after the case-insensitive `Bearer` scheme. */
const BEARER = /^\s*bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i;

function bearerToken(request: WebhookRequest): string {
  const value = singleHeader(request, 'authorization');
  if (value === undefined || value.trim() === '') throw new MissingCredentialsError('missing authorization header');
  const match = BEARER.exec(value);
  if (match === null) throw new MissingCredentialsError('authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * Reads the unverified JOSE header and refuses any algorithm outside the allowlist before a key
 * is looked up or a signature checked.
 */
function checkHeader(token: string, algorithms: ReadonlySet<string>): void {
  const parts = token.split('.');
  if (parts.length !== 3) throw new InvalidTokenError('token is malformed');
  let header: unknown;
  let texts: string[];
  try {
    texts = parts.slice(0, 2).map((part) => Buffer.from(part, 'base64url').toString('utf8'));
    header = JSON.parse(texts[0]);
    JSON.parse(texts[1]);
  } catch (cause) {
    throw new InvalidTokenError('token is malformed', { cause });
  }
  if (!isObject(header)) throw new InvalidTokenError('token is malformed');
  // JSON.parse keeps the last of repeated names; RFC 7515 section 4 and RFC 7519 section 4 let a
  // recipient refuse them instead, as the body parser does.
  if (texts.some((text) => duplicateKeyPointer(text) !== undefined)) throw new InvalidTokenError('token repeats a header or claim name');
  if (typeof header.alg !== 'string' || !algorithms.has(header.alg)) {
    throw new InvalidTokenError('token algorithm is not allowed');
  }
  // RFC 7515 §4.1.11: a recipient that does not understand a critical extension must reject.
  if (header.crit !== undefined) throw new InvalidTokenError('token has critical header extensions');
}

function assertKeySuitsAlgorithm(jwk: Jwk, alg: string | undefined): void {
  const needed = alg === undefined ? undefined : KEY_FOR_ALGORITHM[alg];
  if (needed === undefined || jwk.kty !== needed.kty || (needed.crv !== undefined && !needed.crv.includes(jwk.crv ?? ''))) {
    throw new InvalidTokenError('token algorithm does not match its signing key');
  }
}

/**
 * aws-jwt-verify's SimpleJwksCache (cached JWKS, one re-fetch on an unknown kid, then its penalty
 * box), plus a check that the key found suits the token's algorithm, before the signature is checked.
 */
class KeyCheckingJwksCache implements JwksCache {
  constructor(private readonly inner: JwksCache) {}

  async getJwk(jwksUri: string, decomposedJwt: DecomposedJwt): Promise<JwkWithKid> {
    const jwk = await this.inner.getJwk(jwksUri, decomposedJwt);
    assertKeySuitsAlgorithm(jwk, decomposedJwt.header.alg);
    return jwk;
  }

  getCachedJwk(jwksUri: string, decomposedJwt: DecomposedJwt): JwkWithKid {
    const jwk = this.inner.getCachedJwk(jwksUri, decomposedJwt);
    assertKeySuitsAlgorithm(jwk, decomposedJwt.header.alg);
    return jwk;
  }

  addJwks(jwksUri: string, jwks: Jwks): void {
    this.inner.addJwks(jwksUri, jwks);
  }

  getJwks(jwksUri: string): Promise<Jwks> {
    return this.inner.getJwks(jwksUri);
  }
}

/** Checks aws-jwt-verify leaves out: `exp` is required, `iat` must not be in the future, required claims. */
function checkClaims(payload: JwtPayload, config: JwtAuthConfig): void {
  if (payload.exp === undefined) throw new InvalidTokenError('token has no expiry (exp)');
  if (payload.iat !== undefined && payload.iat - config.clockSkewSeconds > Date.now() / 1000) {
    throw new InvalidTokenError('token is issued in the future');
  }
  for (const claim of config.requiredClaims) {
    if (!Object.prototype.hasOwnProperty.call(payload, claim)) {
      throw new InvalidTokenError(`token lacks the required claim ${claim}`);
    }
  }
}

/** A short public message for an aws-jwt-verify rejection. Never quotes the token or its claims. */
function rejectionMessage(error: unknown): string {
  if (error instanceof JwtParseError) return 'token is malformed';
  if (error instanceof JwtExpiredError) return 'token has expired';
  if (error instanceof JwtNotBeforeError) return 'token is not valid yet';
  if (error instanceof JwtInvalidIssuerError) return 'token issuer is not accepted';
  if (error instanceof JwtInvalidAudienceError) return 'token audience is not accepted';
  if (error instanceof JwtInvalidSignatureAlgorithmError) return 'token algorithm is not allowed';
  if (error instanceof JwtInvalidSignatureError) return 'token signature is not valid';
  if (error instanceof KidNotFoundInJwksError
    || error instanceof WaitPeriodNotYetEndedJwkError
    || error instanceof JwtWithoutValidKidError) return 'token signing key is unknown';
  return 'token is not valid';
}

/**
 * Turns what aws-jwt-verify throws into a typed error. A JWKS that cannot be fetched or read is
 * the identity provider's failure (503); anything else is the token's (401), including crypto
 * errors such as an ECDSA signature of the wrong length.
 */
function toWebhookError(error: unknown): WebhookError {
  if (error instanceof WebhookError) return error;
  if (error instanceof FetchError || error instanceof JwksValidationError) {
    return new DependencyUnavailableError(JWKS_DEPENDENCY, { cause: error });
  }
  return new InvalidTokenError(rejectionMessage(error), { cause: error });
}

/**
 * Creates a verifier for JWT bearer tokens signed by one identity provider. Create it once (at
 * module scope): it caches the JWKS, and fetches it again only for a `kid` it does not know.
 *
 * Only asymmetric algorithms (RS*, ES*, EdDSA) from `config.algorithms` are accepted. `none` and
 * HMAC algorithms are never accepted, even when listed, because the key set is public.
 *
 * @throws ConfigError when the JWKS URI is not HTTPS or no listed algorithm is usable
 */
export function createJwtVerifier(config: JwtAuthConfig, options: JwtVerifierOptions = {}): JwtVerifier {
  let jwksUrl: URL;
  try {
    jwksUrl = new URL(config.jwksUri);
  } catch {
    throw new ConfigError('auth.jwksUri must be an https:// URL');
  }
  if (jwksUrl.protocol !== 'https:') throw new ConfigError('auth.jwksUri must be an https:// URL');

  const supported: readonly string[] = supportedSignatureAlgorithms;
  const algorithms = new Set(config.algorithms.filter((alg) => supported.includes(alg)));
  if (algorithms.size === 0) {
    throw new ConfigError(`auth.algorithms must name at least one of ${supported.join(', ')}`);
  }

  const jwksCache = new KeyCheckingJwksCache(new SimpleJwksCache({ fetcher: options.fetcher ?? new SimpleFetcher() }));
  const verifier = AwsJwtVerifier.create(
    {
      issuer: config.issuer,
      audience: [...config.audience],
      jwksUri: config.jwksUri,
      graceSeconds: config.clockSkewSeconds,
      customJwtCheck: ({ payload }) => checkClaims(payload, config),
    },
    { jwksCache },
  );

  return {
    async verify(request: WebhookRequest) {
      const token = bearerToken(request);
      checkHeader(token, algorithms);
      let payload: JwtPayload;
      try {
        payload = await verifier.verify(token);
      } catch (error) {
        throw toWebhookError(error);
      }
      return {
        subject: typeof payload.sub === 'string' ? payload.sub : undefined,
        claims: { ...payload },
      };
    },
  };
}
