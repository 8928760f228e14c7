import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { SimpleFetcher } from 'aws-jwt-verify/https';
import type { JwtVerifier } from '../../../lambda/common/authenticate';
import { type JwtAuthConfig } from '../../../lambda/common/auth-config';
import { ConfigError } from '../../../lambda/common/config-document';
import {
  DependencyUnavailableError,
  InvalidTokenError,
  MalformedPayloadError,
  MissingCredentialsError,
  WebhookError,
} from '../../../lambda/common/errors';
import { errorResponse, fromApiGatewayEvent, type WebhookRequest } from '../../../lambda/common/http';
import { createJwtVerifier } from '../../../lambda/common/jwt';
import { JwksServer, selfSignedCertificate, type TlsIdentity } from '../../support/jwks-server';
import { apiGatewayEvent } from '../../support/signers';
import { closedPort } from '../../support/ports';

const ISSUER = 'https://idp.example.com/';
const SKEW_S = 60;

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK as the IdP publishes it. */
  readonly jwk: Record<string, unknown>;
}

function rsaKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

function ecKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey, publicKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } };
}

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** Signs a JWS by hand: `base64url(header).base64url(payload).base64url(signature)`. */
function signJwt(alg: string, key: KeyObject | string | undefined, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT', ...header }))}.${b64url(JSON.stringify(payload))}`;
  const hash = `sha${alg.slice(2)}`;
  let signature: Buffer;
  if (alg === 'none') signature = Buffer.alloc(0);
  else if (alg.startsWith('HS')) signature = createHmac(hash, key as string).update(input).digest();
  else if (alg.startsWith('ES')) signature = sign(hash, Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  else signature = sign(hash, Buffer.from(input), key as KeyObject);
  return `${input}.${b64url(signature)}`;
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

/** Claims a valid token carries; pass `undefined` to leave one out. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: ISSUER, aud: 'webhooks', sub: 'partner-42', tenant: 'acme', iat: nowS(), exp: nowS() + 300, ...overrides };
}

function request(headers: Record<string, string>): WebhookRequest {
  return fromApiGatewayEvent(apiGatewayEvent('{"id":"evt_1"}', { headers }), Date.now());
}

function bearer(token: string): WebhookRequest {
  return request({ Authorization: `Bearer ${token}` });
}

async function rejection(verifier: JwtVerifier, req: WebhookRequest): Promise<WebhookError> {
  const error = await verifier.verify(req).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(WebhookError);
  return error as WebhookError;
}

/** Rejects the token, and proves neither the message nor the HTTP answer quotes it. */
async function tokenRejection(verifier: JwtVerifier, token: string): Promise<WebhookError> {
  const error = await rejection(verifier, bearer(token));
  const answer = JSON.stringify(errorResponse(error, 'corr-1'));
  for (const secret of [token, ...token.split('.').filter((part) => part.length > 8)]) {
    expect(error.message).not.toContain(secret);
    expect(answer).not.toContain(secret);
  }
  return error;
}

function expectInvalidToken(error: WebhookError, message: RegExp): void {
  expect(error).toBeInstanceOf(InvalidTokenError);
  expect(error.statusCode).toBe(401);
  expect(error.message).toMatch(message);
}

function expectJwksUnavailable(error: WebhookError): void {
  expect(error).toBeInstanceOf(DependencyUnavailableError);
  expect(error.statusCode).toBe(503);
  expect((error as DependencyUnavailableError).dependency).toBe('the identity provider JWKS');
}

let tls: TlsIdentity;
let server: JwksServer;
let rsa: SigningKey;
let ec: SigningKey;
let unpublished: SigningKey;

beforeAll(async () => {
  tls = selfSignedCertificate();
  server = await JwksServer.start(tls);
  rsa = rsaKey('rsa-1');
  ec = ecKey('ec-1');
  unpublished = rsaKey('rsa-2');
});

afterAll(async () => {
  await server.stop();
});

beforeEach(() => {
  server.jwks = { keys: [rsa.jwk, ec.jwk] };
  server.status = 200;
  server.requests = 0;
});

function config(overrides: Partial<JwtAuthConfig> = {}): JwtAuthConfig {
  return {
    kind: 'jwt',
    issuer: ISSUER,
    audience: ['webhooks', 'webhooks-staging'],
    jwksUri: server.jwksUri,
    algorithms: ['RS256'],
    clockSkewSeconds: SKEW_S,
    requiredClaims: ['tenant'],
    ...overrides,
  };
}

/** A verifier whose fetcher trusts the test server's self-signed certificate (and nothing else changes). */
function verifierFor(overrides: Partial<JwtAuthConfig> = {}): JwtVerifier {
  return createJwtVerifier(config(overrides), { fetcher: new SimpleFetcher({ defaultRequestOptions: { ca: tls.cert } }) });
}

describe('valid tokens', () => {
  test('a valid RS256 token verifies and returns its subject and claims', async () => {
    // GIVEN a token signed with the IdP's RSA key
    const payload = claims({ scope: 'events:write' });
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, payload);
    // WHEN
    const result = await verifierFor().verify(bearer(token));
    // THEN
    expect(result).toEqual({ subject: 'partner-42', claims: payload });
    expect(server.requests).toBe(1);
  });

  test('a valid ES256 token verifies when ES256 is allowed', async () => {
    const token = signJwt('ES256', ec.privateKey, { kid: ec.kid }, claims());
    const result = await verifierFor({ algorithms: ['RS256', 'ES256'] }).verify(bearer(token));
    expect(result.subject).toBe('partner-42');
    expect(result.claims.tenant).toBe('acme');
  });

  test('the Bearer scheme is case-insensitive, and aud may be a list with any one accepted audience', async () => {
    const verifier = verifierFor();
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ aud: ['someone-else', 'webhooks-staging'] }));
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      await expect(verifier.verify(request({ authorization: `${scheme} ${token}` }))).resolves.toMatchObject({ subject: 'partner-42' });
    }
  });

  test('a token without sub verifies with no subject', async () => {
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ sub: undefined }));
    const result = await verifierFor().verify(bearer(token));
    expect(result.subject).toBeUndefined();
  });
});

describe('the Authorization header', () => {
  test('fails when the Authorization header is missing', async () => {
    const error = await rejection(verifierFor(), request({}));
    expect(error).toBeInstanceOf(MissingCredentialsError);
    expect(error.statusCode).toBe(401);
    expect(error.message).toMatch(/missing authorization header/);
  });

  test('fails when the Authorization header uses the Basic scheme', async () => {
    const credentials = Buffer.from('partner:s3cret-password').toString('base64');
    const error = await rejection(verifierFor(), request({ Authorization: `Basic ${credentials}` }));
    expect(error).toBeInstanceOf(MissingCredentialsError);
    expect(error.statusCode).toBe(401);
    expect(error.message).toMatch(/Bearer <token>/);
    expect(error.message).not.toContain(credentials);
  });

  test('fails when the Authorization header is malformed: no token, or two tokens', async () => {
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims());
    for (const value of ['Bearer', 'Bearer ', `Bearer ${token} ${token}`, `Bearer${token}`]) {
      const error = await rejection(verifierFor(), request({ Authorization: value }));
      expect(error).toBeInstanceOf(MissingCredentialsError);
      expect(error.message).not.toContain(token);
    }
    expect(server.requests).toBe(0);
  });

  test('fails when the Authorization header is sent twice', async () => {
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims());
    const event = apiGatewayEvent('{}');
    event.multiValueHeaders = { Authorization: [`Bearer ${token}`, `Bearer ${token}`] };
    const error = await rejection(verifierFor(), fromApiGatewayEvent(event, Date.now()));
    expect(error).toBeInstanceOf(MalformedPayloadError);
    expect(error.statusCode).toBe(400);
  });
});

describe('algorithms', () => {
  test('fails when alg is none, before any key is fetched', async () => {
    // GIVEN unsigned tokens, with an empty and with a made-up signature
    const unsigned = signJwt('none', undefined, { kid: rsa.kid }, claims());
    const verifier = verifierFor({ algorithms: ['RS256', 'none'] });
    for (const token of [unsigned, `${unsigned}AAAA`]) {
      // WHEN / THEN
      expectInvalidToken(await tokenRejection(verifier, token), /token algorithm is not allowed/);
    }
    expect(server.requests).toBe(0);
  });

  test('fails when an HS256 token is signed with the RSA public key as the HMAC secret (key confusion), even if HS256 is listed', async () => {
    // GIVEN the classic attack: the published public key (PEM) used as an HMAC secret
    const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const token = signJwt('HS256', publicPem, { kid: rsa.kid }, claims());
    // WHEN / THEN it is refused whatever the allowlist says, and no key is looked up
    for (const algorithms of [['RS256'], ['RS256', 'HS256']]) {
      expectInvalidToken(await tokenRejection(verifierFor({ algorithms }), token), /token algorithm is not allowed/);
    }
    expect(server.requests).toBe(0);
  });

  test('fails when the algorithm is not in the allowlist (RS512 when only RS256 is allowed)', async () => {
    const token = signJwt('RS512', rsa.privateKey, { kid: rsa.kid }, claims());
    expectInvalidToken(await tokenRejection(verifierFor({ algorithms: ['RS256'] }), token), /token algorithm is not allowed/);
    expect(server.requests).toBe(0);
    // The same token verifies when RS512 is allowed and the JWK does not pin another alg.
    server.jwks = { keys: [{ ...rsa.jwk, alg: undefined }] };
    await expect(verifierFor({ algorithms: ['RS512'] }).verify(bearer(token))).resolves.toMatchObject({ subject: 'partner-42' });
  });

  test('fails when ES256 is allowed but the token is RS256', async () => {
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims());
    expectInvalidToken(await tokenRejection(verifierFor({ algorithms: ['ES256'] }), token), /token algorithm is not allowed/);
  });

  test('fails when an RS256 signature is sent as alg ES256 against an RSA key whose JWK has no alg', async () => {
    // GIVEN an RSA JWK without "alg", and only ES256 allowed. Node verifies an "ES256" signature
    // against an RSA key as RSA-SHA256, so the key type must be checked against the algorithm.
    server.jwks = { keys: [{ ...rsa.jwk, kid: 'rsa-bare', alg: undefined }] };
    const input = `${b64url(JSON.stringify({ alg: 'ES256', kid: 'rsa-bare' }))}.${b64url(JSON.stringify(claims()))}`;
    const token = `${input}.${b64url(sign('sha256', Buffer.from(input), rsa.privateKey))}`;
    // WHEN / THEN
    expectInvalidToken(await tokenRejection(verifierFor({ algorithms: ['ES256'] }), token), /does not match its signing key/);
  });

  test('fails when the header carries a critical extension', async () => {
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid, crit: ['exp'], b64: false }, claims());
    expectInvalidToken(await tokenRejection(verifierFor(), token), /critical/);
  });
});

describe('repeated names', () => {
  /** A validly signed RS256 token whose header and claims are the given JSON texts, as written. */
  function signRaw(headerJson: string, claimsJson: string): string {
    const input = `${b64url(headerJson)}.${b64url(claimsJson)}`;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), rsa.privateKey))}`;
  }
  const claimsJson = (tail: string) => `${JSON.stringify(claims()).slice(0, -1)}${tail}}`;

  test('a token written by hand with each name once verifies', async () => {
    await expect(verifierFor().verify(bearer(signRaw(`{"alg":"RS256","kid":"${rsa.kid}"}`, claimsJson(''))))).resolves.toMatchObject({ subject: 'partner-42' });
  });

  test('fails when a claim is repeated: JSON.parse would read the last sub, a first-wins reader the first', async () => {
    const token = signRaw(`{"alg":"RS256","kid":"${rsa.kid}"}`, claimsJson(',"sub":"admin"'));
    expectInvalidToken(await tokenRejection(verifierFor(), token), /token repeats a header or claim name/);
  });

  test('fails when a header parameter is repeated', async () => {
    const token = signRaw(`{"alg":"RS256","kid":"${rsa.kid}","alg":"RS256"}`, claimsJson(''));
    expectInvalidToken(await tokenRejection(verifierFor(), token), /token repeats a header or claim name/);
  });
});

describe('claims', () => {
  test('fails when the issuer differs', async () => {
    for (const iss of ['https://evil.example.com/', 'https://idp.example.com', undefined]) {
      const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ iss }));
      expectInvalidToken(await tokenRejection(verifierFor(), token), /token issuer is not accepted/);
    }
  });

  test('fails when no audience matches', async () => {
    for (const aud of ['other-api', ['other-api', 'Webhooks'], undefined]) {
      const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ aud }));
      expectInvalidToken(await tokenRejection(verifierFor(), token), /token audience is not accepted/);
    }
  });

  test('fails when the token expired beyond the clock-skew allowance; within it, it verifies', async () => {
    const verifier = verifierFor();
    // GIVEN a token that expired 50 s ago, inside the 60 s allowance
    const withinSkew = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ exp: nowS() - SKEW_S + 10 }));
    await expect(verifier.verify(bearer(withinSkew))).resolves.toMatchObject({ subject: 'partner-42' });
    // GIVEN one that expired 70 s ago, just beyond it
    const beyondSkew = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ exp: nowS() - SKEW_S - 10 }));
    expectInvalidToken(await tokenRejection(verifier, beyondSkew), /token has expired/);
    // and with no allowance, a token one second past exp is refused
    const justExpired = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ exp: nowS() - 2 }));
    expectInvalidToken(await tokenRejection(verifierFor({ clockSkewSeconds: 0 }), justExpired), /token has expired/);
  });

  test('fails when nbf or iat is in the future beyond the clock-skew allowance; within it, it verifies', async () => {
    const verifier = verifierFor();
    for (const claim of ['nbf', 'iat']) {
      const within = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ [claim]: nowS() + SKEW_S - 10 }));
      await expect(verifier.verify(bearer(within))).resolves.toMatchObject({ subject: 'partner-42' });
      const beyond = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ [claim]: nowS() + SKEW_S + 10 }));
      expectInvalidToken(await tokenRejection(verifier, beyond), /token is (not valid yet|issued in the future)/);
    }
  });

  test('fails when the token has no exp', async () => {
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ exp: undefined }));
    expectInvalidToken(await tokenRejection(verifierFor(), token), /token has no expiry/);
  });

  test('fails when a required claim is missing', async () => {
    // GIVEN two required claims; a null value counts as present
    const verifier = verifierFor({ requiredClaims: ['tenant', 'partner_id'] });
    const withBoth = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ partner_id: null }));
    await expect(verifier.verify(bearer(withBoth))).resolves.toMatchObject({ claims: { partner_id: null } });
    // WHEN one is left out THEN
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ tenant: undefined, partner_id: 7 }));
    expectInvalidToken(await tokenRejection(verifier, token), /token lacks the required claim tenant/);
  });
});

describe('signatures and keys', () => {
  test('fails when the payload was tampered with', async () => {
    // GIVEN a valid token whose payload is swapped for another subject's, keeping the signature
    const [header, , signature] = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims()).split('.');
    const token = `${header}.${b64url(JSON.stringify(claims({ sub: 'admin' })))}.${signature}`;
    // WHEN / THEN
    expectInvalidToken(await tokenRejection(verifierFor(), token), /token signature is not valid/);
  });

  test('fails when the signature was tampered with, including an ES256 signature of the wrong length', async () => {
    const verifier = verifierFor({ algorithms: ['RS256', 'ES256'] });
    const rs = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims());
    const flipped = `${rs.slice(0, -6)}${rs.slice(-6, -5) === 'A' ? 'B' : 'A'}${rs.slice(-5)}`;
    expectInvalidToken(await tokenRejection(verifier, flipped), /token signature is not valid/);
    const es = signJwt('ES256', ec.privateKey, { kid: ec.kid }, claims());
    // Node throws "Malformed signature" here rather than returning false: still a 401, never a 500.
    expectInvalidToken(await tokenRejection(verifier, `${es}AAAA`), /token is not valid/);
  });

  test('fails when the token is not a JWT', async () => {
    for (const token of ['not-a-jwt', 'a.b.c', `${b64url('{"alg":"RS256"')}.${b64url('{}')}.c2ln`]) {
      expectInvalidToken(await tokenRejection(verifierFor(), token), /token is malformed/);
    }
    expect(server.requests).toBe(0);
  });

  test('fails when the kid is unknown, after re-fetching the JWKS once; a second unknown kid waits out the penalty box', async () => {
    // GIVEN a verifier that has cached the JWKS
    const verifier = verifierFor();
    await verifier.verify(bearer(signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims())));
    expect(server.requests).toBe(1);
    // WHEN a token names a key the IdP does not publish
    const token = signJwt('RS256', unpublished.privateKey, { kid: unpublished.kid }, claims());
    // THEN it is refused with 401 (not 503), after exactly one re-fetch
    expectInvalidToken(await tokenRejection(verifier, token), /token signing key is unknown/);
    expect(server.requests).toBe(2);
    // and, within aws-jwt-verify's penalty period, more unknown kids do not reach the IdP
    const other = signJwt('RS256', unpublished.privateKey, { kid: 'rsa-3' }, claims());
    expectInvalidToken(await tokenRejection(verifier, other), /token signing key is unknown/);
    expect(server.requests).toBe(2);
    // while known keys still verify from the cache
    await verifier.verify(bearer(signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims())));
    expect(server.requests).toBe(2);
  });

  test('fails when the token has no kid', async () => {
    const token = signJwt('RS256', rsa.privateKey, {}, claims());
    expectInvalidToken(await tokenRejection(verifierFor(), token), /token signing key is unknown/);
  });

  test('a key published after the JWKS was cached is found by re-fetching on its kid (rotation)', async () => {
    const verifier = verifierFor();
    await verifier.verify(bearer(signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims())));
    server.jwks = { keys: [rsa.jwk, unpublished.jwk] };
    const token = signJwt('RS256', unpublished.privateKey, { kid: unpublished.kid }, claims());
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ subject: 'partner-42' });
    expect(server.requests).toBe(2);
  });

  test('fetches the JWKS once for many verifications, sequential and concurrent', async () => {
    // GIVEN a new verifier
    const verifier = verifierFor({ algorithms: ['RS256', 'ES256'] });
    const tokens = Array.from({ length: 10 }, (_, i) => (i % 2 === 0
      ? signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims({ sub: `p-${i}` }))
      : signJwt('ES256', ec.privateKey, { kid: ec.kid }, claims({ sub: `p-${i}` }))));
    // WHEN ten tokens arrive at once, then ten more one by one
    const concurrent = await Promise.all(tokens.map((t) => verifier.verify(bearer(t))));
    for (const t of tokens) await verifier.verify(bearer(t));
    // THEN
    expect(concurrent.map((r) => r.subject)).toEqual(tokens.map((_, i) => `p-${i}`));
    expect(server.requests).toBe(1);
  });
});

describe('the JWKS endpoint', () => {
  test('fails with 503 when the JWKS endpoint answers 5xx, and verifies again once it is back', async () => {
    // GIVEN an IdP that answers 503
    server.status = 503;
    const verifier = verifierFor();
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims());
    // WHEN / THEN
    expectJwksUnavailable(await tokenRejection(verifier, token));
    // a failed fetch is not cached: the next request tries again and succeeds
    server.status = 200;
    await expect(verifier.verify(bearer(token))).resolves.toMatchObject({ subject: 'partner-42' });
  });

  test('fails with 503 when the JWKS cannot be fetched to look up an unknown kid', async () => {
    const verifier = verifierFor();
    await verifier.verify(bearer(signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims())));
    server.status = 500;
    const token = signJwt('RS256', unpublished.privateKey, { kid: unpublished.kid }, claims());
    expectJwksUnavailable(await tokenRejection(verifier, token));
  });

  test('fails with 503 when nothing listens at the JWKS URI', async () => {
    const jwksUri = `https://127.0.0.1:${await closedPort()}/.well-known/jwks.json`;
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims());
    expectJwksUnavailable(await tokenRejection(verifierFor({ jwksUri }), token));
  });

  test('fails with 503 when the JWKS is not a key set', async () => {
    server.jwks = { nope: true } as unknown as { keys: object[] };
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims());
    expectJwksUnavailable(await tokenRejection(verifierFor(), token));
  });

  test('fails with 503 when the certificate is not trusted: the default fetcher validates certificates', async () => {
    // GIVEN no test hook: the production fetcher, which does not trust the self-signed certificate
    const verifier = createJwtVerifier(config());
    const token = signJwt('RS256', rsa.privateKey, { kid: rsa.kid }, claims());
    // WHEN / THEN
    const error = await tokenRejection(verifier, token);
    expectJwksUnavailable(error);
    expect(String((error.cause as Error).message)).toMatch(/self[- ]signed certificate/);
    expect(server.requests).toBe(0);
  });
});

describe('configuration', () => {
  test('fails when the JWKS URI is not HTTPS', () => {
    expect(() => createJwtVerifier(config({ jwksUri: 'http://127.0.0.1/.well-known/jwks.json' }))).toThrow(ConfigError);
    expect(() => createJwtVerifier(config({ jwksUri: 'not a url' }))).toThrow(/https:\/\/ URL/);
  });

  test('fails when no listed algorithm is asymmetric', () => {
    expect(() => createJwtVerifier(config({ algorithms: ['HS256', 'none'] }))).toThrow(/auth.algorithms must name at least one of RS256/);
  });
});
