import { Duration, Token } from 'aws-cdk-lib';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { isTwilioUrl, type AuthConfig, type SignatureFormat } from '../lambda/common/auth-config';
import { type FieldSource } from '../lambda/ingest/config';
import {
  GITHUB_SCHEME,
  PLANASONIX_SCHEME,
  SEGMENT_SCHEME,
  SHOPIFY_SCHEME,
  SLACK_SCHEME,
  STANDARD_WEBHOOKS_SCHEME,
  STRIPE_SCHEME,
  type HmacScheme,
} from '../lambda/common/signature-schemes';
import type { MtlsClient } from './mtls-client';
import { HEADER_NAME } from './private/http-names';

/** The hash function of an HMAC signature. */
export enum HmacAlgorithm {
  /** HMAC-SHA1. Only for senders that still use it, such as Segment. */
  SHA1 = 'sha1',
  /** HMAC-SHA256. */
  SHA256 = 'sha256',
  /** HMAC-SHA512. */
  SHA512 = 'sha512',
}

/** How a signature's bytes are written in the header. */
export enum SignatureEncoding {
  /** Hexadecimal, either case. */
  HEX = 'hex',
  /** Standard base64 (RFC 4648 section 4). */
  BASE64 = 'base64',
}

/** Options for presets whose signature covers a timestamp. */
export interface SignedTimestampOptions {
  /**
   * How far the signed timestamp may be from the current time, in either direction.
   * Between 1 second and 1 hour.
   *
   * @default - the sender's documented window: 5 minutes (Stripe, Slack, Standard Webhooks),
   * 1 minute (Planasonix)
   */
  readonly tolerance?: Duration;
}

/**
 * The algorithm of Twilio's X-Twilio-Signature. Twilio signs with HMAC-SHA1 and the auth token; a
 * Twilio Webhook Setting can sign with a shared key and HMAC-SHA256 instead, and then announces
 * the algorithm in `X-Twilio-Webhooks-Signature-Settings`.
 *
 * @see https://www.twilio.com/docs/usage/webhooks/webhook-shared-keys
 */
export enum TwilioSignatureAlgorithm {
  /** HMAC-SHA1: Twilio's default, with no settings header or one that names `HMAC_SHA1`. */
  HMAC_SHA1 = 'HMAC_SHA1',
  /** HMAC-SHA256: only when the settings header names `HMAC_SHA256`. */
  HMAC_SHA256 = 'HMAC_SHA256',
}

/** Options for {@link WebhookAuth.twilio}. */
export interface TwilioAuthOptions {
  /**
   * The public URL Twilio calls, as configured at Twilio, without the query: https, no
   * credentials, no query, no fragment, such as `https://hooks.example.com/twilio`. Twilio signs
   * this URL, so set it when senders reach the source through anything but the gateway's own
   * domain (a CDN, a proxy, the execute-api URL of a gateway with a custom domain). The query
   * Twilio sends, such as `bodySHA256` or one configured at Twilio, is read from each request and
   * appended.
   *
   * @default - the gateway's custom domain and the source's path when the gateway has a custom
   * domain (not a wildcard one); else, for each request, https and the domain name and path API
   * Gateway received it on (stage included). Never the Host header, which the sender writes.
   */
  readonly url?: string;

  /**
   * The only signature algorithm accepted. A request announcing another one in
   * `X-Twilio-Webhooks-Signature-Settings`, or with `HMAC_SHA256` pinned, announcing none, is
   * refused with 401. The settings header is not signed, so pin the algorithm your Twilio Webhook
   * Setting uses to keep a sender from choosing it.
   *
   * @default - HMAC-SHA1, or HMAC-SHA256 when the request's settings header announces it
   */
  readonly algorithm?: TwilioSignatureAlgorithm;
}

/** Options for {@link WebhookAuth.stripe}. */
export interface StripeAuthOptions extends SignedTimestampOptions {}

/** Options for {@link WebhookAuth.hmac}. */
export interface HmacAuthOptions {
  /** The Secrets Manager secret whose string value is the HMAC key. */
  readonly secret: secretsmanager.ISecret;

  /** The request header that carries the signature, such as `X-Signature`. */
  readonly signatureHeader: string;

  /**
   * The hash function.
   *
   * @default HmacAlgorithm.SHA256
   */
  readonly algorithm?: HmacAlgorithm;

  /**
   * How the signature is encoded in the header.
   *
   * @default SignatureEncoding.HEX
   */
  readonly encoding?: SignatureEncoding;

  /**
   * Text before the signature in the header, such as `sha256=`.
   *
   * @default - no prefix
   */
  readonly signaturePrefix?: string;

  /**
   * What is signed, as a template over the request: `{body}` is the raw body bytes, `{timestamp}`
   * the value of `timestampHeader`, and `{header:Name}` any other header's value. For example
   * `{timestamp}.{body}`.
   *
   * @default '{body}'
   */
  readonly signedContent?: string;

  /**
   * The header that carries a Unix timestamp in seconds. Only allowed when `signedContent`
   * includes `{timestamp}`: an unsigned timestamp proves nothing.
   *
   * @default - no timestamp is checked
   */
  readonly timestampHeader?: string;

  /**
   * How far the signed timestamp may be from the current time. Between 1 second and 1 hour.
   *
   * @default Duration.minutes(5) when a timestamp is signed
   */
  readonly tolerance?: Duration;
}

/** Options for {@link WebhookAuth.bearerToken}. */
export interface BearerTokenAuthOptions {
  /**
   * The header that carries the token.
   *
   * @default 'Authorization'
   */
  readonly header?: string;

  /**
   * The scheme before the token in the header, matched case-insensitively. An empty string
   * means the header holds the bare token.
   *
   * @default 'Bearer'
   */
  readonly scheme?: string;
}

/** Options for {@link WebhookAuth.jwt}. */
export interface JwtAuthOptions {
  /** The exact `iss` every token must carry, such as `https://login.example.com/`. */
  readonly issuer: string;

  /** The `aud` values accepted; a token must carry at least one of them. */
  readonly audience: string[];

  /**
   * The identity provider's JWKS URL, over HTTPS.
   *
   * @default - `${issuer}/.well-known/jwks.json`
   */
  readonly jwksUri?: string;

  /**
   * The JWS algorithms accepted. Never `none`, never an HMAC algorithm.
   *
   * @default ['RS256']
   */
  readonly algorithms?: string[];

  /**
   * Clock skew allowed on `exp`, `nbf` and `iat`. At most 5 minutes.
   *
   * @default Duration.seconds(30)
   */
  readonly clockSkew?: Duration;

  /**
   * Claims every token must carry, whatever their value.
   *
   * @default - none beyond iss, aud and exp
   */
  readonly requiredClaims?: string[];
}

/** Options for {@link WebhookAuth.mtls}. */
export interface MtlsAuthOptions {
  /**
   * Subject DNs allowed to send, exactly as API Gateway reports them, such as
   * `CN=orders.internal,O=Example Corp,C=US`. Others are answered 403.
   *
   * @default - any client certificate the gateway's truststore accepts
   */
  readonly allowedSubjects?: string[];

  /**
   * The managed clients allowed to send, issued by the gateway's managed CA
   * (`gateway.addMtlsClient`). Only their current certificates are accepted, by serial number:
   * a reissued or removed client's old certificate, and a request with no certificate, get 403.
   * API Gateway itself checks no revocation.
   *
   * @default - any client certificate the gateway's truststore accepts
   */
  readonly clients?: MtlsClient[];
}

/** Options for {@link WebhookAuth.standardWebhooksPublicKey}. */
export interface StandardWebhooksPublicKeyOptions extends SignedTimestampOptions {
  /** The sender's published Ed25519 public keys, `whpk_<base64>` or plain base64 of the 32 raw bytes. */
  readonly publicKeys: string[];
}

/**
 * What a scheme hands to the construct. The config is the handler's, less the secret's ARN, which
 * the construct adds from `secret`.
 *
 * @internal
 */
export interface AuthBinding {
  readonly preset: string;
  readonly secret?: secretsmanager.ISecret;
  readonly config: DistributiveOmit<AuthConfig, 'secretArn'>;
  readonly metadata: { readonly id?: FieldSource; readonly type?: FieldSource; readonly timestamp?: FieldSource; readonly account?: FieldSource };
  readonly forwardedHeaders: readonly string[];
  /** The header every request must carry, as senders spell it; API Gateway checks it before invoking. */
  readonly requiredHeader?: string;
  readonly headerAliases?: Readonly<Record<string, string>>;
  readonly challenge?: 'slackUrlVerification';
  /** The scheme relies on the gateway's mTLS domain. */
  readonly needsMutualTls?: boolean;
  /** The managed clients the scheme accepts; they must come from the source's gateway. */
  readonly mtlsClients?: readonly MtlsClient[];
  /** False for senders that never redeliver a failed delivery (GitHub): they default to the queue. */
  readonly redelivers?: boolean;
}

/** @internal */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type Preset = Omit<AuthBinding, 'preset' | 'secret'>;

const PLACEHOLDER = /\{([^}]*)\}/g;
const FIVE_MINUTES = Duration.minutes(5);
const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

function checkTolerance(owner: string, tolerance: Duration): number {
  if (tolerance.isUnresolved()) return tolerance.toSeconds();
  const seconds = tolerance.toSeconds({ integral: false });
  if (seconds < 1 || seconds > 3600 || !Number.isInteger(seconds)) {
    throw new Error(`${owner}: tolerance must be a whole number of seconds between 1 second and 1 hour, got ${tolerance.toHumanString()}`);
  }
  return seconds;
}

function checkHeaderName(owner: string, what: string, name: string): string {
  if (!Token.isUnresolved(name) && !HEADER_NAME.test(name)) {
    throw new Error(`${owner}: ${what} '${name}' is not a valid HTTP header name`);
  }
  return name.toLowerCase();
}

function checkNonEmpty(owner: string, what: string, values: readonly string[]): void {
  if (values.length === 0 || values.some((v) => !Token.isUnresolved(v) && v.trim() === '')) {
    throw new Error(`${owner}: ${what} must list at least one non-empty value, got [${values.map((v) => `'${v}'`).join(', ')}]`);
  }
}

/** The public URL Twilio calls: https, no credentials, query or fragment (see isTwilioUrl). */
function checkTwilioUrl(owner: string, url: string): string {
  if (Token.isUnresolved(url)) return url;
  const problem = !/^https:\/\//i.test(url) ? 'must be https (API Gateway serves only https)'
    : /^https:\/\/[^/]*@/i.test(url) ? 'must not hold credentials, which would be written into the template'
      : url.includes('?') ? 'must not have a query: the query Twilio sends (such as bodySHA256) is read from each request'
        : url.includes('#') ? 'must not have a fragment, which is never sent'
          : !isTwilioUrl(url) ? 'must be the https URL Twilio calls: a host name, an optional port and a path of printable ASCII characters'
            : undefined;
  if (problem !== undefined) {
    throw new Error(`${owner}: url ${problem}, such as 'https://hooks.example.com/twilio', got '${url}'`);
  }
  return url;
}

const header = (name: string): FieldSource => ({ header: name });
const pointer = (jsonPointer: string): FieldSource => ({ jsonPointer });

/**
 * How a webhook source authenticates each request.
 *
 * Signatures are always checked over the raw request bytes, in constant time. Shared secrets and
 * tokens live in Secrets Manager and are read by the handler at run time: they never appear in
 * the template, the environment or the logs. A secret may hold one value, or a JSON object
 * `{"active": ["new", "old"]}` listing every value accepted while senders move from one to another.
 */
export class WebhookAuth {
  /**
   * Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, an HMAC-SHA256 of
   * `<t>.<raw body>` keyed with the endpoint's signing secret (`whsec_...`, stored as is).
   * Any `v1` may match, so a roll of the endpoint secret at Stripe keeps working.
   *
   * The event id, type and time come from the event's `id`, `type` and `created`. For Connect
   * endpoints, records carry the connected `account`; pass
   * `partitionKey: EventField.fromJsonPointer('/account')` to keep each account's events in order.
   *
   * @param secret a secret whose string value is the endpoint's signing secret
   * @see https://docs.stripe.com/webhooks#verify-manually
   */
  public static stripe(secret: secretsmanager.ISecret, options: StripeAuthOptions = {}): WebhookAuth {
    return new WebhookAuth('stripe', secret, (owner) => ({
      config: { kind: 'hmac', ...STRIPE_SCHEME, toleranceSeconds: checkTolerance(owner, options.tolerance ?? FIVE_MINUTES) },
      // Connect events name the connected account; platform events have none.
      metadata: { id: pointer('/id'), type: pointer('/type'), timestamp: pointer('/created'), account: pointer('/account') },
      forwardedHeaders: ['user-agent'],
      requiredHeader: 'Stripe-Signature',
    }));
  }

  /**
   * GitHub: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body keyed with the
   * webhook's secret. GitHub signs no timestamp; dedup on the delivery id instead. GitHub does not
   * redeliver failed deliveries, so its sources default to `BackpressurePolicy.queueAndSlowAccept()`.
   *
   * The event id is `X-GitHub-Delivery` and the type is `X-GitHub-Event`.
   *
   * @param secret a secret whose string value is the webhook's secret
   * @see https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
   */
  public static github(secret: secretsmanager.ISecret): WebhookAuth {
    return WebhookAuth.bodyHmac('github', secret, GITHUB_SCHEME, {
      requiredHeader: 'X-Hub-Signature-256',
      metadata: { id: header('x-github-delivery'), type: header('x-github-event') },
      redelivers: false,
      forwardedHeaders: [
        'user-agent',
        'x-github-delivery',
        'x-github-event',
        'x-github-hook-id',
        'x-github-hook-installation-target-id',
        'x-github-hook-installation-target-type',
      ],
    });
  }

  /**
   * Segment: `X-Signature: <hex>`, an HMAC-SHA1 of the raw body keyed with the shared secret.
   * Segment signs no timestamp.
   *
   * The event id, type and time come from the event's `messageId`, `type` and `timestamp`.
   *
   * @param secret a secret whose string value is the destination's shared secret
   * @see https://segment.com/docs/connections/destinations/catalog/webhooks/
   */
  public static segment(secret: secretsmanager.ISecret): WebhookAuth {
    return WebhookAuth.bodyHmac('segment', secret, SEGMENT_SCHEME, {
      requiredHeader: 'X-Signature',
      metadata: { id: pointer('/messageId'), type: pointer('/type'), timestamp: pointer('/timestamp') },
      forwardedHeaders: ['user-agent'],
    });
  }

  /**
   * Shopify: `X-Shopify-Hmac-Sha256: <base64>`, an HMAC-SHA256 of the raw body keyed with the
   * app's client secret. Shopify signs no timestamp; dedup on the webhook id.
   *
   * The event id is `X-Shopify-Webhook-Id` and the type is `X-Shopify-Topic`.
   *
   * @param secret a secret whose string value is the app's client secret
   * @see https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify
   */
  public static shopify(secret: secretsmanager.ISecret): WebhookAuth {
    return WebhookAuth.bodyHmac('shopify', secret, SHOPIFY_SCHEME, {
      requiredHeader: 'X-Shopify-Hmac-Sha256',
      metadata: { id: header('x-shopify-webhook-id'), type: header('x-shopify-topic') },
      forwardedHeaders: ['x-shopify-topic', 'x-shopify-shop-domain', 'x-shopify-webhook-id', 'x-shopify-api-version', 'x-shopify-event-id', 'x-shopify-triggered-at'],
    });
  }

  /**
   * Slack: `X-Slack-Signature: v0=<hex>`, an HMAC-SHA256 of `v0:<timestamp>:<raw body>` keyed with
   * the app's signing secret, with `X-Slack-Request-Timestamp` checked both ways. The
   * `url_verification` handshake Slack makes when the URL is saved is answered with its challenge.
   *
   * The event id, type and time come from the Events API envelope's `event_id`, `event.type` and
   * `event_time`.
   *
   * @param secret a secret whose string value is the app's signing secret
   * @see https://docs.slack.dev/authentication/verifying-requests-from-slack
   */
  public static slack(secret: secretsmanager.ISecret, options: SignedTimestampOptions = {}): WebhookAuth {
    return new WebhookAuth('slack', secret, (owner) => ({
      config: { kind: 'hmac', ...SLACK_SCHEME, toleranceSeconds: checkTolerance(owner, options.tolerance ?? FIVE_MINUTES) },
      metadata: { id: pointer('/event_id'), type: pointer('/event/type'), timestamp: pointer('/event_time') },
      forwardedHeaders: ['x-slack-retry-num', 'x-slack-retry-reason'],
      requiredHeader: 'X-Slack-Signature',
      challenge: 'slackUrlVerification',
    }));
  }

  /**
   * Twilio: `X-Twilio-Signature`, a base64 HMAC-SHA1 keyed with the auth token over the full URL
   * Twilio called followed by each form parameter's name and value in name order. For JSON
   * bodies, Twilio adds a `bodySHA256` query parameter and signs the URL alone. The URL is
   * accepted with and without its default port, as Twilio's own libraries do, and with the query
   * in each common spelling (a space as `%20` or `+`, `'` as is or `%27`, ...), because API
   * Gateway hands the handler decoded query values.
   *
   * The URL is the deployment's, never the request's Host header: `options.url`, else the
   * gateway's custom domain, else the domain name and path API Gateway received the request on.
   *
   * Under a Twilio Webhook Setting with a shared key, Twilio signs with that key and the algorithm
   * it names in `X-Twilio-Webhooks-Signature-Settings` (`HMAC_SHA1` or `HMAC_SHA256`); store the
   * shared key's secret in `secret` then, and pin `options.algorithm`.
   *
   * The event id is Twilio's `I-Twilio-Idempotency-Token` header.
   *
   * @param secret a secret whose string value is the account's auth token, or the Webhook Setting's shared key secret
   * @see https://www.twilio.com/docs/usage/webhooks/webhooks-security
   */
  public static twilio(secret: secretsmanager.ISecret, options: TwilioAuthOptions = {}): WebhookAuth {
    return new WebhookAuth('twilio', secret, (owner) => {
      const algorithm = options.algorithm;
      if (algorithm !== undefined && !Object.values(TwilioSignatureAlgorithm).includes(algorithm)) {
        throw new Error(`${owner}: algorithm must be TwilioSignatureAlgorithm.HMAC_SHA1 or HMAC_SHA256, got '${algorithm}'`);
      }
      return {
        config: {
          kind: 'twilio',
          ...(options.url === undefined ? {} : { url: checkTwilioUrl(owner, options.url) }),
          ...(algorithm === undefined ? {} : { algorithm }),
        },
        metadata: { id: header('i-twilio-idempotency-token') },
        forwardedHeaders: ['i-twilio-idempotency-token', 'user-agent'],
        requiredHeader: 'X-Twilio-Signature',
      };
    });
  }

  /**
   * Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp` and `webhook-signature`, or
   * the same headers named `svix-*`. The signature is a base64 HMAC-SHA256 of
   * `<id>.<timestamp>.<raw body>`; the header may list several space-separated `v1,<sig>` entries
   * and any may match. `v1a` (Ed25519) entries are left to {@link standardWebhooksPublicKey}.
   *
   * The secret's value is the `whsec_<base64>` string the sender shows; padding is optional.
   * The event id is `webhook-id`; the type and time come from the payload's `type` and `timestamp`.
   *
   * @see https://www.standardwebhooks.com/
   */
  public static standardWebhooks(secret: secretsmanager.ISecret, options: SignedTimestampOptions = {}): WebhookAuth {
    return new WebhookAuth('standard-webhooks', secret, (owner) => ({
      ...standardWebhooksPreset(),
      config: { kind: 'hmac', ...STANDARD_WEBHOOKS_SCHEME, toleranceSeconds: checkTolerance(owner, options.tolerance ?? FIVE_MINUTES) },
    }));
  }

  /**
   * Standard Webhooks' asymmetric scheme: `v1a,<base64>` entries in `webhook-signature` (or
   * `svix-signature`), Ed25519 signatures of `<id>.<timestamp>.<raw body>`, verified with the
   * sender's published public keys. No secret is involved.
   *
   * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#asymmetric-signatures
   */
  public static standardWebhooksPublicKey(options: StandardWebhooksPublicKeyOptions): WebhookAuth {
    return new WebhookAuth('standard-webhooks-v1a', undefined, (owner) => {
      checkNonEmpty(owner, 'publicKeys', options.publicKeys);
      for (const key of options.publicKeys) {
        if (Token.isUnresolved(key)) continue;
        const raw = Buffer.from(key.replace(/^whpk_/, ''), 'base64');
        if (raw.length !== 32 || raw.toString('base64').replace(/=+$/, '') !== key.replace(/^whpk_/, '').replace(/=+$/, '')) {
          throw new Error(`${owner}: publicKeys must be Ed25519 keys, whpk_ or plain base64 of 32 bytes, got '${key}'`);
        }
      }
      return {
        ...standardWebhooksPreset(),
        config: { kind: 'ed25519', publicKeys: [...options.publicKeys], ...standardWebhooksPublicKeySignature(owner, options) },
      };
    });
  }

  /**
   * Planasonix, the product's own scheme: `X-Planasonix-Signature: <hex>`, an HMAC-SHA256 of
   * `<timestamp>.<raw body>`, with the Unix timestamp in `X-Planasonix-Timestamp` and a short
   * window of 1 minute by default.
   *
   * @param secret a secret whose string value is the signing key
   */
  public static planasonix(secret: secretsmanager.ISecret, options: SignedTimestampOptions = {}): WebhookAuth {
    return new WebhookAuth('planasonix', secret, (owner) => ({
      config: { kind: 'hmac', ...PLANASONIX_SCHEME, toleranceSeconds: checkTolerance(owner, options.tolerance ?? Duration.minutes(1)) },
      metadata: { id: header('x-planasonix-delivery'), type: header('x-planasonix-event') },
      forwardedHeaders: ['x-planasonix-delivery', 'x-planasonix-event'],
      requiredHeader: 'X-Planasonix-Signature',
    }));
  }

  /**
   * Any HMAC scheme with one signature in one header: choose the algorithm, the encoding, the
   * header and its prefix, and what is signed.
   *
   * @example
   * WebhookAuth.hmac({
   *   secret,
   *   signatureHeader: 'X-Signature',
   *   signaturePrefix: 'v1=',
   *   signedContent: '{timestamp}.{body}',
   *   timestampHeader: 'X-Timestamp',
   * });
   */
  public static hmac(options: HmacAuthOptions): WebhookAuth {
    return new WebhookAuth('hmac', options.secret, (owner) => {
      const signedContent = options.signedContent ?? '{body}';
      const placeholders = [...signedContent.matchAll(PLACEHOLDER)].map((m) => m[1]);
      const unknown = placeholders.filter((p) => p !== 'body' && p !== 'timestamp' && !/^header:[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(p));
      if (unknown.length > 0) {
        throw new Error(`${owner}: signedContent '${signedContent}' has unknown placeholder {${unknown[0]}}; use {body}, {timestamp} or {header:Name}`);
      }
      if (!placeholders.includes('body')) {
        throw new Error(`${owner}: signedContent '${signedContent}' must include {body}, or the body would not be authenticated`);
      }
      const signsTimestamp = placeholders.includes('timestamp');
      if (signsTimestamp && options.timestampHeader === undefined) {
        throw new Error(`${owner}: signedContent includes {timestamp}, so timestampHeader must name the header that carries it`);
      }
      if (!signsTimestamp && (options.timestampHeader !== undefined || options.tolerance !== undefined)) {
        throw new Error(`${owner}: timestampHeader and tolerance need {timestamp} in signedContent; an unsigned timestamp cannot be trusted`);
      }
      const signatureFormat: SignatureFormat = { kind: 'plain', prefix: options.signaturePrefix };
      return {
        config: {
          kind: 'hmac',
          algorithm: options.algorithm ?? HmacAlgorithm.SHA256,
          encoding: options.encoding ?? SignatureEncoding.HEX,
          signatureHeader: checkHeaderName(owner, 'signatureHeader', options.signatureHeader),
          signatureFormat,
          signedContent,
          ...(signsTimestamp ? {
            timestampHeader: checkHeaderName(owner, 'timestampHeader', options.timestampHeader as string),
            toleranceSeconds: checkTolerance(owner, options.tolerance ?? FIVE_MINUTES),
          } : {}),
        },
        metadata: {},
        forwardedHeaders: [],
        requiredHeader: options.signatureHeader,
      };
    });
  }

  /**
   * A static token, `Authorization: Bearer <token>` by default, compared in constant time. The
   * secret holds the token, or `{"active": ["new", "old"]}` while senders move to a new token:
   * add the new token, move the senders, then remove the old one.
   *
   * @param secret a secret whose value is the token, or the list of active tokens
   */
  public static bearerToken(secret: secretsmanager.ISecret, options: BearerTokenAuthOptions = {}): WebhookAuth {
    return new WebhookAuth('bearer-token', secret, (owner) => {
      const headerName = options.header ?? 'Authorization';
      const scheme = options.scheme ?? 'Bearer';
      if (!Token.isUnresolved(scheme) && /\s/.test(scheme.trim())) {
        throw new Error(`${owner}: scheme must be one word, such as 'Bearer', got '${scheme}'`);
      }
      return {
        config: { kind: 'bearer', header: checkHeaderName(owner, 'header', headerName), ...(scheme.trim() === '' ? {} : { scheme: scheme.trim() }) },
        metadata: {},
        forwardedHeaders: [],
        requiredHeader: headerName,
      };
    });
  }

  /**
   * A JWT from an identity provider in `Authorization: Bearer <jwt>`, verified against the
   * provider's JWKS (fetched over HTTPS, cached, re-fetched for an unknown key id). The issuer,
   * audience, algorithm, expiry and required claims are checked; `alg: none` and HMAC algorithms
   * are always refused.
   */
  public static jwt(options: JwtAuthOptions): WebhookAuth {
    return new WebhookAuth('jwt', undefined, (owner) => {
      const algorithms = options.algorithms ?? ['RS256'];
      const refused = algorithms.filter((a) => !JWT_ALGORITHMS.includes(a));
      if (refused.length > 0) {
        throw new Error(`${owner}: algorithms may only name asymmetric JWS algorithms (${JWT_ALGORITHMS.join(', ')}), got '${refused.join("', '")}'`);
      }
      checkNonEmpty(owner, 'audience', options.audience);
      const issuer = options.issuer;
      if (!Token.isUnresolved(issuer) && !/^https:\/\/[^\s]+$/.test(issuer)) {
        throw new Error(`${owner}: issuer must be an https URL, got '${issuer}'`);
      }
      const jwksUri = options.jwksUri ?? `${issuer.replace(/\/$/, '')}/.well-known/jwks.json`;
      if (!Token.isUnresolved(jwksUri) && !/^https:\/\/[^\s]+$/.test(jwksUri)) {
        throw new Error(`${owner}: jwksUri must be an https URL, got '${jwksUri}'`);
      }
      const clockSkew = options.clockSkew ?? Duration.seconds(30);
      const clockSkewSeconds = clockSkew.toSeconds({ integral: false });
      if (clockSkewSeconds < 0 || clockSkewSeconds > 300 || !Number.isInteger(clockSkewSeconds)) {
        throw new Error(`${owner}: clockSkew must be a whole number of seconds up to 5 minutes, got ${clockSkew.toHumanString()}`);
      }
      return {
        config: {
          kind: 'jwt',
          issuer,
          audience: [...options.audience],
          jwksUri,
          algorithms: [...algorithms],
          clockSkewSeconds,
          requiredClaims: [...(options.requiredClaims ?? [])],
        },
        metadata: {},
        forwardedHeaders: [],
        requiredHeader: 'Authorization',
      };
    });
  }

  /**
   * The TLS client certificate that a {@link WebhookGateway}'s mTLS custom domain verified against
   * its truststore, optionally limited to some subject DNs, or to the current certificates of some
   * managed clients. Only valid on a gateway with mTLS, whose default endpoint is disabled, so the
   * check cannot be bypassed.
   */
  public static mtls(options: MtlsAuthOptions = {}): WebhookAuth {
    return new WebhookAuth('mtls', undefined, (owner) => {
      if (options.allowedSubjects !== undefined) checkNonEmpty(owner, 'allowedSubjects', options.allowedSubjects);
      const clients = options.clients;
      if (clients !== undefined && clients.length === 0) {
        throw new Error(`${owner}: clients must list at least one MtlsClient; omit it to accept any certificate the truststore accepts`);
      }
      return {
        config: {
          kind: 'mtls',
          ...(options.allowedSubjects === undefined ? {} : { allowedSubjects: [...options.allowedSubjects] }),
          ...(clients === undefined ? {} : { allowedSerialNumbers: clients.map((c) => c.serialNumber), managed: true }),
        },
        metadata: {},
        forwardedHeaders: [],
        needsMutualTls: true,
        mtlsClients: clients,
      };
    });
  }

  /** An HMAC over the raw body alone, in one header: GitHub, Segment, Shopify. */
  private static bodyHmac(preset: string, secret: secretsmanager.ISecret, scheme: HmacScheme, spec: {
    /** The signature header as API Gateway requires it. */
    readonly requiredHeader: string;
    readonly metadata: Preset['metadata'];
    readonly forwardedHeaders: readonly string[];
    readonly redelivers?: boolean;
  }): WebhookAuth {
    return new WebhookAuth(preset, secret, () => ({
      config: { kind: 'hmac', ...scheme },
      metadata: spec.metadata,
      forwardedHeaders: spec.forwardedHeaders,
      requiredHeader: spec.requiredHeader,
      redelivers: spec.redelivers,
    }));
  }

  /** The secret that holds the signing key or tokens, for schemes that use one. */
  public readonly secret?: secretsmanager.ISecret;

  private constructor(
    /** A short name for the scheme, such as `stripe`. */
    public readonly preset: string,
    secret: secretsmanager.ISecret | undefined,
    private readonly bindPreset: (owner: string) => Preset,
  ) {
    this.secret = secret;
  }

  /**
   * Validates the options and returns what the handler needs.
   *
   * @param owner names the construct in error messages, such as `WebhookStreamSource 'App/Stripe'`
   * @internal
   */
  public _bind(owner: string): AuthBinding {
    return { preset: this.preset, secret: this.secret, ...this.bindPreset(owner) };
  }
}

/** Standard Webhooks' asymmetric entries: the HMAC scheme's headers and content, with `v1a` entries. */
function standardWebhooksPublicKeySignature(owner: string, options: SignedTimestampOptions) {
  const { encoding, signatureHeader, signatureFormat, signedContent, timestampHeader } = STANDARD_WEBHOOKS_SCHEME;
  return {
    encoding,
    signatureHeader,
    signatureFormat: { ...signatureFormat, version: 'v1a' },
    signedContent,
    timestampHeader,
    toleranceSeconds: checkTolerance(owner, options.tolerance ?? FIVE_MINUTES),
  };
}

function standardWebhooksPreset(): Omit<Preset, 'config'> {
  return {
    metadata: { id: header('webhook-id'), type: pointer('/type'), timestamp: pointer('/timestamp') },
    forwardedHeaders: ['webhook-id', 'webhook-timestamp', 'user-agent'],
    // Svix sends the same headers as svix-*; API Gateway cannot require "one of two", so the
    // handler alone checks that a signature is present.
    headerAliases: { 'webhook-id': 'svix-id', 'webhook-timestamp': 'svix-timestamp', 'webhook-signature': 'svix-signature' },
  };
}
