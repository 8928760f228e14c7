/**
 * The contract between WebhookTrigger (lib/) and the trigger handler (lambda/trigger). Like
 * ./config, it has no runtime dependencies so that lib/ can import it.
 */
import type { AuthConfig } from '../common/config';

/** Bumped whenever the document changes shape. A handler refuses any other version. */
export const TRIGGER_CONFIG_VERSION = 1;

/** The environment variable that carries the JSON document (the same name as the ingest's). */
export const TRIGGER_CONFIG_ENV_VAR = 'WEBHOOK_INGRESS_CONFIG';

/** The JSON types a mapped parameter may be required to have. */
export type ParameterTypeName = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

/** Where one run parameter comes from. */
export type ParameterSource =
  /** A JSONPath-like reference into the body: `$.export_id`, `$.items[0].uri`, `$['a b']`. */
  | { readonly jsonPath: string }
  /** A request header, lower-case name. */
  | { readonly header: string }
  /** A fixed value. */
  | { readonly value: unknown };

export interface ParameterMapping {
  /** The parameter's name in the run input's `parameters`. */
  readonly name: string;
  readonly from: ParameterSource;
  /** A missing (or null) value is a validation error. */
  readonly required: boolean;
  /** The value must have this JSON type. Absent: any. */
  readonly type?: ParameterTypeName;
}

export interface TriggerConfig {
  readonly version: number;
  /** Written into every run input as `source`. */
  readonly source: string;
  /**
   * What StartExecution starts: a state machine, or one of its versions or aliases, by ARN.
   * `stateMachineArn` is the state machine's own ARN (for execution ARNs).
   */
  readonly target: {
    readonly arn: string;
    readonly stateMachineArn: string;
  };
  readonly auth: AuthConfig;
  readonly secretCacheTtlSeconds: number;
  /** How long AWSPREVIOUS is still accepted after a rotation, in seconds. Absent: 24 hours. */
  readonly previousSecretGraceSeconds?: number;
  /** Headers read under another name when absent (Standard Webhooks' svix-*). */
  readonly headerAliases?: Readonly<Record<string, string>>;
  readonly parameters: readonly ParameterMapping[];
  /**
   * `strict`: a missing or mistyped parameter is a 400 naming it, and no run starts.
   * `lenient`: the run starts, carrying `validationErrors`, for the state machine to fail visibly.
   */
  readonly validation: 'strict' | 'lenient';
  /** Include the parsed body in the run input as `body`. */
  readonly includeBody: boolean;
  /**
   * Lower-case headers whose value names the delivery, in order of preference, such as
   * `idempotency-key` then the sender's delivery id. The first present one makes the
   * correlation id; without any, a hash of the body does.
   */
  readonly idempotencyHeaders: readonly string[];
  readonly maxBodyBytes: number;
  /** Seconds sent in `Retry-After` with a 429 or 503. */
  readonly retryAfterSeconds: number;
}
