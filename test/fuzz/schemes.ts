/**
 * Every scheme the library verifies, as the fuzzer drives it: the handler configuration (built
 * from the construct's own preset, so it follows the library), a signer written here from the
 * vendors' documentation rather than taken from lambda/common/signing, and a reader that says,
 * for a request as delivered, what material a signature over it would have to cover.
 *
 * A signed request's material is what the credential vouches for: the body bytes, the signed
 * timestamp, signed headers (webhook-id), Twilio's URL and form parameters, a bearer token, a
 * JWT's signing input, an mTLS identity. The oracle (see ./oracle) compares the material the
 * signer signed with the material the delivered request carries.
 */
import { createHash, createHmac, generateKeyPairSync, sign as signBytes, type KeyObject } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Duration } from 'aws-cdk-lib';
import type { AuthConfig, Ed25519AuthConfig, HmacAuthConfig, MtlsAuthConfig } from '../../lambda/common/auth-config';
import { HmacAlgorithm, SignatureEncoding, WebhookAuth } from '../../lib';
import { anyAuthConfig } from '../support/presets';
import { objectsIn, stringifyWithDuplicate, type Json } from './json';
import { DOMAIN, STAGE, deliveredBody, newDraft, viewValues, type Draft, type HeaderView } from './request';
import type { Rng } from './rng';

/** What a signer vouched for, field by field (see the file comment), and whether the deployment must honour it. */
export interface Signed {
  readonly material: Readonly<Record<string, string>>;
  /**
   * False when the deployment must refuse the request even though its material is intact: the
   * signer held another key, or signed a timestamp outside the window, an expired token, a URL
   * of another webhook.
   */
  readonly valid: boolean;
  /** Why it is not valid. */
  readonly why?: string;
}

/** A validly signed request, and any requests that must go before it (the trigger's first delivery). */
export interface SignedRequest {
  draft: Draft;
  signed: Signed;
  setup: Draft[];
}

/** How to sign: the defaults make a request the deployment must accept. */
export interface SignOptions {
  /** Seconds from now of the signed timestamp. Default: up to half the window in the past. */
  readonly timestampOffset?: number;
  /** Sign with a key the deployment does not hold. */
  readonly otherKey?: boolean;
  /** Sign these bytes instead of a fresh body. */
  readonly body?: Buffer;
  /** Twilio: sign for this URL (another webhook's) instead of the deployment's. */
  readonly url?: string;
}

export type HandlerKind = 'ingest' | 'trigger';

/** Keys and tokens a run needs, made once. */
export interface FuzzKeys {
  readonly ed25519: { readonly privateKey: KeyObject; readonly publicKey: string };
  readonly otherEd25519: KeyObject;
  readonly jwt: JwtKeys;
}

export interface JwtKeys {
  readonly rsa: { readonly kid: string; readonly privateKey: KeyObject; readonly publicPem: string };
  readonly ec: { readonly kid: string; readonly privateKey: KeyObject };
  readonly unpublished: { readonly kid: string; readonly privateKey: KeyObject };
  /** The JWKS document the identity provider serves. */
  readonly jwks: { keys: object[] };
}

export function makeKeys(): FuzzKeys {
  const ed = generateKeyPairSync('ed25519');
  const rawPublic = ed.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const unpublished = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    ed25519: { privateKey: ed.privateKey, publicKey: `whpk_${rawPublic.toString('base64')}` },
    otherEd25519: generateKeyPairSync('ed25519').privateKey,
    jwt: {
      rsa: { kid: 'rsa-1', privateKey: rsa.privateKey, publicPem: rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString() },
      ec: { kid: 'ec-1', privateKey: ec.privateKey },
      unpublished: { kid: 'ec-2', privateKey: unpublished.privateKey },
      jwks: {
        keys: [
          { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
          { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' },
        ],
      },
    },
  };
}

/** What a scheme's signer and reader need at generation time. */
export interface GenContext {
  readonly keys: FuzzKeys;
  readonly jwtIssuer: string;
  readonly tokens: TokenMinter;
  /** The current time, Unix seconds. */
  nowS(): number;
}

/** A Scheme-specific way to re-sign or re-build a request (see ./mutations). */
export interface Variant {
  readonly name: string;
  readonly weight: number;
  apply(scheme: Scheme, ctx: GenContext, rng: Rng, current: SignedRequest): SignedRequest;
}

/** One scheme, as the fuzzer drives it. */
export interface Scheme {
  readonly name: string;
  readonly handler: HandlerKind;
  /** The resource path, such as `/stripe`. */
  readonly path: string;
  /** The construct's preset: the handler configuration is what it binds to. */
  readonly preset: (secret: secretsmanager.ISecret) => WebhookAuth;
  readonly auth: AuthConfig;
  /** The value Secrets Manager holds for it, when it uses a secret. */
  readonly secretValue?: string;
  /** Strings that must never appear in a log line or an answer. */
  readonly secrets: readonly string[];
  readonly headerAliases?: Readonly<Record<string, string>>;
  /** The header that carries the signature or the token; none for mTLS. */
  readonly credentialHeader?: string;
  /** The signature's encoding, when the credential is a signature. */
  readonly encoding?: 'hex' | 'base64';
  readonly signatureFormat?: HmacAuthConfig['signatureFormat'];
  /** Where the signed timestamp is. */
  readonly timestamp?: { readonly kind: 'header'; readonly header: string } | { readonly kind: 'keyValue'; readonly separator: string; readonly key: string };
  readonly toleranceSeconds?: number;
  /** Headers whose values are signed (Standard Webhooks' webhook-id). */
  readonly signedHeaders: readonly string[];
  /** Headers the scheme reads to authenticate: sent twice with different values, they must be refused. */
  readonly readHeaders: readonly string[];
  /** True when the body is part of the material (every scheme but bearer, JWT and mTLS). */
  readonly bodySigned: boolean;
  /** Twilio: whether the body is a form. */
  readonly form?: boolean;
  sign(ctx: GenContext, rng: Rng, options?: SignOptions): SignedRequest;
  /** The material a delivered request carries, field by field, read from the header view. */
  read(event: APIGatewayProxyEvent, view: HeaderView): Record<string, readonly string[]>;
  /** Re-signing variants of this scheme, beyond the generic ones. */
  readonly variants: readonly Variant[];
}

// ---------------------------------------------------------------------------------------------
// Bodies

const TRICKY_STRINGS = ['', ' ', 'a b', 'é', 'ß', '日本語', '😀', '\u2028', '\u0000', '\\', '"', '</script>', '%20', '+', '&=', '__proto__', 'null', '1e309'];

function randomScalar(rng: Rng): Json {
  switch (rng.int(7)) {
    case 0: return rng.word();
    case 1: return rng.pick(TRICKY_STRINGS) + rng.word(0, 4);
    case 2: return rng.between(-1000, 100000);
    case 3: return rng.pick([0, -0.5, 3.14159, 1e21, 2 ** 53 + 2, -(2 ** 31)]);
    case 4: return rng.chance(0.5);
    case 5: return null;
    default: return `${rng.word()}@example.com`;
  }
}

function randomValue(rng: Rng, depth: number): Json {
  if (depth <= 0 || rng.chance(0.45)) return randomScalar(rng);
  if (rng.chance(0.3)) return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth - 1));
  const out: { [key: string]: Json } = {};
  for (let i = rng.between(1, 4); i > 0; i--) out[rng.chance(0.1) ? rng.pick(['__proto__', 'constructor', 'a b', '']) : rng.word(1, 8)] = randomValue(rng, depth - 1);
  return out;
}

/** Writes a body the way senders do: compact or pretty-printed JSON. */
function jsonBytes(rng: Rng, value: Json): Buffer {
  return Buffer.from(rng.chance(0.25) ? JSON.stringify(value, null, 2) : JSON.stringify(value), 'utf8');
}

/** A JSON body with one member repeated, at a random depth, the repeat first or last. */
export function duplicateKeyBody(rng: Rng, value: Json): Buffer | undefined {
  const objects = objectsIn(value);
  if (objects.length === 0) return undefined;
  const target = rng.pick(objects);
  const name = rng.pick(Object.keys(target));
  const other = randomScalar(rng);
  return Buffer.from(stringifyWithDuplicate(value, { target, name, value: other === target[name] ? `${String(other)}!` : other, first: rng.chance(0.5) }), 'utf8');
}

/** The body the scheme's sender would send, as a value. */
type BodyMaker = (rng: Rng, nowS: number) => { [key: string]: Json };

const stripeBody: BodyMaker = (rng, nowS) => ({
  id: `evt_${rng.word(14, 24)}`, object: 'event', api_version: '2024-06-20', created: nowS - rng.int(30), livemode: false,
  type: rng.pick(['checkout.session.completed', 'invoice.paid', 'customer.created']),
  data: { object: { id: `cs_${rng.word()}`, object: 'checkout.session', amount_total: rng.between(0, 100000), currency: 'usd', metadata: randomValue(rng, 3) } },
});
const githubBody: BodyMaker = (rng) => ({ action: rng.pick(['opened', 'closed', 'created']), number: rng.between(1, 9999), repository: { id: rng.between(1, 1e6), full_name: `octo/${rng.word()}` }, sender: { login: rng.word() }, extra: randomValue(rng, 3) });
const segmentBody: BodyMaker = (rng) => ({ messageId: `msg-${rng.hex(8)}`, type: rng.pick(['track', 'identify', 'page']), event: rng.word(), userId: rng.word(), timestamp: new Date().toISOString(), properties: randomValue(rng, 3) });
const shopifyBody: BodyMaker = (rng) => ({ id: rng.between(1, 1e9), email: `${rng.word()}@example.com`, total_price: `${rng.between(0, 999)}.00`, line_items: [randomValue(rng, 2)], note: randomScalar(rng) });
const slackBody: BodyMaker = (rng, nowS) => (rng.chance(0.05)
  // The handshake Slack sends when the URL is saved: answered with its challenge, written nowhere.
  ? { token: rng.word(), challenge: rng.word(20, 40), type: 'url_verification' } as { [key: string]: Json }
  : { token: rng.word(), team_id: `T${rng.word(8, 8)}`, type: 'event_callback', event_id: `Ev${rng.word(10, 10)}`, event_time: nowS, event: { type: 'message', text: String(randomScalar(rng)), user: `U${rng.word(8, 8)}` } });
const standardBody: BodyMaker = (rng) => ({ type: rng.pick(['invoice.paid', 'user.created']), timestamp: new Date().toISOString(), data: randomValue(rng, 3) as Json });
const acmeBody: BodyMaker = (rng) => ({ id: `acme_${rng.hex(6)}`, kind: rng.word(), payload: randomValue(rng, 4) });
const twilioJsonBody: BodyMaker = (rng) => ({ Sid: `SM${rng.hex(16)}`, Status: rng.pick(['delivered', 'failed']), Payload: randomValue(rng, 2) });
const partnerBody: BodyMaker = (rng) => ({ id: `p_${rng.hex(6)}`, event: rng.word(), attributes: randomValue(rng, 3) });
const triggerBody: BodyMaker = (rng) => ({ export_id: `exp_${rng.hex(6)}`, location: `s3://exports/${rng.word()}.csv`, options: randomValue(rng, 2) });

// ---------------------------------------------------------------------------------------------
// Shared parts

/** Headers every request carries, as API Gateway passes them on from a real sender. */
function commonHeaders(rng: Rng): [string, string][] {
  return [
    ['Host', DOMAIN],
    ['User-Agent', rng.pick(['Stripe/1.0 (+https://stripe.com/docs/webhooks)', 'GitHub-Hookshot/abc123', 'Svix-Webhooks/1.0', 'curl/8.5.0'])],
    ['X-Forwarded-For', '203.0.113.7'],
    ['X-Forwarded-Port', '443'],
    ['X-Forwarded-Proto', 'https'],
  ];
}

const b64 = (bytes: Buffer) => bytes.toString('base64');
const SECRET_ARN_PREFIX = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:fuzz-';
const secretArn = (name: string) => `${SECRET_ARN_PREFIX}${name.replace(/[^A-Za-z0-9]/g, '')}-AbCdEf`;

function bindAuth(name: string, preset: (s: secretsmanager.ISecret) => WebhookAuth): AuthConfig {
  const auth = anyAuthConfig(preset);
  return 'secretArn' in auth ? { ...auth, secretArn: secretArn(name) } : auth;
}

/** The signed timestamp's text, as the sender wrote it. */
function timestampFor(ctx: GenContext, rng: Rng, tolerance: number, options: SignOptions): number {
  return ctx.nowS() + (options.timestampOffset ?? -rng.int(Math.max(1, Math.floor(tolerance / 2))));
}

function inWindow(ctx: GenContext, timestamp: number, tolerance: number): boolean {
  return Math.abs(ctx.nowS() - timestamp) < tolerance - 15;
}

/** Splits a signed-content template into its parts: `{body}`, `{timestamp}`, `{header:x}` and literals. */
function templateParts(template: string): ({ literal: string } | { body: true } | { timestamp: true } | { header: string })[] {
  const parts: ({ literal: string } | { body: true } | { timestamp: true } | { header: string })[] = [];
  let rest = template;
  for (;;) {
    const m = /\{(body|timestamp|header:[^}]+)\}/.exec(rest);
    if (m === null) break;
    if (m.index > 0) parts.push({ literal: rest.slice(0, m.index) });
    if (m[1] === 'body') parts.push({ body: true });
    else if (m[1] === 'timestamp') parts.push({ timestamp: true });
    else parts.push({ header: m[1].slice('header:'.length).toLowerCase() });
    rest = rest.slice(m.index + m[0].length);
  }
  if (rest !== '') parts.push({ literal: rest });
  return parts;
}

/** A header whose signed value the fuzzer makes up: Standard Webhooks' message id, Acme's delivery id. */
function signedHeaderValue(rng: Rng, name: string): string {
  return name === 'webhook-id' ? `msg_${rng.word(20, 27)}` : `dlv-${rng.hex(8)}`;
}

/** The sender's spelling of a header name (the config holds it in lower case). */
function senderName(name: string): string {
  return name.split('-').map((w) => (w === 'id' ? 'ID' : w.charAt(0).toUpperCase() + w.slice(1))).join('-');
}

// ---------------------------------------------------------------------------------------------
// HMAC and Ed25519 schemes: everything the signature scheme data of the preset describes

interface SignedContentSpec {
  readonly name: string;
  /** @default 'ingest' */
  readonly handler?: HandlerKind;
  /** @default `/<name>` */
  readonly path?: string;
  readonly preset: (secret: secretsmanager.ISecret) => WebhookAuth;
  readonly auth: HmacAuthConfig | Ed25519AuthConfig;
  readonly secretValue?: string;
  readonly otherSecret?: string;
  /** The sender's spelling of the signature header. */
  readonly signatureHeaderName: string;
  readonly body: BodyMaker;
  /** Headers of the vendor's that are not part of the signature (delivery ids, event names). Absent: none. */
  readonly extraHeaders?: (rng: Rng) => [string, string][];
  readonly headerAliases?: Readonly<Record<string, string>>;
  readonly sign: (content: Buffer, otherKey: boolean) => string;
  readonly variants?: readonly Variant[];
}

function signedContentScheme(spec: SignedContentSpec): Scheme {
  const auth = spec.auth;
  const parts = templateParts(auth.signedContent);
  const tolerance = auth.toleranceSeconds ?? 0;
  const format = auth.signatureFormat;
  const timestamp: Scheme['timestamp'] = !parts.some((p) => 'timestamp' in p) ? undefined
    : auth.timestampHeader !== undefined ? { kind: 'header', header: auth.timestampHeader }
      : format.kind === 'keyValueList' ? { kind: 'keyValue', separator: format.separator, key: format.timestampKey } : undefined;
  const signedHeaders = parts.flatMap((p) => ('header' in p ? [p.header] : []));

  const scheme: Scheme = {
    name: spec.name,
    handler: spec.handler ?? 'ingest',
    path: spec.path ?? `/${spec.name}`,
    preset: spec.preset,
    auth,
    secretValue: spec.secretValue,
    secrets: spec.secretValue === undefined ? [] : [spec.secretValue, ...(spec.secretValue.startsWith('whsec_') ? [spec.secretValue.slice(6)] : [])],
    headerAliases: spec.headerAliases,
    credentialHeader: auth.signatureHeader,
    encoding: auth.encoding,
    signatureFormat: format,
    timestamp,
    toleranceSeconds: tolerance,
    signedHeaders,
    readHeaders: [auth.signatureHeader, ...(auth.timestampHeader === undefined ? [] : [auth.timestampHeader]), ...signedHeaders, 'content-type'],
    bodySigned: true,
    sign(ctx, rng, options = {}) {
      const body = options.body ?? jsonBytes(rng, spec.body(rng, ctx.nowS()));
      const ts = timestamp === undefined ? undefined : timestampFor(ctx, rng, tolerance, options);
      const headerValues = Object.fromEntries(signedHeaders.map((h) => [h, signedHeaderValue(rng, h)]));
      const content = Buffer.concat(parts.map((p) => {
        if ('literal' in p) return Buffer.from(p.literal, 'utf8');
        if ('body' in p) return body;
        if ('timestamp' in p) return Buffer.from(String(ts), 'utf8');
        return Buffer.from(headerValues[p.header], 'utf8');
      }));
      const signature = spec.sign(content, options.otherKey === true);
      let value: string;
      switch (format.kind) {
        case 'plain': value = `${format.prefix ?? ''}${signature}`; break;
        case 'keyValueList': value = `${format.timestampKey}=${ts}${format.separator}${format.signatureKey}=${signature}`; break;
        case 'versionedList': value = `${format.version}${format.versionSeparator}${signature}`; break;
      }
      const headers: [string, string][] = [
        ...commonHeaders(rng),
        ['Content-Type', rng.pick(['application/json', 'application/json; charset=utf-8'])],
        [spec.signatureHeaderName, value],
        ...(timestamp?.kind === 'header' ? [[senderName(timestamp.header), String(ts)] as [string, string]] : []),
        ...signedHeaders.map((h): [string, string] => [senderName(h), headerValues[h]]),
        ...(spec.extraHeaders?.(rng) ?? []),
      ];
      const material: Record<string, string> = { body: b64(body) };
      if (ts !== undefined) material.timestamp = String(ts);
      for (const h of signedHeaders) material[`header:${h}`] = headerValues[h];
      const stale = ts !== undefined && !inWindow(ctx, ts, tolerance);
      const why = options.otherKey === true ? 'signed with another key' : stale ? 'signed timestamp outside the window' : undefined;
      return { draft: newDraft(headers, body), signed: { material, valid: why === undefined, why }, setup: [] };
    },
    read(event, view) {
      const out: Record<string, readonly string[]> = { body: [b64(deliveredBody(event))] };
      if (timestamp?.kind === 'header') {
        out.timestamp = viewValues(view, timestamp.header, spec.headerAliases);
      } else if (timestamp?.kind === 'keyValue') {
        out.timestamp = viewValues(view, auth.signatureHeader, spec.headerAliases).flatMap((value) => value.split(timestamp.separator)
          .map((item) => [item.slice(0, Math.max(0, item.indexOf('='))).trim(), item.slice(item.indexOf('=') + 1).trim()] as const)
          .filter(([key]) => key === timestamp.key)
          .map(([, v]) => v));
      }
      for (const h of signedHeaders) out[`header:${h}`] = viewValues(view, h, spec.headerAliases);
      return out;
    },
    variants: spec.variants ?? [],
  };
  return scheme;
}

function hmacScheme(spec: Omit<SignedContentSpec, 'auth' | 'sign' | 'secretValue' | 'otherSecret'> & {
  readonly secretValue: string;
  readonly otherSecret: string;
}): Scheme {
  const auth = bindAuth(spec.name, spec.preset) as HmacAuthConfig;
  const key = (secret: string) => (auth.keyEncoding === 'whsecBase64' ? Buffer.from(secret.replace(/^whsec_/, ''), 'base64') : Buffer.from(secret, 'utf8'));
  return signedContentScheme({
    ...spec,
    auth,
    sign: (content, otherKey) => createHmac(auth.algorithm, key(otherKey ? spec.otherSecret : spec.secretValue)).update(content).digest(auth.encoding),
  });
}

// ---------------------------------------------------------------------------------------------
// Twilio

const TWILIO_TOKEN = 'fuzz-twilio-auth-token-5f4dcc3b5aa765d61d8327deb882cf99';
/** Another webhook of the same Twilio account, whose signed requests an attacker may have seen. */
export const OTHER_TWILIO_HOST = 'other-app.example.com';
export const OTHER_TWILIO_PATH = '/sms/inbound';

/** Name then value, as Twilio orders parameters before it signs them. */
/** Form names that collide with what every plain object inherits. */
export const PROTOTYPE_NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'];

const sortPairs = (pairs: readonly (readonly [string, string])[]) =>
  [...pairs].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));

/** A URL as a comparable key: host without the default port, path, and the decoded query pairs in order. */
export function urlKey(url: string): string {
  const u = new URL(url);
  return `${u.hostname}${u.port === '' ? '' : `:${u.port}`}${u.pathname}?${JSON.stringify([...u.searchParams])}`;
}

/** A form's pairs as a reader of its text sees them: a leading byte order mark is no part of the first name (as ./oracle reads forms). */
function formPairsOf(body: Buffer): [string, string][] {
  return [...new URLSearchParams(body.toString('utf8').replace(/^\uFEFF/, '')).entries()];
}

/**
 * What Twilio signs of a form: each name and its value, run together, in name order. Where a name
 * ends and its value begins is not signed (`NumMedia=2` and `NumMedia2=` read the same), and no
 * verifier of Twilio's scheme can tell them apart; the oracle does not ask it to.
 */
function signedPairs(pairs: readonly (readonly [string, string])[]): string {
  return sortPairs(pairs).map(([k, v]) => k + v).join('');
}

function isForm(contentType: string): boolean {
  return contentType.split(';')[0].trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

function twilioScheme(form: boolean): Scheme {
  const name = form ? 'twilio-form' : 'twilio-json';
  const path = form ? '/twilio-form' : '/twilio-json';
  const preset = (s: secretsmanager.ISecret) => WebhookAuth.twilio(s);
  const auth = bindAuth(name, preset);
  const deploymentUrl = `https://${DOMAIN}/${STAGE}${path}`;
  const signatureOver = (token: string, url: string, pairs: readonly (readonly [string, string])[]) =>
    createHmac('sha1', token).update(url + sortPairs(pairs).map(([k, v]) => k + v).join(''), 'utf8').digest('base64');

  const scheme: Scheme = {
    name,
    handler: 'ingest',
    path,
    preset,
    auth,
    secretValue: TWILIO_TOKEN,
    secrets: [TWILIO_TOKEN],
    credentialHeader: 'x-twilio-signature',
    encoding: 'base64',
    signatureFormat: { kind: 'plain' },
    signedHeaders: [],
    readHeaders: ['x-twilio-signature', 'content-type'],
    bodySigned: true,
    form,
    sign(ctx, rng, options = {}) {
      // The URL Twilio calls: the deployment's, sometimes with a query string of the user's own.
      const query: [string, string][] = rng.chance(0.2) ? [['tenant', rng.word()]] : [];
      let url = options.url ?? deploymentUrl;
      if (query.length > 0) url += `?${new URLSearchParams(query).toString()}`;
      let body: Buffer;
      let pairs: [string, string][] = [];
      if (form) {
        pairs = [
          ['MessageSid', `SM${rng.hex(16)}`], ['AccountSid', `AC${rng.hex(16)}`], ['From', `+1555${rng.between(1000000, 9999999)}`],
          ['To', '+15550001111'], ['Body', String(randomScalar(rng))], ['NumMedia', String(rng.int(3))],
        ];
        if (rng.chance(0.3)) pairs.push(['Body', rng.word()]);
        // Names a form may carry that plain objects already have.
        if (rng.chance(0.05)) pairs.push([rng.pick(PROTOTYPE_NAMES), rng.word()]);
        body = options.body ?? Buffer.from(new URLSearchParams(pairs).toString(), 'utf8');
        pairs = formPairsOf(body);
      } else {
        body = options.body ?? jsonBytes(rng, twilioJsonBody(rng, ctx.nowS()));
        const u = new URL(url);
        u.searchParams.set('bodySHA256', createHash('sha256').update(body).digest('hex'));
        url = u.toString();
        query.push(['bodySHA256', u.searchParams.get('bodySHA256') as string]);
      }
      // Twilio's libraries sign with or without the default port; both are the same URL.
      const signedUrl = rng.chance(0.1) ? url.replace(/^(https:\/\/[^/]+)/, '$1:443') : url;
      const signature = signatureOver(options.otherKey === true ? 'another-account-token' : TWILIO_TOKEN, signedUrl, pairs);
      const headers: [string, string][] = [
        ...commonHeaders(rng),
        ['Content-Type', form ? 'application/x-www-form-urlencoded' : 'application/json'],
        ['X-Twilio-Signature', signature],
        ['I-Twilio-Idempotency-Token', `${rng.hex(16)}`],
      ];
      const draft = newDraft(headers, body);
      draft.query = options.url === undefined ? query : [...new URL(signedUrl).searchParams];
      // A form's pairs are signed only when the request says it is a form. Other bodies are
      // covered byte for byte by bodySHA256, whatever the content type says they are.
      const material: Record<string, string> = form
        ? { url: urlKey(signedUrl), mode: 'form', pairs: signedPairs(pairs) }
        : { url: urlKey(signedUrl), body: b64(body) };
      const why = options.otherKey === true ? 'signed with another auth token' : undefined;
      return { draft, signed: { material, valid: why === undefined, why }, setup: [] };
    },
    read(event, view) {
      const context = event.requestContext as unknown as { domainName: string; path: string };
      const u = new URL(`https://${context.domainName}${context.path}`);
      for (const [k, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
        for (const v of values ?? []) u.searchParams.append(k, v);
      }
      const body = deliveredBody(event);
      return {
        url: [urlKey(u.toString())],
        mode: viewValues(view, 'content-type').map((v) => (isForm(v) ? 'form' : 'raw')),
        pairs: [signedPairs(formPairsOf(body))],
        body: [b64(body)],
      };
    },
    variants: [
      {
        // A request Twilio signed for another webhook of the account, replayed here with a Host
        // that makes a handler trusting Host rebuild that other URL.
        name: 'twilio.otherWebhookHost',
        weight: 3,
        apply(s, ctx, rng) {
          const samePath = rng.chance(0.4);
          const otherUrl = samePath ? `https://${OTHER_TWILIO_HOST}/${STAGE}${path}` : `https://${OTHER_TWILIO_HOST}${OTHER_TWILIO_PATH}`;
          const replayed = s.sign(ctx, rng, { url: otherUrl });
          const host = samePath ? OTHER_TWILIO_HOST : rng.pick([`${OTHER_TWILIO_HOST}${OTHER_TWILIO_PATH}#`, `${OTHER_TWILIO_HOST}${OTHER_TWILIO_PATH}?`]);
          replayed.draft.headers = replayed.draft.headers.map(([n, v]) => [n, n === 'Host' ? host : v]);
          if (rng.chance(0.3)) replayed.draft.headers.push(['X-Forwarded-Host', OTHER_TWILIO_HOST]);
          return replayed;
        },
      },
    ],
  };
  return scheme;
}

// ---------------------------------------------------------------------------------------------
// Bearer token, JWT, mTLS: the body is not signed

const BEARER_TOKENS = ['fuzz-bearer-token-current-8c1f0e7a93b54d2e', 'fuzz-bearer-token-next-1d2c3b4a5f6e7d8c'];

function bearerValueToken(value: string, scheme = 'bearer'): string {
  const m = new RegExp(`^${scheme}\\s+(.*)$`, 'is').exec(value);
  return m === null ? `\u0000unreadable:${value}` : m[1].trim();
}

function bearerScheme(): Scheme {
  const name = 'bearer';
  const preset = (s: secretsmanager.ISecret) => WebhookAuth.bearerToken(s);
  return {
    name,
    handler: 'ingest',
    path: '/partner',
    preset,
    auth: bindAuth(name, preset),
    secretValue: JSON.stringify({ active: BEARER_TOKENS }),
    secrets: BEARER_TOKENS,
    credentialHeader: 'authorization',
    signedHeaders: [],
    readHeaders: ['authorization'],
    bodySigned: false,
    sign(_ctx, rng, options = {}) {
      const token = options.otherKey === true ? `fuzz-bearer-token-${rng.hex(8)}` : rng.pick(BEARER_TOKENS);
      const body = options.body ?? jsonBytes(rng, partnerBody(rng, 0));
      const draft = newDraft([...commonHeaders(rng), ['Content-Type', 'application/json'], ['Authorization', `Bearer ${token}`]], body);
      return { draft, signed: { material: { token }, valid: options.otherKey !== true, why: options.otherKey === true ? 'a token the deployment never issued' : undefined }, setup: [] };
    },
    read: (_event, view) => ({ token: viewValues(view, 'authorization').map((v) => bearerValueToken(v)) }),
    variants: [],
  };
}

export const JWT_AUDIENCE = 'webhooks';

/** JWT claims and header variations the identity provider never issues, or issues but the deployment must refuse. */
const BAD_TOKENS = ['expired', 'wrongAudience', 'wrongIssuer', 'notYetValid', 'issuedInFuture', 'noExpiry', 'noTenant', 'unpublishedKey', 'wrongKid', 'algNone', 'hs256WithPublicKey', 'algConfusion'] as const;
type TokenKind = 'rs256' | 'es256' | (typeof BAD_TOKENS)[number];

/** Signs JWTs, and caches each kind for a minute (signing RS256 costs a millisecond). */
export class TokenMinter {
  /** Every valid token issued, to look for in logs. */
  readonly issued = new Set<string>();
  private readonly cache = new Map<TokenKind, { token: string; at: number }>();

  constructor(private readonly keys: JwtKeys, private readonly issuer: string, private readonly nowS: () => number) {}

  token(kind: TokenKind): string {
    const now = this.nowS();
    const cached = this.cache.get(kind);
    if (cached !== undefined && now - cached.at < 60) return cached.token;
    const token = this.mint(kind, now);
    this.cache.set(kind, { token, at: now });
    if (kind === 'rs256' || kind === 'es256') this.issued.add(token);
    return token;
  }

  private mint(kind: TokenKind, now: number): string {
    const k = this.keys;
    const claims: Record<string, unknown> = { iss: this.issuer, aud: JWT_AUDIENCE, sub: 'partner-42', tenant: 'acme', iat: now, exp: now + 900 };
    let alg = kind === 'rs256' || kind === 'wrongKid' || kind === 'algConfusion' ? 'RS256' : 'ES256';
    let kid = alg === 'RS256' ? k.rsa.kid : k.ec.kid;
    let key: KeyObject | string = alg === 'RS256' ? k.rsa.privateKey : k.ec.privateKey;
    switch (kind) {
      case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
      case 'wrongAudience': claims.aud = 'someone-else'; break;
      case 'wrongIssuer': claims.iss = 'https://evil.example.com/'; break;
      case 'notYetValid': claims.nbf = now + 3600; break;
      case 'issuedInFuture': claims.iat = now + 3600; claims.exp = now + 7200; break;
      case 'noExpiry': delete claims.exp; break;
      case 'noTenant': delete claims.tenant; break;
      case 'unpublishedKey': kid = k.unpublished.kid; key = k.unpublished.privateKey; break;
      case 'wrongKid': kid = k.ec.kid; break;
      case 'algNone': alg = 'none'; break;
      case 'hs256WithPublicKey': alg = 'HS256'; kid = k.rsa.kid; key = k.rsa.publicPem; break;
      case 'algConfusion': kid = k.rsa.kid; break;
      default: break;
    }
    const input = `${Buffer.from(JSON.stringify({ alg: kind === 'algConfusion' ? 'ES256' : alg, typ: 'JWT', kid })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    let signature: Buffer;
    if (alg === 'none') signature = Buffer.alloc(0);
    else if (alg === 'HS256') signature = createHmac('sha256', key as string).update(input).digest();
    else if (alg === 'ES256') signature = signBytes('sha256', Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
    else signature = signBytes('sha256', Buffer.from(input), key as KeyObject);
    return `${input}.${signature.toString('base64url')}`;
  }
}

/** The signing input (header.payload) of a bearer JWT, or a marker that it has none. */
export function jwtInputOf(value: string): string {
  const m = /^bearer\s+(\S+)$/i.exec(value);
  if (m === null) return `\u0000unreadable:${value}`;
  const parts = m[1].split('.');
  return parts.length === 3 ? `${parts[0]}.${parts[1]}` : `\u0000malformed:${m[1]}`;
}

function jwtScheme(jwksUri: string, issuer: string): Scheme {
  const preset = () => WebhookAuth.jwt({ issuer, audience: [JWT_AUDIENCE], jwksUri, algorithms: ['RS256', 'ES256'], requiredClaims: ['tenant'], clockSkew: Duration.seconds(30) });
  const auth = bindAuth('jwt', preset);
  const inputOf = (token: string) => token.split('.').slice(0, 2).join('.');
  return {
    name: 'jwt',
    handler: 'ingest',
    path: '/idp',
    preset,
    auth,
    secrets: [],
    credentialHeader: 'authorization',
    signedHeaders: [],
    readHeaders: ['authorization'],
    bodySigned: false,
    sign(ctx, rng, options = {}) {
      const kind: TokenKind = options.otherKey === true ? rng.pick(BAD_TOKENS) : rng.pick(['rs256', 'es256'] as const);
      const token = ctx.tokens.token(kind);
      const body = options.body ?? jsonBytes(rng, partnerBody(rng, 0));
      const draft = newDraft([...commonHeaders(rng), ['Content-Type', 'application/json'], ['Authorization', `Bearer ${token}`]], body);
      const valid = options.otherKey !== true;
      return { draft, signed: { material: { jwt: inputOf(token) }, valid, why: valid ? undefined : `a token the deployment must refuse (${kind})` }, setup: [] };
    },
    read: (_event, view) => ({ jwt: viewValues(view, 'authorization').map(jwtInputOf) }),
    variants: [],
  };
}

export const MTLS_SUBJECT = 'CN=orders.internal,O=Example Corp,C=US';
export const MTLS_SERIAL = 'a10bff';

/** A serial number's value, whatever its spelling: hex digits with separators, a 0x prefix, leading zeros. */
export function serialValue(serial: unknown): string {
  if (typeof serial !== 'string') return `\u0000none:${String(serial)}`;
  const hex = serial.trim().replace(/^0x/i, '').replace(/[\s:-]/g, '');
  return /^[0-9a-fA-F]+$/.test(hex) ? BigInt(`0x${hex}`).toString(16) : `\u0000unreadable:${serial}`;
}

function mtlsScheme(): Scheme {
  const preset = () => WebhookAuth.mtls({ allowedSubjects: [MTLS_SUBJECT] });
  const bound = bindAuth('mtls', preset) as MtlsAuthConfig;
  // A managed client: the construct lists the serials of the certificates it issued.
  const auth: MtlsAuthConfig = { ...bound, allowedSerialNumbers: [MTLS_SERIAL], managed: true };
  return {
    name: 'mtls',
    handler: 'ingest',
    path: '/orders',
    preset,
    auth,
    secrets: [],
    signedHeaders: [],
    readHeaders: [],
    bodySigned: false,
    sign(_ctx, rng, options = {}) {
      const body = options.body ?? jsonBytes(rng, partnerBody(rng, 0));
      const draft = newDraft([...commonHeaders(rng), ['Content-Type', 'application/json']], body);
      draft.clientCert = {
        subjectDN: MTLS_SUBJECT,
        issuerDN: 'CN=Example Managed CA,O=Example Corp',
        serialNumber: rng.pick(['A1:0B:FF', 'a1:0b:ff', '00:A1:0B:FF', 'a10bff']),
        validity: { notBefore: 'Jan  1 00:00:00 2026 GMT', notAfter: 'Dec 31 23:59:59 2036 GMT' },
      };
      return { draft, signed: { material: { subject: MTLS_SUBJECT, serial: MTLS_SERIAL }, valid: true }, setup: [] };
    },
    read(event) {
      const cert = (event.requestContext.identity as { clientCert?: { subjectDN?: unknown; serialNumber?: unknown } }).clientCert;
      return {
        subject: typeof cert?.subjectDN === 'string' ? [cert.subjectDN] : [],
        serial: cert === undefined || cert === null ? [] : [serialValue(cert.serialNumber)],
      };
    },
    variants: [],
  };
}

// ---------------------------------------------------------------------------------------------
// The trigger

/** The trigger's first delivery with an Idempotency-Key, then another body under the same key. */
const idempotencyReuse: Variant = {
  name: 'trigger.idempotencyKeyReuse',
  weight: 3,
  apply(s, ctx, rng) {
    const key = `delivery-${rng.hex(8)}`;
    const first = s.sign(ctx, rng);
    first.draft.headers.push(['Idempotency-Key', key]);
    const second = s.sign(ctx, rng);
    second.draft.headers.push(['Idempotency-Key', key]);
    return { ...second, setup: [first.draft] };
  },
};

// ---------------------------------------------------------------------------------------------

export interface SchemeSetup {
  readonly keys: FuzzKeys;
  readonly jwksUri: string;
  readonly jwtIssuer: string;
}

/**
 * A vendor preset on the ingest handler at `/<name>`: the header as the sender spells it, the body
 * it sends, its secret and another one, and the headers it adds that are not signed.
 */
function vendorHmac(
  name: string, preset: SignedContentSpec['preset'], signatureHeaderName: string, body: BodyMaker,
  [secretValue, otherSecret]: [string, string], extraHeaders?: SignedContentSpec['extraHeaders'],
): Scheme {
  return hmacScheme({ name, preset, signatureHeaderName, body, secretValue, otherSecret, extraHeaders });
}

/** GitHub's event, delivery id and hook id. */
const githubHeaders = (rng: Rng): [string, string][] =>
  [['X-GitHub-Event', rng.pick(['issues', 'push'])], ['X-GitHub-Delivery', `${rng.hex(4)}-${rng.hex(2)}-${rng.hex(2)}`], ['X-GitHub-Hook-ID', String(rng.between(1, 1e6))]];
/** Shopify's topic, shop and webhook id. */
const shopifyHeaders = (rng: Rng): [string, string][] =>
  [['X-Shopify-Topic', 'orders/create'], ['X-Shopify-Shop-Domain', 'shop.myshopify.com'], ['X-Shopify-Webhook-Id', `${rng.hex(8)}`]];

/** Every scheme of the library, in the order cases are spread over them. */
export function allSchemes(setup: SchemeSetup): Scheme[] {
  const k = setup.keys;
  const whsec = `whsec_${Buffer.from('fuzz-standard-webhooks-key-0123456789').toString('base64')}`;
  const ed25519Preset = () => WebhookAuth.standardWebhooksPublicKey({ publicKeys: [k.ed25519.publicKey] });
  const ed25519Auth = bindAuth('standard-webhooks-v1a', ed25519Preset) as Ed25519AuthConfig;
  const svixAliases = { 'webhook-id': 'svix-id', 'webhook-timestamp': 'svix-timestamp', 'webhook-signature': 'svix-signature' };
  return [
    vendorHmac('stripe', (s) => WebhookAuth.stripe(s), 'Stripe-Signature', stripeBody, ['whsec_fuzz_stripe_9f8e7d6c5b4a39281706f5e4d3c2b1a0', 'whsec_other_stripe_key']),
    vendorHmac('github', (s) => WebhookAuth.github(s), 'X-Hub-Signature-256', githubBody, ['fuzz-github-secret-0a1b2c3d', 'other-github-secret'], githubHeaders),
    vendorHmac('segment', (s) => WebhookAuth.segment(s), 'X-Signature', segmentBody, ['fuzz-segment-shared-secret', 'other-segment-secret']),
    vendorHmac('shopify', (s) => WebhookAuth.shopify(s), 'X-Shopify-Hmac-Sha256', shopifyBody, ['fuzz-shopify-client-secret', 'other-shopify-secret'], shopifyHeaders),
    vendorHmac('slack', (s) => WebhookAuth.slack(s), 'X-Slack-Signature', slackBody, ['fuzz-slack-signing-secret-8f14e45fceea167a', 'other-slack-secret']),
    twilioScheme(true),
    twilioScheme(false),
    hmacScheme({
      name: 'standard-webhooks', path: '/standard', preset: (s) => WebhookAuth.standardWebhooks(s),
      secretValue: whsec, otherSecret: `whsec_${Buffer.from('another-key').toString('base64')}`,
      signatureHeaderName: 'Webhook-Signature', body: standardBody, headerAliases: svixAliases,
    }),
    signedContentScheme({
      name: 'standard-webhooks-v1a', path: '/standard-v1a', preset: ed25519Preset, auth: ed25519Auth,
      signatureHeaderName: 'Webhook-Signature', body: standardBody, headerAliases: svixAliases,
      sign: (content, otherKey) => signBytes(null, content, otherKey ? k.otherEd25519 : k.ed25519.privateKey).toString('base64'),
    }),
    hmacScheme({
      name: 'planasonix-trigger', handler: 'trigger', path: '/exports', preset: (s) => WebhookAuth.planasonix(s),
      secretValue: 'fuzz-planasonix-signing-key-77aa', otherSecret: 'other-planasonix-key',
      signatureHeaderName: 'X-Planasonix-Signature', body: triggerBody,
      extraHeaders: (rng) => [['X-Planasonix-Event', 'export.ready'], ['X-Planasonix-Delivery', `d-${rng.hex(6)}`]],
      variants: [idempotencyReuse],
    }),
    hmacScheme({
      name: 'hmac', path: '/acme',
      preset: (s) => WebhookAuth.hmac({
        secret: s, signatureHeader: 'X-Acme-Signature', algorithm: HmacAlgorithm.SHA512, encoding: SignatureEncoding.BASE64,
        signaturePrefix: 'v1=', signedContent: '{timestamp}.{header:X-Acme-Delivery}.{body}', timestampHeader: 'X-Acme-Timestamp',
      }),
      secretValue: 'fuzz-acme-hmac-key-5e884898da28', otherSecret: 'other-acme-key',
      signatureHeaderName: 'X-Acme-Signature', body: acmeBody,
    }),
    bearerScheme(),
    jwtScheme(setup.jwksUri, setup.jwtIssuer),
    mtlsScheme(),
  ];
}

export { BEARER_TOKENS, TWILIO_TOKEN, secretArn };
