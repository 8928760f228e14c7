/**
 * The vendor HMAC signature schemes, as data: where the signature goes, how it is written and what
 * it covers. The presets in lib/webhook-auth.ts verify with them and the `sign` command signs with
 * them, so a sender simulated locally signs exactly as the verifier expects.
 *
 * No runtime dependencies: lib/ and the command-line tool both import this file.
 */
import type { HmacAuthConfig } from './auth-config';

/** An HMAC preset's signature scheme: everything of its configuration but the secret and the window. */
export type HmacScheme = Omit<HmacAuthConfig, 'kind' | 'secretArn' | 'toleranceSeconds'>;

/**
 * A scheme as its vendor writes it: HMAC-SHA256 in hex, the signature alone in its header, unless
 * `scheme` says otherwise. The fields keep the order of the configuration the constructs write.
 */
function hmacScheme(scheme: Pick<HmacScheme, 'signatureHeader' | 'signedContent'> & Partial<HmacScheme>): HmacScheme {
  const { algorithm = 'sha256', keyEncoding, encoding = 'hex', signatureHeader, signatureFormat = { kind: 'plain' }, signedContent, timestampHeader } = scheme;
  return {
    algorithm,
    ...(keyEncoding === undefined ? {} : { keyEncoding }),
    encoding,
    signatureHeader,
    signatureFormat,
    signedContent,
    ...(timestampHeader === undefined ? {} : { timestampHeader }),
  };
}

/** Stripe: `Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">`. */
export const STRIPE_SCHEME = hmacScheme({
  signatureHeader: 'stripe-signature',
  signatureFormat: { kind: 'keyValueList', separator: ',', timestampKey: 't', signatureKey: 'v1' },
  signedContent: '{timestamp}.{body}',
});

/** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. */
export const GITHUB_SCHEME = hmacScheme({ signatureHeader: 'x-hub-signature-256', signatureFormat: { kind: 'plain', prefix: 'sha256=' }, signedContent: '{body}' });

/** Segment: `X-Signature: <hex HMAC-SHA1 of the body>`. */
export const SEGMENT_SCHEME = hmacScheme({ algorithm: 'sha1', signatureHeader: 'x-signature', signedContent: '{body}' });

/** Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`. */
export const SHOPIFY_SCHEME = hmacScheme({ encoding: 'base64', signatureHeader: 'x-shopify-hmac-sha256', signedContent: '{body}' });

/** Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<body>">`, the timestamp in its own header. */
export const SLACK_SCHEME = hmacScheme({
  signatureHeader: 'x-slack-signature',
  signatureFormat: { kind: 'plain', prefix: 'v0=' },
  signedContent: 'v0:{timestamp}:{body}',
  timestampHeader: 'x-slack-request-timestamp',
});

/**
 * Standard Webhooks (and Svix): `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<ts>.<body>">`,
 * keyed with the base64 after `whsec_`. Several space-separated entries may be sent.
 */
export const STANDARD_WEBHOOKS_SCHEME = hmacScheme({
  keyEncoding: 'whsecBase64',
  encoding: 'base64',
  signatureHeader: 'webhook-signature',
  signatureFormat: { kind: 'versionedList', entrySeparator: ' ', versionSeparator: ',', version: 'v1' },
  signedContent: '{header:webhook-id}.{timestamp}.{body}',
  timestampHeader: 'webhook-timestamp',
});

/** Planasonix: `X-Planasonix-Signature: <hex HMAC-SHA256 of "<ts>.<body>">`, the timestamp in its own header. */
export const PLANASONIX_SCHEME = hmacScheme({ signatureHeader: 'x-planasonix-signature', signedContent: '{timestamp}.{body}', timestampHeader: 'x-planasonix-timestamp' });

/** The vendor schemes by the name of their `WebhookAuth` preset, for code that picks one by name. */
export const HMAC_SCHEMES = {
  stripe: STRIPE_SCHEME,
  github: GITHUB_SCHEME,
  segment: SEGMENT_SCHEME,
  shopify: SHOPIFY_SCHEME,
  slack: SLACK_SCHEME,
  standardWebhooks: STANDARD_WEBHOOKS_SCHEME,
  planasonix: PLANASONIX_SCHEME,
} as const satisfies Readonly<Record<string, HmacScheme>>;
