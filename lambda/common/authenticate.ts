import type { AuthConfig } from './auth-config';
import { activeValues, verifyBearer, verifyClientCertificate } from './credentials';
import { InvalidTokenError, MissingCredentialsError, SignatureMismatchError } from './errors';
import { requestUrl, type WebhookRequest } from './http';
import { formPairs, isFormRequest } from './parse';
import { SECRET_STAGES, type SecretCandidates, type SecretSource, type SecretStage } from './secrets';
import { twilioAlgorithm, verifyEd25519, verifyHmac, verifyTwilio } from './verify';

/** Who or what the request was authenticated as. Never holds a secret or a token. */
export interface AuthResult {
  /** The signed timestamp, in Unix seconds, when the scheme signs one. */
  readonly signedTimestamp?: number;
  /** The token's subject or the client certificate's subject DN, when the scheme has one. */
  readonly principal?: string;
  /**
   * The stage of the secret version that verified the request, for the schemes that use a secret
   * (`hmac`, `bearer`, `twilio`) when the secret source tags its values with stages (a
   * `SecretCache` does). Anything but `AWSCURRENT` means the sender has not moved to the
   * current secret yet, or has moved ahead to the pending one.
   */
  readonly secretStage?: SecretStage;
  /**
   * The client certificate API Gateway verified (`mtls`), when its serial number is known: its
   * normalized serial, and its notAfter in Unix milliseconds when known. Never its PEM.
   */
  readonly clientCertificate?: { readonly serialNumber: string; readonly notAfterMs?: number };
}

/** Verifies a JWT from a request's Authorization header (see ./jwt). */
export interface JwtVerifier {
  verify(request: WebhookRequest): Promise<{ subject?: string; claims: Record<string, unknown> }>;
}

export interface AuthenticatorDependencies {
  readonly secrets: SecretSource;
  /** Required when the scheme is `jwt`. */
  readonly jwt?: JwtVerifier;
}

const sameCandidates = (a: SecretCandidates, b: SecretCandidates) =>
  a.length === b.length && a.every((c, i) => c.stage === b[i].stage && c.value === b[i].value);

type StageGroups = readonly (readonly [SecretStage, readonly string[]])[];

/** Tried in this order; each stage's values are expanded (`{"active": [...]}`) and kept together. */
function byStage(candidates: SecretCandidates): StageGroups {
  return SECRET_STAGES
    .map((stage): [SecretStage, string[]] => [stage, candidates.filter((c) => c.stage === stage).flatMap((c) => activeValues(c.value))])
    .filter(([, values]) => values.length > 0);
}

/**
 * The expansions are kept per candidate list and per secret value: a secret source serves the same
 * list, and the same values, while its cache holds, so the verifier can keep what it derives from
 * them (its keys) per list too.
 */
const groupsByCandidates = new WeakMap<SecretCandidates, { readonly seen: SecretCandidates; readonly groups: StageGroups }>();

function stageGroupsOf(candidates: SecretCandidates): StageGroups {
  const memo = groupsByCandidates.get(candidates);
  // A source may refill its list in place: the memo holds only while the list holds the same values.
  if (memo !== undefined && sameCandidates(memo.seen, candidates)) return memo.groups;
  const groups = byStage(candidates);
  groupsByCandidates.set(candidates, { seen: candidates.map(({ stage, value }) => ({ stage, value })), groups });
  return groups;
}

/** At most this many distinct value lists are kept; then the memo starts over. */
const MAX_REMEMBERED_VALUES = 32;
/** Keyed by the one value, or (in the other map) by the JSON of the list of values. */
const expandedValue = new Map<string, readonly string[]>();
const expandedList = new Map<string, readonly string[]>();

/** The active values of a source's current values, the same list for the same values. */
function currentValuesOf(secrets: readonly string[]): readonly string[] {
  const single = secrets.length === 1;
  const memo = single ? expandedValue : expandedList;
  const key = single ? secrets[0] : JSON.stringify(secrets);
  let values = memo.get(key);
  if (values === undefined) {
    if (memo.size >= MAX_REMEMBERED_VALUES) memo.clear();
    values = secrets.flatMap(activeValues);
    memo.set(key, values);
  }
  return values;
}

/** Verifies against one stage's values at a time; `isMiss` tells a wrong secret from any other failure. */
function verifyByStage<T>(candidates: SecretCandidates, isMiss: (error: unknown) => boolean, verify: (values: readonly string[]) => T): { verified: T; stage: SecretStage } {
  const groups = stageGroupsOf(candidates);
  if (groups.length === 0) {
    verify([]);
    throw new SignatureMismatchError(); // not reached: nothing verifies against no secret
  }
  let miss: unknown;
  for (const [stage, values] of groups) {
    try {
      return { verified: verify(values), stage };
    } catch (error) {
      // A missing header or a stale signed timestamp is the same whichever secret is tried.
      if (!isMiss(error)) throw error;
      miss = error;
    }
  }
  throw miss;
}

/**
 * Verifies with the secret's candidates, stage by stage (AWSCURRENT, AWSPENDING, AWSPREVIOUS).
 * Within a stage every value is compared in constant time; across stages the time shows at most
 * which stage matched, never a secret. When nothing matches, the source may re-read the secret
 * (at most once per interval, see SecretCache) and, if that changed anything, verification runs
 * once more. A source with only `get` holds current values and reports no stage.
 */
async function verifyWithSecret<T>(
  source: SecretSource,
  secretArn: string,
  isMiss: (error: unknown) => boolean,
  verify: (values: readonly string[]) => T,
): Promise<{ verified: T; secretStage?: SecretStage }> {
  if (source.candidates === undefined) {
    return { verified: verify(currentValuesOf(await source.get(secretArn))) };
  }
  const candidates = await source.candidates(secretArn);
  try {
    const { verified, stage } = verifyByStage(candidates, isMiss, verify);
    return { verified, secretStage: stage };
  } catch (error) {
    if (!isMiss(error) || source.refreshAfterMiss === undefined) throw error;
    const fresh = await source.refreshAfterMiss(secretArn);
    if (sameCandidates(candidates, fresh)) throw error;
    const { verified, stage } = verifyByStage(fresh, isMiss, verify);
    return { verified, secretStage: stage };
  }
}

const signatureMiss = (error: unknown) => error instanceof SignatureMismatchError;
const tokenMiss = (error: unknown) => error instanceof InvalidTokenError;

/** Authenticates a request by its source's scheme. Throws a 401 or 403 WebhookError. */
export async function authenticate(
  auth: AuthConfig,
  request: WebhookRequest,
  nowMs: number,
  deps: AuthenticatorDependencies,
): Promise<AuthResult> {
  switch (auth.kind) {
    case 'hmac': {
      const { verified, secretStage } = await verifyWithSecret(deps.secrets, auth.secretArn, signatureMiss, (secrets) => verifyHmac(auth, request, secrets, nowMs));
      return secretStage === undefined ? verified : { ...verified, secretStage };
    }
    case 'ed25519':
      return verifyEd25519(auth, request, nowMs);
    case 'bearer': {
      const { secretStage } = await verifyWithSecret(deps.secrets, auth.secretArn, tokenMiss, (tokens) => verifyBearer(auth, request, tokens));
      return secretStage === undefined ? {} : { secretStage };
    }
    case 'mtls': {
      const { subject, serialNumber, notAfterMs } = verifyClientCertificate(auth, request);
      return {
        ...(subject === undefined ? {} : { principal: subject }),
        ...(serialNumber === undefined ? {} : { clientCertificate: notAfterMs === undefined ? { serialNumber } : { serialNumber, notAfterMs } }),
      };
    }
    case 'twilio': {
      // The URL comes from the deployment (the configured URL, else API Gateway's domain name and
      // path), never from the Host header: a sender cannot point the check at another URL.
      const url = requestUrl(request, auth.url);
      if (url === undefined) throw new MissingCredentialsError('cannot rebuild the URL Twilio signed: the request carries no API Gateway domain name and path');
      // Decided before any secret is read: a refused algorithm is not a wrong secret.
      const algorithm = twilioAlgorithm(request, auth.algorithm);
      const form = isFormRequest(request) ? formPairs(request.rawBody) : undefined;
      const { verified, secretStage } = await verifyWithSecret(deps.secrets, auth.secretArn, signatureMiss, (secrets) => verifyTwilio(request, secrets, url, form, algorithm));
      return secretStage === undefined ? verified : { ...verified, secretStage };
    }
    case 'jwt': {
      if (deps.jwt === undefined) throw new Error('a jwt source needs a JWT verifier');
      const { subject } = await deps.jwt.verify(request);
      return { principal: subject };
    }
  }
}
