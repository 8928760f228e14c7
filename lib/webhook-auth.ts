import { Duration, Token } from 'aws-cdk-lib';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { FieldSource, HmacAuthConfig, SignatureFormat } from '../lambda/shared/config';

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

/** Options for {@link WebhookAuth.stripe}. */
export interface StripeAuthOptions {
  /**
   * How far the signed timestamp (`t=`) may be from the current time, in either direction.
   * Between 1 second and 1 hour.
   *
   * @default Duration.minutes(5), Stripe's own default
   * @see https://docs.stripe.com/webhooks#verify-manually
   */
  readonly tolerance?: Duration;
}

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

/** @internal */
export interface AuthBinding {
  readonly preset: string;
  readonly secret: secretsmanager.ISecret;
  readonly config: Omit<HmacAuthConfig, 'secretArn'>;
  readonly metadata: { readonly id?: FieldSource; readonly type?: FieldSource; readonly timestamp?: FieldSource };
  readonly forwardedHeaders: readonly string[];
  /** The signature header as senders spell it, which API Gateway requires before invoking. */
  readonly signatureHeader: string;
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const PLACEHOLDER = /\{([^}]*)\}/g;
const DEFAULT_TOLERANCE = Duration.minutes(5);

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

/**
 * How a webhook source authenticates each request.
 *
 * Signatures are always checked over the raw request bytes, in constant time, against the value
 * of a Secrets Manager secret that the handler reads at run time: the secret never appears in
 * the template, the environment or the logs.
 */
export class WebhookAuth {
  /**
   * Stripe's scheme: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, an HMAC-SHA256
   * of `<t>.<raw body>` keyed with the endpoint's signing secret (`whsec_...`, stored as is).
   * Any `v1` may match, so a roll of the endpoint secret at Stripe keeps working.
   *
   * The event id, type and time come from the event's `id`, `type` and `created`.
   *
   * @param secret a secret whose string value is the endpoint's signing secret
   * @see https://docs.stripe.com/webhooks#verify-manually
   */
  public static stripe(secret: secretsmanager.ISecret, options: StripeAuthOptions = {}): WebhookAuth {
    const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
    return new WebhookAuth('stripe', secret, (owner) => ({
      config: {
        kind: 'hmac',
        algorithm: 'sha256',
        encoding: 'hex',
        signatureHeader: 'stripe-signature',
        signatureFormat: { kind: 'keyValueList', separator: ',', timestampKey: 't', signatureKey: 'v1' },
        signedContent: '{timestamp}.{body}',
        toleranceSeconds: checkTolerance(owner, tolerance),
      },
      metadata: { id: { jsonPointer: '/id' }, type: { jsonPointer: '/type' }, timestamp: { jsonPointer: '/created' } },
      forwardedHeaders: ['user-agent'],
      signatureHeader: 'Stripe-Signature',
    }));
  }

  /**
   * GitHub's scheme: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body keyed
   * with the webhook's secret. GitHub signs no timestamp; dedup on the delivery id instead.
   *
   * The event id is `X-GitHub-Delivery` and the type is `X-GitHub-Event`.
   *
   * @param secret a secret whose string value is the webhook's secret
   * @see https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
   */
  public static github(secret: secretsmanager.ISecret): WebhookAuth {
    return new WebhookAuth('github', secret, () => ({
      config: {
        kind: 'hmac',
        algorithm: 'sha256',
        encoding: 'hex',
        signatureHeader: 'x-hub-signature-256',
        signatureFormat: { kind: 'plain', prefix: 'sha256=' },
        signedContent: '{body}',
      },
      metadata: { id: { header: 'x-github-delivery' }, type: { header: 'x-github-event' } },
      forwardedHeaders: [
        'user-agent',
        'x-github-delivery',
        'x-github-event',
        'x-github-hook-id',
        'x-github-hook-installation-target-id',
        'x-github-hook-installation-target-type',
      ],
      signatureHeader: 'X-Hub-Signature-256',
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
      const signatureHeader = checkHeaderName(owner, 'signatureHeader', options.signatureHeader);
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
      return {
        config: {
          kind: 'hmac',
          algorithm: options.algorithm ?? HmacAlgorithm.SHA256,
          encoding: options.encoding ?? SignatureEncoding.HEX,
          signatureHeader,
          signatureFormat: { kind: 'plain', prefix: options.signaturePrefix } as SignatureFormat,
          signedContent,
          ...(signsTimestamp ? {
            timestampHeader: checkHeaderName(owner, 'timestampHeader', options.timestampHeader as string),
            toleranceSeconds: checkTolerance(owner, options.tolerance ?? DEFAULT_TOLERANCE),
          } : {}),
        },
        metadata: {},
        forwardedHeaders: [],
        signatureHeader: options.signatureHeader,
      };
    });
  }

  /** The secret that holds the signing key. */
  public readonly secret: secretsmanager.ISecret;

  private constructor(
    /** A short name for the scheme, such as `stripe`. */
    public readonly preset: string,
    secret: secretsmanager.ISecret,
    private readonly bindPreset: (owner: string) => Omit<AuthBinding, 'preset' | 'secret'>,
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
