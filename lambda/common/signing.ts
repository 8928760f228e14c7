/**
 * Signing, the inverse of ./verify: what a sender computes and sends. The `sign` and `send`
 * commands and the tests sign with these functions, and the handlers verify with ./verify, so a
 * request signed here is one the deployed verifier accepts.
 */
import { createHash, createHmac } from 'node:crypto';
import type { SignatureEncodingName, TwilioAlgorithmName } from './auth-config';
import { HMAC_SCHEMES, type HmacScheme } from './signature-schemes';
import { compileSignedContent, hmacKey, sortedPairs } from './verify';

export interface SignOptions {
  /** The signed timestamp, in Unix seconds. Required when the scheme signs one. */
  readonly timestamp?: number;
  /** Headers the scheme signs (`{header:name}`), by lower-case name. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The HMAC of a scheme's signed content, encoded as the scheme writes it. */
export function hmacSignature(scheme: HmacScheme, secret: string, body: string | Buffer, options: SignOptions = {}): string {
  const mac = createHmac(scheme.algorithm, hmacKey(secret, scheme.keyEncoding));
  for (const part of compileSignedContent(scheme.signedContent)) {
    switch (part.kind) {
      case 'literal': mac.update(part.bytes); break;
      case 'body': mac.update(body); break;
      case 'timestamp': {
        if (options.timestamp === undefined) throw new Error('this scheme signs a timestamp: pass one');
        mac.update(String(options.timestamp));
        break;
      }
      case 'header': {
        const value = options.headers?.[part.name];
        if (value === undefined) throw new Error(`this scheme signs the ${part.name} header: pass its value`);
        mac.update(value, 'utf8');
        break;
      }
    }
  }
  return mac.digest(scheme.encoding as SignatureEncodingName);
}

/**
 * Signs a body the way a scheme's sender does and returns the headers to send with it: the
 * signature header and, when the scheme carries the timestamp in a header of its own, that one.
 * Header names are lower case.
 */
export function signHmac(scheme: HmacScheme, secret: string, body: string | Buffer, options: SignOptions = {}): Record<string, string> {
  const signature = hmacSignature(scheme, secret, body, options);
  const format = scheme.signatureFormat;
  let value: string;
  switch (format.kind) {
    case 'plain': value = `${format.prefix ?? ''}${signature}`; break;
    case 'keyValueList': value = `${format.timestampKey}=${options.timestamp}${format.separator}${format.signatureKey}=${signature}`; break;
    case 'versionedList': value = `${format.version}${format.versionSeparator}${signature}`; break;
  }
  const headers: Record<string, string> = { [scheme.signatureHeader]: value };
  if (scheme.timestampHeader !== undefined) headers[scheme.timestampHeader] = String(options.timestamp);
  return headers;
}

/**
 * Twilio's X-Twilio-Signature: base64 HMAC, keyed with the auth token (or a shared key), of the URL
 * plus the sorted form pairs. HMAC-SHA1 unless `algorithm` says otherwise.
 */
export function twilioSignature(
  authToken: string,
  url: string,
  params: readonly (readonly [string, string])[] = [],
  algorithm: TwilioAlgorithmName = 'HMAC_SHA1',
): string {
  const hash = algorithm === 'HMAC_SHA256' ? 'sha256' : 'sha1';
  return createHmac(hash, authToken).update(url + sortedPairs(params).map(([k, v]) => k + v).join(''), 'utf8').digest('base64');
}

export interface TwilioSignOptions {
  /**
   * Sign as a Twilio Webhook Setting with this algorithm does, announcing it in
   * X-Twilio-Webhooks-Signature-Settings. Absent: HMAC-SHA1 and no settings header, as Twilio
   * signs with the auth token.
   */
  readonly algorithm?: TwilioAlgorithmName;
}

/**
 * Signs a request as Twilio does. A form body's pairs are signed with the URL. Any other body is
 * covered by a `bodySHA256` query parameter (its hex SHA-256) appended to the URL as it is
 * written, and the signature covers that URL alone.
 *
 * @returns the URL to call and the headers to send
 */
export function signTwilio(
  authToken: string,
  url: string,
  body: string | Buffer,
  form: readonly (readonly [string, string])[] | undefined,
  options: TwilioSignOptions = {},
): { url: string; headers: Record<string, string> } {
  let signedUrl = url;
  if (form === undefined) {
    signedUrl = `${url}${url.includes('?') ? '&' : '?'}bodySHA256=${createHash('sha256').update(body).digest('hex')}`;
  }
  const headers: Record<string, string> = { 'x-twilio-signature': twilioSignature(authToken, signedUrl, form ?? [], options.algorithm) };
  if (options.algorithm !== undefined) headers['x-twilio-webhooks-signature-settings'] = `algorithm=${options.algorithm}`;
  return { url: signedUrl, headers };
}

/** The value of one header of a scheme's signature. */
const headerOf = (scheme: HmacScheme, secret: string, body: string | Buffer, options: SignOptions) =>
  signHmac(scheme, secret, body, options)[scheme.signatureHeader];

/** `t=<ts>,v1=<hex>`, as Stripe sends in Stripe-Signature. */
export const stripeSignature = (secret: string, body: string | Buffer, timestamp: number) => headerOf(HMAC_SCHEMES.stripe, secret, body, { timestamp });
/** The hex `v1` of a Stripe signature alone. */
export const stripeV1 = (secret: string, body: string | Buffer, timestamp: number) => hmacSignature(HMAC_SCHEMES.stripe, secret, body, { timestamp });
/** `sha256=<hex>`, as GitHub sends in X-Hub-Signature-256. */
export const githubSignature = (secret: string, body: string | Buffer) => headerOf(HMAC_SCHEMES.github, secret, body, {});
/** `v0=<hex>`, as Slack sends in X-Slack-Signature. */
export const slackSignature = (secret: string, body: string | Buffer, timestamp: number) => headerOf(HMAC_SCHEMES.slack, secret, body, { timestamp });
/** The hex HMAC-SHA1 Segment sends in X-Signature. */
export const segmentSignature = (secret: string, body: string | Buffer) => headerOf(HMAC_SCHEMES.segment, secret, body, {});
/** The base64 HMAC-SHA256 Shopify sends in X-Shopify-Hmac-Sha256. */
export const shopifySignature = (secret: string, body: string | Buffer) => headerOf(HMAC_SCHEMES.shopify, secret, body, {});
/** `v1,<base64>`, as a Standard Webhooks sender puts in webhook-signature. */
export const standardWebhooksSignature = (secret: string, id: string, timestamp: number, body: string | Buffer) =>
  headerOf(HMAC_SCHEMES.standardWebhooks, secret, body, { timestamp, headers: { 'webhook-id': id } });
/** The hex HMAC-SHA256 Planasonix sends in X-Planasonix-Signature. */
export const planasonixSignature = (secret: string, body: string | Buffer, timestamp: number) => headerOf(HMAC_SCHEMES.planasonix, secret, body, { timestamp });
