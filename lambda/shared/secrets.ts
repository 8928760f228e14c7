import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DependencyUnavailableError } from './errors';

/** Returns every secret value that may currently sign a request. */
export type SecretFetcher = (secretArn: string) => Promise<readonly string[]>;

/** Reads the AWSCURRENT value of a Secrets Manager secret. */
export function secretsManagerFetcher(client: SecretsManagerClient): SecretFetcher {
  return async (secretArn) => {
    const response = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const value = response.SecretString ?? (response.SecretBinary ? Buffer.from(response.SecretBinary).toString('utf8') : '');
    if (value === '') throw new Error('the secret has no value');
    return [value];
  };
}

export interface SecretCacheOptions {
  /** How long a fetched value is used before it is fetched again. */
  readonly ttlMs: number;
  /**
   * How long past its TTL a value may still be used while Secrets Manager cannot be reached.
   * Past that, and with nothing cached, requests fail closed with a 503.
   */
  readonly maxStaleMs: number;
  readonly now?: () => number;
  /** Called when a stale value is served because a refresh failed. */
  readonly onStale?: (error: unknown) => void;
}

interface Entry {
  readonly values: readonly string[];
  readonly fetchedAt: number;
}

/** Caches secret values per container for a short TTL, and fails closed. */
export class SecretCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<readonly string[]>>();
  private readonly now: () => number;

  constructor(private readonly fetch: SecretFetcher, private readonly options: SecretCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  async get(secretArn: string): Promise<readonly string[]> {
    const entry = this.entries.get(secretArn);
    const age = entry === undefined ? Infinity : this.now() - entry.fetchedAt;
    if (entry !== undefined && age < this.options.ttlMs) return entry.values;

    let pending = this.inFlight.get(secretArn);
    if (pending === undefined) {
      pending = this.fetch(secretArn).finally(() => this.inFlight.delete(secretArn));
      this.inFlight.set(secretArn, pending);
    }
    try {
      const values = await pending;
      this.entries.set(secretArn, { values, fetchedAt: this.now() });
      return values;
    } catch (error) {
      if (entry !== undefined && age < this.options.ttlMs + this.options.maxStaleMs) {
        this.options.onStale?.(error);
        return entry.values;
      }
      throw new DependencyUnavailableError('Secrets Manager', { cause: error, retryAfterSeconds: 30 });
    }
  }
}
