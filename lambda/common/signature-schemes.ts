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

/** Stripe: `Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">`. */
export const STRIPE_SCHEME: HmacScheme = {
  algorithm: 'sha256',
  encoding: 'hex',
  signatureHeader: 'stripe-signature',
  signatureFormat: { kind: 'keyValueList', separator: ',', timestampKey: 't', signatureKey: 'v1' },
  signedContent: '{timestamp}.{body}',
};

/** GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. */
export const GITHUB_SCHEME: HmacScheme = {
  algorithm: 'sha256',
  encoding: 'hex',
  signatureHeader: 'x-hub-signature-256',
  signatureFormat: { kind: 'plain', prefix: 'sha256=' },
  signedContent: '{body}',
};

/** Segment: `X-Signature: <hex HMAC-SHA1 of the body>`. */
export const SEGMENT_SCHEME: HmacScheme = {
  algorithm: 'sha1',
  encoding: 'hex',
  signatureHeader: 'x-signature',
  signatureFormat: { kind: 'plain' },
  signedContent: '{body}',
};

/** Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`. */
export const SHOPIFY_SCHEME: HmacScheme = {
  algorithm: 'sha256',
  encoding: 'base64',
  signatureHeader: 'x-shopify-hmac-sha256',
  signatureFormat: { kind: 'plain' },
  signedContent: '{body}',
};

/** Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<body>">`, the timestamp in its own header. */
export const SLACK_SCHEME: HmacScheme = {
  algorithm: 'sha256',
  encoding: 'hex',
  signatureHeader: 'x-slack-signature',
  signatureFormat: { kind: 'plain', prefix: 'v0=' },
  signedContent: 'v0:{timestamp}:{body}',
  timestampHeader: 'x-slack-request-timestamp',
};

/**
 * Standard Webhooks (and Svix): `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<ts>.<body>">`,
 * keyed with the base64 after `whsec_`. Several space-separated entries may be sent.
 */
export const STANDARD_WEBHOOKS_SCHEME: HmacScheme = {
  algorithm: 'sha256',
  keyEncoding: 'whsecBase64',
  encoding: 'base64',
  signatureHeader: 'webhook-signature',
  signatureFormat: { kind: 'versionedList', entrySeparator: ' ', versionSeparator: ',', version: 'v1' },
  signedContent: '{header:webhook-id}.{timestamp}.{body}',
  timestampHeader: 'webhook-timestamp',
};

/** Planasonix: `X-Planasonix-Signature: <hex HMAC-SHA256 of "<ts>.<body>">`, the timestamp in its own header. */
export const PLANASONIX_SCHEME: HmacScheme = {
  algorithm: 'sha256',
  encoding: 'hex',
  signatureHeader: 'x-planasonix-signature',
  signatureFormat: { kind: 'plain' },
  signedContent: '{timestamp}.{body}',
  timestampHeader: 'x-planasonix-timestamp',
};
