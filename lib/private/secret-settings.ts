import { Duration } from 'aws-cdk-lib';

/** How a handler caches its signing secret, as both constructs that verify requests set it. */
export interface SecretSettings {
  readonly secretCacheTtlSeconds: number;
  readonly previousSecretGraceSeconds: number;
}

/**
 * Checks `secretCacheTtl` (1 second to 1 hour, default 1 minute) and `previousSecretGrace`
 * (0 to 30 days, default 24 hours), and turns them into the handler's whole seconds.
 */
export function secretSettings(owner: string, props: { readonly secretCacheTtl?: Duration; readonly previousSecretGrace?: Duration }): SecretSettings {
  const secretCacheTtl = props.secretCacheTtl ?? Duration.minutes(1);
  const secretCacheTtlSeconds = secretCacheTtl.toSeconds({ integral: false });
  if (secretCacheTtlSeconds < 1 || secretCacheTtlSeconds > 3600 || !Number.isInteger(secretCacheTtlSeconds)) {
    throw new Error(`${owner}: secretCacheTtl must be a whole number of seconds between 1 second and 1 hour, got ${secretCacheTtl.toHumanString()}`);
  }
  const grace = props.previousSecretGrace ?? Duration.hours(24);
  const previousSecretGraceSeconds = grace.toSeconds({ integral: false });
  if (previousSecretGraceSeconds < 0 || previousSecretGraceSeconds > 30 * 86_400 || !Number.isInteger(previousSecretGraceSeconds)) {
    throw new Error(`${owner}: previousSecretGrace must be a whole number of seconds from 0 to 30 days, got ${grace.toHumanString()}`);
  }
  return { secretCacheTtlSeconds, previousSecretGraceSeconds };
}
