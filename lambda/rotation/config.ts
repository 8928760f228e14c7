/**
 * The rotation function's configuration: the document WebhookSigningSecret (lib/) writes, its one
 * parse at cold start, and the rule both check with the same code. No runtime dependencies: lib/
 * imports it.
 */
import { ConfigError, readConfigDocument, refuseIf } from '../common/config-document';

/** Bumped whenever the rotation function's configuration document changes shape. */
export const ROTATION_CONFIG_VERSION = 1;

/**
 * How a signing secret is written:
 * - `whsec`: `whsec_` and standard base64 (with padding) of the random bytes, as Standard Webhooks
 *   (Svix, Clerk, ...) writes them. The HMAC key is the decoded bytes.
 * - `hex`: lower-case hex of the random bytes. The HMAC key is the string itself.
 * - `token`: base64url without padding of the random bytes, for a bearer token or a string key.
 */
export type SecretFormat = 'whsec' | 'hex' | 'token';

/**
 * The random bytes each format allows, both for a new value and for a value testSecret accepts.
 * Standard Webhooks allows 24 to 64; the others ask for at least 128 bits. 64 bytes is one block
 * of SHA-256, past which HMAC hashes the key down anyway.
 */
export const SECRET_FORMATS: Readonly<Record<SecretFormat, { readonly minBytes: number; readonly maxBytes: number }>> = {
  whsec: { minBytes: 24, maxBytes: 64 },
  hex: { minBytes: 16, maxBytes: 64 },
  token: { minBytes: 16, maxBytes: 64 },
};

/** What the construct hands the rotation function, as JSON in CONFIG_ENV_VAR. */
export interface RotationConfig {
  readonly version: typeof ROTATION_CONFIG_VERSION;
  /** How a new value is written, and what testSecret accepts. */
  readonly format: SecretFormat;
  /** Random bytes in a new value; within the format's range in SECRET_FORMATS. */
  readonly bytes: number;
  /** The bus that receives the pending event, by name or ARN. Absent: the account's default bus. */
  readonly eventBusName?: string;
}

/** Why `bytes` is not a number of random bytes for the format (see SECRET_FORMATS), or undefined. */
export function secretBytesProblem(format: SecretFormat, bytes: number): string | undefined {
  const range = SECRET_FORMATS[format];
  return Number.isInteger(bytes) && bytes >= range.minBytes && bytes <= range.maxBytes
    ? undefined
    : `must be a whole number from ${range.minBytes} to ${range.maxBytes} for ${format}, got ${bytes}`;
}

/** Parses and validates the rotation function's configuration document. Throws ConfigError. */
export function parseRotationConfig(json: string | undefined): RotationConfig {
  const { format, bytes, eventBusName } = readConfigDocument(json, ROTATION_CONFIG_VERSION, 'this rotation function reads version');
  const secretFormat = (Object.keys(SECRET_FORMATS) as SecretFormat[]).find((name) => name === format);
  if (secretFormat === undefined) {
    throw new ConfigError(`format must be one of ${Object.keys(SECRET_FORMATS).join(', ')}, got ${JSON.stringify(format)}`);
  }
  if (typeof bytes !== 'number') throw new ConfigError(`bytes must be a whole number, got ${JSON.stringify(bytes)}`);
  refuseIf(secretBytesProblem(secretFormat, bytes), 'bytes');
  if (eventBusName !== undefined && (typeof eventBusName !== 'string' || eventBusName === '')) {
    throw new ConfigError('eventBusName must be a non-empty event bus name or ARN, or absent for the default bus');
  }
  return {
    version: ROTATION_CONFIG_VERSION,
    format: secretFormat,
    bytes,
    ...(eventBusName === undefined ? {} : { eventBusName }),
  };
}
