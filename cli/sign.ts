/**
 * `sign` and `send`: sign a body the way a sender does, with the library's own signing code
 * (lambda/common/signing), and print the headers or a curl command, or post it.
 */
import { randomUUID } from 'node:crypto';
import type { HmacAlgorithmName, SignatureEncodingName, TwilioAlgorithmName } from '../lambda/common/auth-config';
import { HMAC_SCHEMES, type HmacScheme } from '../lambda/common/signature-schemes';
import { signHmac, signTwilio } from '../lambda/common/signing';
import { UsageError } from './errors';

/**
 * The schemes `--scheme` names: the `WebhookAuth` factory of each (`WebhookAuth.standardWebhooks`
 * is `standardWebhooks`). `bearerToken` and `jwt` send the token itself, so only `send` takes them.
 */
export const SCHEME_NAMES = ['stripe', 'github', 'segment', 'shopify', 'slack', 'twilio', 'standardWebhooks', 'planasonix', 'hmac', 'bearerToken', 'jwt'] as const;
export type SchemeName = typeof SCHEME_NAMES[number];
/** Other spellings `--scheme` accepts, and the scheme each one means. */
export const SCHEME_ALIASES: Readonly<Record<string, SchemeName>> = { standard: 'standardWebhooks' };
/** The schemes whose "signature" is the secret itself: sent, never printed. */
export const TOKEN_SCHEMES: readonly SchemeName[] = ['bearerToken', 'jwt'];

/** The scheme a `--scheme` value names, alias or not; undefined when it names none. */
export function schemeNamed(name: string): SchemeName | undefined {
  if ((SCHEME_NAMES as readonly string[]).includes(name)) return name as SchemeName;
  return Object.hasOwn(SCHEME_ALIASES, name) ? SCHEME_ALIASES[name] : undefined;
}

interface Preset {
  readonly scheme: HmacScheme;
  /** The header that carries the sender's delivery id, which `--id` (or a new UUID) fills. */
  readonly deliveryHeader?: string;
  readonly idPrefix?: string;
}

const PRESETS: Readonly<Record<Exclude<SchemeName, 'twilio' | 'hmac' | 'bearerToken' | 'jwt'>, Preset>> = {
  stripe: { scheme: HMAC_SCHEMES.stripe },
  github: { scheme: HMAC_SCHEMES.github, deliveryHeader: 'x-github-delivery' },
  segment: { scheme: HMAC_SCHEMES.segment },
  shopify: { scheme: HMAC_SCHEMES.shopify, deliveryHeader: 'x-shopify-webhook-id' },
  slack: { scheme: HMAC_SCHEMES.slack },
  standardWebhooks: { scheme: HMAC_SCHEMES.standardWebhooks, deliveryHeader: 'webhook-id', idPrefix: 'msg_' },
  planasonix: { scheme: HMAC_SCHEMES.planasonix, deliveryHeader: 'x-planasonix-delivery' },
};

/** The options of `--scheme hmac`, named as `WebhookAuth.hmac`'s. */
export interface GenericHmacOptions {
  readonly algorithm?: string;
  readonly encoding?: string;
  readonly signatureHeader?: string;
  readonly signaturePrefix?: string;
  readonly signedContent?: string;
  readonly timestampHeader?: string;
}

export interface SignRequest {
  readonly scheme: SchemeName;
  readonly secret: string;
  readonly body: Buffer;
  readonly contentType: string;
  /** Extra headers to send, by name. Headers the scheme signs (`{header:name}`) are read from here. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The signed timestamp in Unix seconds. @default now */
  readonly timestamp?: number;
  /** The delivery id, for schemes that send one in a header. @default a new UUID */
  readonly id?: string;
  /** The URL the request goes to. Twilio signs it, as written; required for `twilio`. */
  readonly url?: string;
  readonly hmac?: GenericHmacOptions;
  /** For `bearerToken`: the header and the word before the token, as `WebhookAuth.bearerToken`'s options. */
  readonly token?: { readonly header?: string; readonly scheme?: string };
}

export interface SignedRequest {
  /** The URL to call: Twilio's gains `bodySHA256` for a body that is not a form. */
  readonly url?: string;
  /** Every header to send, lower case, content-type included. */
  readonly headers: Record<string, string>;
}

export { UsageError };

function genericScheme(options: GenericHmacOptions = {}): HmacScheme {
  const algorithm = options.algorithm ?? 'sha256';
  const encoding = options.encoding ?? 'hex';
  if (!['sha1', 'sha256', 'sha512'].includes(algorithm)) throw new UsageError(`--algorithm must be sha1, sha256 or sha512, got ${algorithm}`);
  if (!['hex', 'base64'].includes(encoding)) throw new UsageError(`--encoding must be hex or base64, got ${encoding}`);
  if (options.signatureHeader === undefined) throw new UsageError('--scheme hmac needs --signature-header');
  const signedContent = options.signedContent ?? '{body}';
  if (signedContent.includes('{timestamp}') && options.timestampHeader === undefined) {
    throw new UsageError('--signed-content includes {timestamp}, so --timestamp-header must name the header that carries it');
  }
  return {
    algorithm: algorithm as HmacAlgorithmName,
    encoding: encoding as SignatureEncodingName,
    signatureHeader: options.signatureHeader.toLowerCase(),
    signatureFormat: { kind: 'plain', prefix: options.signaturePrefix },
    signedContent,
    ...(options.timestampHeader === undefined ? {} : { timestampHeader: options.timestampHeader.toLowerCase() }),
  };
}

/** `--algorithm` for `--scheme twilio`: a Webhook Setting's algorithm, HMAC_SHA1 or HMAC_SHA256 (sha1 and sha256 too). */
function twilioAlgorithmOption(value: string | undefined): TwilioAlgorithmName | undefined {
  if (value === undefined) return undefined;
  const name = /^(?:hmac[_-]?)?(sha1|sha256)$/i.exec(value)?.[1].toUpperCase();
  if (name === undefined) throw new UsageError(`--algorithm for --scheme twilio must be HMAC_SHA1 or HMAC_SHA256, got ${value}`);
  return `HMAC_${name}` as TwilioAlgorithmName;
}

function lowerCaseKeys(headers: Readonly<Record<string, string>> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Signs a request as the scheme's sender would. */
export function signRequest(request: SignRequest): SignedRequest {
  const headers: Record<string, string> = { 'content-type': request.contentType, ...lowerCaseKeys(request.headers) };
  if (request.scheme === 'bearerToken' || request.scheme === 'jwt') {
    // The token is the secret: `Authorization: Bearer <token>`, or the source's own header and word.
    const header = (request.scheme === 'jwt' ? undefined : request.token?.header) ?? 'authorization';
    const word = (request.scheme === 'jwt' ? undefined : request.token?.scheme) ?? 'Bearer';
    return { url: request.url, headers: { ...headers, [header.toLowerCase()]: word === '' ? request.secret : `${word} ${request.secret}` } };
  }
  if (request.scheme === 'twilio') {
    if (request.url === undefined) throw new UsageError('--scheme twilio signs the URL: pass --url (or send to one)');
    if (!URL.canParse(request.url) || !/^https?:\/\//i.test(request.url)) throw new UsageError(`--url must be an http or https URL, got '${request.url}'`);
    const algorithm = twilioAlgorithmOption(request.hmac?.algorithm);
    const form = /^application\/x-www-form-urlencoded\b/i.test(request.contentType)
      ? [...new URLSearchParams(request.body.toString('utf8'))] as [string, string][]
      : undefined;
    // API Gateway only serves https, so the URL Twilio signed is the https one, written as given
    // (Twilio signs the URL as configured, not a normalized form).
    const scheme = /^https?:\/\//i.exec(request.url)![0];
    const signed = signTwilio(request.secret, `https://${request.url.slice(scheme.length)}`, request.body, form, { algorithm });
    return { url: `${scheme}${signed.url.slice('https://'.length)}`, headers: { ...headers, ...signed.headers } };
  }
  const preset: Preset = request.scheme === 'hmac' ? { scheme: genericScheme(request.hmac) } : PRESETS[request.scheme];
  if (preset.deliveryHeader !== undefined && headers[preset.deliveryHeader] === undefined) {
    headers[preset.deliveryHeader] = request.id ?? `${preset.idPrefix ?? ''}${randomUUID()}`;
  }
  const timestamp = request.timestamp ?? Math.floor(Date.now() / 1000);
  const signed = signHmac(preset.scheme, request.secret, request.body, { timestamp, headers });
  return { url: request.url, headers: { ...headers, ...signed } };
}

const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** A curl command that sends the signed request; the body comes from `bodyFile` (`-` for stdin). */
export function curlCommand(url: string, signed: SignedRequest, bodyFile: string): string {
  const lines = [`curl -sS -X POST ${shellQuote(signed.url ?? url)}`];
  for (const [name, value] of Object.entries(signed.headers)) lines.push(`  -H ${shellQuote(`${name}: ${value}`)}`);
  lines.push(`  --data-binary ${shellQuote(`@${bodyFile}`)}`);
  return lines.join(' \\\n');
}

/** `Name: value` lines. */
export function headerLines(signed: SignedRequest): string {
  return Object.entries(signed.headers).map(([name, value]) => `${name}: ${value}`).join('\n');
}

/** Posts a signed request and returns the answer; gives up after `timeoutMs` (API Gateway's 29 s, and some). */
export async function sendRequest(url: string, signed: SignedRequest, body: Buffer, timeoutMs = 35_000): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(signed.url ?? url, { method: 'POST', headers: signed.headers, body, signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, headers: response.headers, body: await response.text() };
}
