import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DependencyUnavailableError } from './errors';
import { sdkTransport } from './sdk-transport';

/** The staging labels Secrets Manager's rotation moves, strongest first. */
export type SecretStage = 'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS';

/** The order in which stages are tried. A version holding two labels counts as the first. */
export const SECRET_STAGES: readonly SecretStage[] = ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'];

/** One value that may sign a request, and the stage of the version that holds it. */
export interface SecretCandidate {
  readonly stage: SecretStage;
  /** The version's whole value (a JSON `{"active": [...]}` list is expanded by the verifier). */
  readonly value: string;
}

/** Every value that may sign a request right now, in {@link SECRET_STAGES} order. */
export type SecretCandidates = readonly SecretCandidate[];

/**
 * Where the authenticator reads secrets. Only `get` is required: a source with just `get` (a test
 * fake, an older cache) is treated as holding current values only. A source that also has
 * `candidates` reports which stage verified a request, and one with `refreshAfterMiss` gets one
 * more look at Secrets Manager when a signature matches no known version.
 */
export interface SecretSource {
  /** Every value that may sign a request, whatever its stage. */
  get(secretArn: string): Promise<readonly string[]>;
  /** Every value that may sign a request, tagged with its stage. */
  candidates?(secretArn: string): Promise<SecretCandidates>;
  /**
   * Called after a signature or token matched none of the candidates. Returns the freshest
   * candidates there are: re-read from Secrets Manager when the last read is old enough, else
   * the cached ones. Once the secret is cached, an unavailable Secrets Manager does not make it
   * throw: the cached candidates are returned.
   */
  refreshAfterMiss?(secretArn: string): Promise<SecretCandidates>;
}

/** One labelled version of a secret. Version values never change; only their labels move. */
export interface SecretVersion {
  readonly versionId: string;
  /** Every staging label on the version, custom ones included. */
  readonly stages: readonly string[];
  readonly value: string;
  /** When the version was created (`PutSecretValue`), in ms since the epoch. */
  readonly createdMs?: number;
}

/** What one read of a secret's versions returned. */
export interface SecretSnapshot {
  readonly versions: readonly SecretVersion[];
  /**
   * DescribeSecret's `LastChangedDate` in ms since the epoch: the last time the secret was
   * modified in any way, a staging label move included.
   */
  readonly lastChangedMs?: number;
}

/**
 * Reads a secret. A plain list of strings is taken as the current value(s) only, which is what
 * {@link secretsManagerFetcher} returns; {@link secretsManagerVersionsFetcher} returns every
 * labelled version with its stages.
 */
export type SecretFetcher = (secretArn: string) => Promise<readonly string[] | SecretSnapshot>;

function valueOf(response: GetSecretValueCommandOutput): string {
  return response.SecretString ?? (response.SecretBinary ? Buffer.from(response.SecretBinary).toString('utf8') : '');
}

/** Reads the AWSCURRENT value of a Secrets Manager secret. Needs `secretsmanager:GetSecretValue`. */
export function secretsManagerFetcher(client: SecretsManagerClient): SecretFetcher {
  return async (secretArn) => {
    const value = valueOf(await client.send(new GetSecretValueCommand({ SecretId: secretArn })));
    if (value === '') throw new Error('the secret has no value');
    return [value];
  };
}

const isRotationStage = (label: string): label is SecretStage => (SECRET_STAGES as readonly string[]).includes(label);

/**
 * Reads every version of a Secrets Manager secret that holds AWSCURRENT, AWSPENDING or
 * AWSPREVIOUS, with its labels and the secret's `LastChangedDate`. Needs
 * `secretsmanager:DescribeSecret` and `secretsmanager:GetSecretValue`.
 *
 * DescribeSecret gives the version-to-labels map and `LastChangedDate` in one consistent answer.
 * Each version's value is then read by its VersionId, not by its label, so a label moving between
 * the two calls cannot pair a value with the wrong stage. Version values never change, so a value
 * is read once per container: a refresh in which no version is new costs one DescribeSecret.
 */
export function secretsManagerVersionsFetcher(client: SecretsManagerClient): SecretFetcher {
  const known = new Map<string, Map<string, { readonly value: string; readonly createdMs?: number }>>();
  return async (secretArn) => {
    const described = await client.send(new DescribeSecretCommand({ SecretId: secretArn }));
    const labelled = Object.entries(described.VersionIdsToStages ?? {}).filter(([, stages]) => stages.some(isRotationStage));
    if (!labelled.some(([, stages]) => stages.includes('AWSCURRENT'))) throw new Error('the secret has no AWSCURRENT version');

    const previous = known.get(secretArn);
    const values = new Map<string, { readonly value: string; readonly createdMs?: number }>();
    const versions = await Promise.all(labelled.map(async ([versionId, stages]): Promise<SecretVersion | undefined> => {
      let version = previous?.get(versionId);
      if (version === undefined) {
        const response = await client.send(new GetSecretValueCommand({ SecretId: secretArn, VersionId: versionId }));
        version = { value: valueOf(response), createdMs: response.CreatedDate?.getTime() };
      }
      if (version.value === '') {
        // Never verify with an empty key. Without a current value there is nothing to verify with.
        if (stages.includes('AWSCURRENT')) throw new Error('the secret has no value');
        return undefined;
      }
      values.set(versionId, version);
      return { versionId, stages, ...version };
    }));
    known.set(secretArn, values);
    return {
      versions: versions.filter((v): v is SecretVersion => v !== undefined),
      lastChangedMs: described.LastChangedDate?.getTime(),
    };
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
  /**
   * How long the AWSPREVIOUS version is still accepted after AWSCURRENT moved off it, so that
   * senders still signing with the old secret keep being accepted while they move over. 0 never
   * accepts it. To cut the old secret off at once, remove its AWSPREVIOUS label.
   *
   * @default 24 hours
   */
  readonly previousGraceMs?: number;
  /**
   * A signature or token that matches no cached version re-reads the secret, at most once per
   * this interval (a read for the TTL counts too), so that a sender who moved to a secret created
   * a moment ago is not refused until the TTL runs out.
   *
   * @default 5 seconds
   */
  readonly missRefreshIntervalMs?: number;
  readonly now?: () => number;
  /** Called when a cached value is served because a refresh failed. */
  readonly onStale?: (error: unknown) => void;
}

/** Secrets Manager's clock and this container's may differ a little; grace starts this much later. */
export const CLOCK_ALLOWANCE_MS = 5_000;

interface Entry {
  readonly snapshot: SecretSnapshot;
  readonly fetchedAt: number;
  /** The AWSCURRENT version, when the fetcher names versions. */
  readonly currentVersionId?: string;
  /** When this container first received a snapshot in which `currentVersionId` was current. */
  readonly currentSeenAt: number;
}

/**
 * Caches secret versions per container for a short TTL, and fails closed.
 *
 * Which versions verify a request, at the moment it is verified:
 * - AWSCURRENT and AWSPENDING, always;
 * - AWSPREVIOUS, until `previousGraceMs` after the moment AWSCURRENT moved off it.
 *
 * That moment is not recorded by Secrets Manager, so the grace counts from an upper bound on it:
 * the earlier of (a) when this container first saw the current version as current, and (b) the
 * secret's `LastChangedDate` plus {@link CLOCK_ALLOWANCE_MS}. Both are at or after the real
 * change-over: (a) because nothing is seen before it happens, (b) because moving a label modifies
 * the secret. Counting from a time at or after the change-over means the grace never ends early.
 * The version's `CreatedDate` is not used: the pending version is created at createSecret, before
 * finishSecret makes it current, possibly long before, and counting from it could cut senders off.
 * (a) alone would restart the grace in every new container; (b) bounds that, and (a) bounds (b)
 * when the secret is modified again later (a tag, the next createSecret).
 */
export class SecretCache implements Required<SecretSource> {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();
  /** When each secret was last read from Secrets Manager, successfully or not. */
  private readonly lastAttemptAt = new Map<string, number>();
  private readonly lastAttemptFailed = new Set<string>();
  private readonly candidateLists = new WeakMap<Entry, { readonly previousOpen: boolean; readonly candidates: SecretCandidates }>();
  private readonly now: () => number;
  private readonly previousGraceMs: number;
  private readonly missRefreshIntervalMs: number;

  constructor(private readonly fetch: SecretFetcher, private readonly options: SecretCacheOptions) {
    this.now = options.now ?? Date.now;
    this.previousGraceMs = options.previousGraceMs ?? 24 * 60 * 60 * 1_000;
    this.missRefreshIntervalMs = options.missRefreshIntervalMs ?? 5_000;
  }

  async get(secretArn: string): Promise<readonly string[]> {
    return (await this.candidates(secretArn)).map((c) => c.value);
  }

  async candidates(secretArn: string): Promise<SecretCandidates> {
    return this.candidatesOf(await this.entry(secretArn));
  }

  async refreshAfterMiss(secretArn: string): Promise<SecretCandidates> {
    const entry = this.entries.get(secretArn);
    if (entry === undefined) return this.candidates(secretArn);
    const sinceLastRead = this.now() - (this.lastAttemptAt.get(secretArn) ?? -Infinity);
    if (!this.inFlight.has(secretArn) && sinceLastRead < this.missRefreshIntervalMs) return this.candidatesOf(entry);
    try {
      return this.candidatesOf(await this.refresh(secretArn));
    } catch (error) {
      this.options.onStale?.(error);
      return this.candidatesOf(entry);
    }
  }

  /** The cached entry while fresh, else a new read; a stale one while Secrets Manager fails; else a 503. */
  private async entry(secretArn: string): Promise<Entry> {
    const entry = this.entries.get(secretArn);
    const age = entry === undefined ? Infinity : this.now() - entry.fetchedAt;
    if (entry !== undefined && age < this.options.ttlMs) return entry;
    const usable = entry !== undefined && age < this.options.ttlMs + this.options.maxStaleMs;

    // Right after a failed read, serve the stale entry instead of waiting on Secrets Manager again.
    const sinceLastRead = this.now() - (this.lastAttemptAt.get(secretArn) ?? -Infinity);
    if (usable && this.lastAttemptFailed.has(secretArn) && !this.inFlight.has(secretArn) && sinceLastRead < this.missRefreshIntervalMs) {
      return entry;
    }
    try {
      return await this.refresh(secretArn);
    } catch (error) {
      if (usable) {
        this.options.onStale?.(error);
        return entry;
      }
      throw new DependencyUnavailableError('Secrets Manager', { cause: error, retryAfterSeconds: 30 });
    }
  }

  /** One read of the secret; concurrent callers share it. */
  private refresh(secretArn: string): Promise<Entry> {
    let pending = this.inFlight.get(secretArn);
    if (pending === undefined) {
      this.lastAttemptAt.set(secretArn, this.now());
      pending = this.fetch(secretArn).then(
        (result) => {
          this.lastAttemptFailed.delete(secretArn);
          return this.store(secretArn, result);
        },
        (error: unknown) => {
          this.lastAttemptFailed.add(secretArn);
          throw error;
        },
      ).finally(() => this.inFlight.delete(secretArn));
      this.inFlight.set(secretArn, pending);
    }
    return pending;
  }

  private store(secretArn: string, result: readonly string[] | SecretSnapshot): Entry {
    // Taken after the answer arrived: by then any label move Secrets Manager reported has happened.
    const receivedAt = this.now();
    const snapshot: SecretSnapshot = isSnapshot(result)
      ? result
      : { versions: result.map((value, i) => ({ versionId: `#${i}`, stages: ['AWSCURRENT'], value })) };
    const currentVersionId = isSnapshot(result) ? snapshot.versions.find((v) => v.stages.includes('AWSCURRENT'))?.versionId : undefined;
    const before = this.entries.get(secretArn);
    const entry: Entry = {
      snapshot,
      fetchedAt: receivedAt,
      currentVersionId,
      currentSeenAt: before !== undefined && before.currentVersionId !== undefined && before.currentVersionId === currentVersionId
        ? before.currentSeenAt
        : receivedAt,
    };
    this.entries.set(secretArn, entry);
    return entry;
  }

  /** When AWSPREVIOUS stops being accepted, by the rule in the class comment. */
  private previousAcceptedUntil(entry: Entry): number {
    let start = entry.currentSeenAt;
    const lastChanged = entry.snapshot.lastChangedMs;
    const current = entry.snapshot.versions.find((v) => v.versionId === entry.currentVersionId);
    // A LastChangedDate before the current version even existed cannot bound the label move.
    const plausible = lastChanged !== undefined && (current?.createdMs === undefined || lastChanged >= current.createdMs);
    if (plausible) start = Math.min(start, lastChanged + CLOCK_ALLOWANCE_MS);
    return start + this.previousGraceMs;
  }

  /**
   * The candidates of an entry, the same list while the entry and whether AWSPREVIOUS is still
   * accepted stay the same (so that a verifier can keep what it derives from the list).
   */
  private candidatesOf(entry: Entry): SecretCandidates {
    const previousOpen = this.now() < this.previousAcceptedUntil(entry);
    const memo = this.candidateLists.get(entry);
    if (memo !== undefined && memo.previousOpen === previousOpen) return memo.candidates;
    const candidates = candidatesAt(entry, previousOpen);
    this.candidateLists.set(entry, { previousOpen, candidates });
    return candidates;
  }
}

/** Which versions verify a request, by the rule in SecretCache's comment, strongest stage first. */
function candidatesAt(entry: Entry, previousOpen: boolean): SecretCandidates {
  const out: SecretCandidate[] = [];
  for (const stage of SECRET_STAGES) {
    if (stage === 'AWSPREVIOUS' && !previousOpen) continue;
    for (const version of entry.snapshot.versions) {
      // The strongest label a version holds is its stage: AWSPENDING left on the current version is current.
      if (SECRET_STAGES.find((s) => version.stages.includes(s)) === stage) out.push({ stage, value: version.value });
    }
  }
  return out;
}

function isSnapshot(result: readonly string[] | SecretSnapshot): result is SecretSnapshot {
  return !Array.isArray(result);
}

/**
 * The secret cache a handler uses: every rotation stage, read through a client with short
 * timeouts; the previous value accepted for `previousSecretGraceSeconds` (24 hours when absent) after a
 * rotation; a cached value served for up to 15 minutes while Secrets Manager is unavailable.
 */
export function handlerSecretCache(
  config: { readonly secretCacheTtlSeconds: number; readonly previousSecretGraceSeconds?: number },
  logger: { warn(message: string, attributes: Record<string, unknown>): void },
): SecretCache {
  const client = new SecretsManagerClient({
    maxAttempts: 2,
    requestHandler: sdkTransport(3_000),
  });
  return new SecretCache(secretsManagerVersionsFetcher(client), {
    ttlMs: config.secretCacheTtlSeconds * 1_000,
    previousGraceMs: (config.previousSecretGraceSeconds ?? 86_400) * 1_000,
    maxStaleMs: 15 * 60 * 1_000,
    onStale: (error) => logger.warn('serving a cached secret; Secrets Manager refresh failed', {
      errorName: error instanceof Error ? error.name : typeof error,
    }),
  });
}
