import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  type DescribeSecretCommandInput,
  type GetSecretValueCommandInput,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { authenticate, type AuthResult } from '../../lambda/common/authenticate';
import type { AuthConfig, HmacAuthConfig } from '../../lambda/common/auth-config';
import {
  DependencyUnavailableError,
  InvalidTokenError,
  MissingCredentialsError,
  SignatureMismatchError,
  TimestampOutsideToleranceError,
  WebhookError,
} from '../../lambda/common/errors';
import { fromApiGatewayEvent } from '../../lambda/common/http';
import {
  CLOCK_ALLOWANCE_MS,
  SecretCache,
  secretsManagerVersionsFetcher,
  type SecretCacheOptions,
  type SecretFetcher,
  type SecretSnapshot,
  type SecretStage,
} from '../../lambda/common/secrets';
import { WebhookAuth } from '../../lib';
import { anyAuthConfig, authConfig, SECRET_ARN, stripeAuth } from '../support/presets';
import { apiGatewayEvent, planasonixSignature, stripeSignature } from '../support/signers';

// No Secrets Manager emulator runs here, so the client is mocked at the SDK boundary; the traffic
// tests answer it from an in-memory model of versions and staging labels.
const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());

const S = 1_000;
const T0 = Date.UTC(2026, 0, 1);
const OLD = 'whsec_old_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH';
const NEW = 'whsec_new_Qm9yZ2V0IG1lIG5vdCwgcm90YXRlZCBzZWNy';

/**
 * One secret in Secrets Manager: versions, their staging labels, and LastChangedDate, moved the
 * way Secrets Manager moves them. Moving AWSCURRENT moves AWSPREVIOUS to the version it left; a
 * label is on at most one version; every write sets LastChangedDate.
 */
class SecretsManagerModel {
  now = T0;
  down = false;
  lastChanged = T0;
  private readonly versions = new Map<string, { readonly value: string; readonly stages: Set<string>; readonly created: number }>();

  constructor(versionId: string, value: string) {
    this.versions.set(versionId, { value, stages: new Set(['AWSCURRENT']), created: this.now });
  }

  /** Answers the mocked client from this model. */
  install(): this {
    sm.on(DescribeSecretCommand).callsFake(async (input: DescribeSecretCommandInput) => this.describeSecret(input));
    sm.on(GetSecretValueCommand).callsFake(async (input: GetSecretValueCommandInput) => this.getSecretValue(input));
    return this;
  }

  describeSecret(input: DescribeSecretCommandInput) {
    this.failWhenDown();
    if (input.SecretId !== SECRET_ARN) throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
    const labelled = [...this.versions].filter(([, v]) => v.stages.size > 0);
    return {
      ARN: SECRET_ARN,
      Name: 'webhook',
      LastChangedDate: new Date(this.lastChanged),
      VersionIdsToStages: Object.fromEntries(labelled.map(([id, v]) => [id, [...v.stages]])),
    };
  }

  getSecretValue(input: GetSecretValueCommandInput) {
    this.failWhenDown();
    const stage = input.VersionStage ?? (input.VersionId === undefined ? 'AWSCURRENT' : undefined);
    const found = [...this.versions].find(([id, v]) => (input.VersionId === undefined || id === input.VersionId) && (stage === undefined || v.stages.has(stage)));
    if (found === undefined) throw Object.assign(new Error('no such version'), { name: 'ResourceNotFoundException' });
    const [versionId, version] = found;
    return { ARN: SECRET_ARN, VersionId: versionId, SecretString: version.value, VersionStages: [...version.stages], CreatedDate: new Date(version.created) };
  }

  /** Rotation step 1: PutSecretValue with VersionStages [AWSPENDING]. */
  createSecret(versionId: string, value: string): void {
    this.versions.set(versionId, { value, stages: new Set(), created: this.now });
    this.move('AWSPENDING', versionId);
  }

  /** Rotation step 4: UpdateSecretVersionStage moves AWSCURRENT; AWSPREVIOUS follows. AWSPENDING stays. */
  finishSecret(versionId: string): void {
    const from = this.holder('AWSCURRENT');
    this.move('AWSCURRENT', versionId);
    if (from !== undefined && from !== versionId) this.move('AWSPREVIOUS', from);
  }

  removeLabel(stage: string): void {
    for (const v of this.versions.values()) v.stages.delete(stage);
    this.lastChanged = this.now;
  }

  /** Any other write (a tag, a description) also sets LastChangedDate. */
  tag(): void {
    this.lastChanged = this.now;
  }

  private holder(stage: string): string | undefined {
    return [...this.versions].find(([, v]) => v.stages.has(stage))?.[0];
  }

  private move(stage: string, versionId: string): void {
    for (const v of this.versions.values()) v.stages.delete(stage);
    this.versions.get(versionId)!.stages.add(stage);
    this.lastChanged = this.now;
  }

  private failWhenDown(): void {
    if (this.down) throw Object.assign(new Error('Secrets Manager is having a bad day'), { name: 'InternalServiceError' });
  }
}

/** One Lambda container: its own cache and fetcher, with every read it made recorded. */
function container(model: SecretsManagerModel, options: Partial<SecretCacheOptions> = {}) {
  const fetcher = secretsManagerVersionsFetcher(new SecretsManagerClient({}));
  const reads: { at: number; snapshot: SecretSnapshot }[] = [];
  const failedReads: number[] = [];
  const fetch: SecretFetcher = async (arn) => {
    const at = model.now;
    try {
      const snapshot = await fetcher(arn) as SecretSnapshot;
      reads.push({ at, snapshot });
      return snapshot;
    } catch (error) {
      failedReads.push(at);
      throw error;
    }
  };
  const onStale = jest.fn();
  const cache = new SecretCache(fetch, {
    ttlMs: 60 * S,
    maxStaleMs: 15 * 60 * S,
    previousGraceMs: 60 * 60 * S,
    missRefreshIntervalMs: 5 * S,
    now: () => model.now,
    onStale,
    ...options,
  });
  /** The strongest label the version holding `value` had at this container's last read. */
  const labelSeen = (value: string): SecretStage | undefined => {
    const version = reads[reads.length - 1]?.snapshot.versions.find((v) => v.value === value);
    return (['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'] as const).find((s) => version?.stages.includes(s));
  };
  return { cache, reads, failedReads, onStale, labelSeen };
}

interface Preset {
  readonly name: string;
  readonly auth: HmacAuthConfig;
  sign(secret: string, body: string, timestamp: number): Record<string, string>;
}

const PRESETS: readonly Preset[] = [
  { name: 'Stripe', auth: stripeAuth(), sign: (secret, body, t) => ({ 'Stripe-Signature': stripeSignature(secret, body, t) }) },
  {
    name: 'Planasonix',
    auth: authConfig((s) => WebhookAuth.planasonix(s)),
    sign: (secret, body, t) => ({ 'X-Planasonix-Timestamp': String(t), 'X-Planasonix-Signature': planasonixSignature(secret, body, t) }),
  },
];

let deliveries = 0;

/** A delivery signed with `secret` at `nowMs`, authenticated as the handler does. */
async function deliver(auth: AuthConfig, sign: Preset['sign'], cache: SecretCache, secret: string, nowMs: number): Promise<AuthResult | WebhookError> {
  const body = JSON.stringify({ id: `evt_${++deliveries}`, type: 'invoice.paid' });
  const headers = sign(secret, body, Math.floor(nowMs / 1000));
  const request = fromApiGatewayEvent(apiGatewayEvent(body, { headers, requestTimeEpoch: nowMs }), nowMs);
  return authenticate(auth, request, nowMs, { secrets: cache }).catch((error: unknown) => {
    if (error instanceof WebhookError) return error;
    throw error;
  });
}

const stageOf = (outcome: AuthResult | WebhookError) => (outcome instanceof WebhookError ? `${outcome.statusCode} ${outcome.name}` : outcome.secretStage);

describe('secretsManagerVersionsFetcher', () => {
  test('reads every labelled version by its VersionId, with its labels and LastChangedDate', async () => {
    // GIVEN a secret in the middle of a rotation, and an old unlabelled version
    sm.on(DescribeSecretCommand).resolves({
      LastChangedDate: new Date(T0),
      VersionIdsToStages: { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'], v3: ['AWSPENDING'], v0: [], custom: ['MYLABEL'] },
    });
    sm.on(GetSecretValueCommand).callsFake(async (input: GetSecretValueCommandInput) => ({
      VersionId: input.VersionId, SecretString: `value-${input.VersionId}`, CreatedDate: new Date(T0 - 1000),
    }));
    // WHEN
    const snapshot = await secretsManagerVersionsFetcher(new SecretsManagerClient({}))(SECRET_ARN) as SecretSnapshot;
    // THEN only the rotation's versions are read, each by id, never by label
    expect(snapshot).toEqual({
      lastChangedMs: T0,
      versions: [
        { versionId: 'v1', stages: ['AWSPREVIOUS'], value: 'value-v1', createdMs: T0 - 1000 },
        { versionId: 'v2', stages: ['AWSCURRENT'], value: 'value-v2', createdMs: T0 - 1000 },
        { versionId: 'v3', stages: ['AWSPENDING'], value: 'value-v3', createdMs: T0 - 1000 },
      ],
    });
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: SECRET_ARN, VersionId: 'v1' },
      { SecretId: SECRET_ARN, VersionId: 'v2' },
      { SecretId: SECRET_ARN, VersionId: 'v3' },
    ]);
  });

  test('reads a version value once: a refresh with no new version is one DescribeSecret', async () => {
    // GIVEN
    sm.on(DescribeSecretCommand).resolvesOnce({ VersionIdsToStages: { v1: ['AWSCURRENT'] } })
      .resolves({ VersionIdsToStages: { v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT', 'AWSPENDING'] } });
    sm.on(GetSecretValueCommand).callsFake(async (input: GetSecretValueCommandInput) => ({ SecretString: `value-${input.VersionId}` }));
    const fetch = secretsManagerVersionsFetcher(new SecretsManagerClient({}));
    // WHEN
    await fetch(SECRET_ARN);
    const second = await fetch(SECRET_ARN) as SecretSnapshot;
    await fetch(SECRET_ARN);
    // THEN
    expect(second.versions.map((v) => [v.versionId, v.value, v.stages])).toEqual([
      ['v1', 'value-v1', ['AWSPREVIOUS']],
      ['v2', 'value-v2', ['AWSCURRENT', 'AWSPENDING']],
    ]);
    expect(sm.commandCalls(DescribeSecretCommand)).toHaveLength(3);
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.VersionId)).toEqual(['v1', 'v2']);
  });

  test('fails when no version is AWSCURRENT', async () => {
    sm.on(DescribeSecretCommand).resolves({ VersionIdsToStages: { v1: ['AWSPENDING'] } });
    await expect(secretsManagerVersionsFetcher(new SecretsManagerClient({}))(SECRET_ARN)).rejects.toThrow(/no AWSCURRENT version/);
  });

  test('fails when the current value is empty, rather than verify with an empty key', async () => {
    sm.on(DescribeSecretCommand).resolves({ VersionIdsToStages: { v1: ['AWSCURRENT'] } });
    sm.on(GetSecretValueCommand).resolves({ SecretString: '' });
    await expect(secretsManagerVersionsFetcher(new SecretsManagerClient({}))(SECRET_ARN)).rejects.toThrow(/no value/);
  });

  test('leaves out an empty pending version', async () => {
    sm.on(DescribeSecretCommand).resolves({ VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] } });
    sm.on(GetSecretValueCommand, { VersionId: 'v1' }).resolves({ SecretString: 'k1' });
    sm.on(GetSecretValueCommand, { VersionId: 'v2' }).resolves({ SecretBinary: new Uint8Array() });
    const snapshot = await secretsManagerVersionsFetcher(new SecretsManagerClient({}))(SECRET_ARN) as SecretSnapshot;
    expect(snapshot.versions.map((v) => v.versionId)).toEqual(['v1']);
  });

  test('fails when DescribeSecret is refused, so the cache serves what it has or answers 503', async () => {
    sm.on(DescribeSecretCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    await expect(secretsManagerVersionsFetcher(new SecretsManagerClient({}))(SECRET_ARN)).rejects.toThrow(/not authorized/);
  });
});

describe('SecretCache with versions', () => {
  function scripted(model: SecretsManagerModel, options: Partial<SecretCacheOptions> = {}) {
    model.install();
    return container(model, options);
  }

  test('candidates are current, then pending, then previous; a version holding two labels counts once, as its strongest', async () => {
    // GIVEN a rotation that has finished, AWSPENDING still on the new current version
    const model = new SecretsManagerModel('v1', OLD);
    model.now += 10 * S;
    model.createSecret('v2', NEW);
    model.finishSecret('v2');
    model.createSecret('v3', 'third');
    const { cache } = scripted(model);
    // WHEN / THEN
    await expect(cache.candidates(SECRET_ARN)).resolves.toEqual([
      { stage: 'AWSCURRENT', value: NEW },
      { stage: 'AWSPENDING', value: 'third' },
      { stage: 'AWSPREVIOUS', value: OLD },
    ]);
    await expect(cache.get(SECRET_ARN)).resolves.toEqual([NEW, 'third', OLD]);
  });

  test("the grace counts from the change-over, not from the new version's CreatedDate", async () => {
    // GIVEN a pending version created 3 hours before finishSecret made it current, and a 1 hour grace
    const model = new SecretsManagerModel('v1', OLD);
    const { cache } = scripted(model);
    await cache.candidates(SECRET_ARN);
    model.now += 60 * S;
    model.createSecret('v2', NEW);
    model.now += 3 * 60 * 60 * S;
    model.finishSecret('v2');
    const finishedAt = model.now;
    // WHEN the container reads again, just after the change-over
    model.now += 61 * S;
    // THEN the old value is still accepted as AWSPREVIOUS (counting from CreatedDate would have ended 2 hours ago)
    await expect(cache.candidates(SECRET_ARN)).resolves.toContainEqual({ stage: 'AWSPREVIOUS', value: OLD });
    // ... until one grace after the change-over (LastChangedDate plus the clock allowance)
    model.now = finishedAt + CLOCK_ALLOWANCE_MS + 60 * 60 * S - 1;
    await expect(cache.candidates(SECRET_ARN)).resolves.toContainEqual({ stage: 'AWSPREVIOUS', value: OLD });
    model.now += 1;
    await expect(cache.candidates(SECRET_ARN)).resolves.toEqual([{ stage: 'AWSCURRENT', value: NEW }]);
  });

  test('a container started after the change-over does not restart the grace: it counts from LastChangedDate', async () => {
    // GIVEN a change-over 50 minutes before this container's first read
    const model = new SecretsManagerModel('v1', OLD);
    model.createSecret('v2', NEW);
    model.finishSecret('v2');
    const finishedAt = model.now;
    model.now += 50 * 60 * S;
    const { cache } = scripted(model);
    // WHEN / THEN the old value is accepted for the 10 minutes (and the allowance) left, not for an hour
    await expect(cache.candidates(SECRET_ARN)).resolves.toContainEqual({ stage: 'AWSPREVIOUS', value: OLD });
    model.now = finishedAt + 60 * 60 * S + CLOCK_ALLOWANCE_MS;
    await expect(cache.candidates(SECRET_ARN)).resolves.not.toContainEqual(expect.objectContaining({ value: OLD }));
  });

  test('a container that saw the change-over keeps its grace when the secret is modified again later', async () => {
    // GIVEN a container that read the secret just after finishSecret
    const model = new SecretsManagerModel('v1', OLD);
    const { cache } = scripted(model);
    await cache.candidates(SECRET_ARN);
    model.now += 61 * S;
    model.createSecret('v2', NEW);
    model.finishSecret('v2');
    model.now += 1 * S;
    await cache.candidates(SECRET_ARN);
    const seenAt = model.now;
    // WHEN someone tags the secret 40 minutes later (LastChangedDate moves)
    model.now += 40 * 60 * S;
    model.tag();
    // THEN the grace still ends one hour after this container saw the change, not after the tag
    model.now = seenAt + 60 * 60 * S - 1;
    await expect(cache.candidates(SECRET_ARN)).resolves.toContainEqual({ stage: 'AWSPREVIOUS', value: OLD });
    model.now += 1;
    await expect(cache.candidates(SECRET_ARN)).resolves.not.toContainEqual(expect.objectContaining({ value: OLD }));
  });

  test('ignores a LastChangedDate older than the current version itself, and counts from when the container saw it', async () => {
    // GIVEN a fetcher whose LastChangedDate cannot bound the label move
    let now = T0;
    const snapshot: SecretSnapshot = {
      lastChangedMs: T0 - 2 * 60 * 60 * S,
      versions: [
        { versionId: 'v2', stages: ['AWSCURRENT'], value: NEW, createdMs: T0 - 60 * S },
        { versionId: 'v1', stages: ['AWSPREVIOUS'], value: OLD, createdMs: T0 - 30 * 24 * 60 * 60 * S },
      ],
    };
    const cache = new SecretCache(async () => snapshot, { ttlMs: 60 * S, maxStaleMs: 0, previousGraceMs: 60 * 60 * S, now: () => now });
    // WHEN / THEN
    await expect(cache.candidates(SECRET_ARN)).resolves.toHaveLength(2);
    now = T0 + 60 * 60 * S;
    await expect(cache.candidates(SECRET_ARN)).resolves.toEqual([{ stage: 'AWSCURRENT', value: NEW }]);
  });

  test('a grace of 0 never accepts AWSPREVIOUS', async () => {
    const model = new SecretsManagerModel('v1', OLD);
    model.createSecret('v2', NEW);
    model.finishSecret('v2');
    const { cache } = scripted(model, { previousGraceMs: 0 });
    await expect(cache.candidates(SECRET_ARN)).resolves.toEqual([{ stage: 'AWSCURRENT', value: NEW }]);
  });

  test('removing the AWSPREVIOUS label cuts the old value off at the next read', async () => {
    const model = new SecretsManagerModel('v1', OLD);
    model.createSecret('v2', NEW);
    model.finishSecret('v2');
    const { cache } = scripted(model);
    await expect(cache.candidates(SECRET_ARN)).resolves.toHaveLength(2);
    model.now += 1 * S;
    model.removeLabel('AWSPREVIOUS');
    model.now += 60 * S;
    await expect(cache.candidates(SECRET_ARN)).resolves.toEqual([{ stage: 'AWSCURRENT', value: NEW }]);
  });

  test('a plain list from a fetcher is current values only', async () => {
    const cache = new SecretCache(async () => ['a', 'b'], { ttlMs: 60 * S, maxStaleMs: 0 });
    await expect(cache.candidates(SECRET_ARN)).resolves.toEqual([{ stage: 'AWSCURRENT', value: 'a' }, { stage: 'AWSCURRENT', value: 'b' }]);
  });
});

describe('Secrets Manager unavailable', () => {
  test('a cached secret is used, and Secrets Manager is asked again at most once per interval', async () => {
    // GIVEN a container with the secret cached, then Secrets Manager down
    const model = new SecretsManagerModel('v1', OLD).install();
    const { cache, failedReads, onStale } = container(model);
    const preset = PRESETS[0];
    expect(stageOf(await deliver(preset.auth, preset.sign, cache, OLD, model.now))).toBe('AWSCURRENT');
    model.down = true;
    // WHEN deliveries keep coming, one a second, for 10 minutes past the TTL
    for (let t = 60; t < 660; t++) {
      model.now = T0 + t * S;
      // THEN every one is accepted with the cached value
      expect(stageOf(await deliver(preset.auth, preset.sign, cache, OLD, model.now))).toBe('AWSCURRENT');
    }
    // ... and Secrets Manager was asked once per 5 s, not once per request
    expect(failedReads).toHaveLength(120);
    expect(onStale).toHaveBeenCalledTimes(120);
  });

  test('with nothing cached, the answer is 503 and nothing is verified', async () => {
    const model = new SecretsManagerModel('v1', OLD).install();
    model.down = true;
    const { cache } = container(model);
    const outcome = await deliver(PRESETS[1].auth, PRESETS[1].sign, cache, OLD, model.now);
    expect(outcome).toBeInstanceOf(DependencyUnavailableError);
    expect((outcome as WebhookError).statusCode).toBe(503);
    expect((outcome as WebhookError).headers).toEqual({ 'Retry-After': '30' });
  });

  test('past the stale limit, the answer is 503 even for a signature the cached value verifies', async () => {
    const model = new SecretsManagerModel('v1', OLD).install();
    const { cache } = container(model, { maxStaleMs: 60 * S });
    await cache.candidates(SECRET_ARN);
    model.down = true;
    model.now += 120 * S;
    const outcome = await deliver(PRESETS[0].auth, PRESETS[0].sign, cache, OLD, model.now);
    expect((outcome as WebhookError).statusCode).toBe(503);
  });

  test('a miss while Secrets Manager is down is a 401, not a 503, and reports the failed refresh', async () => {
    const model = new SecretsManagerModel('v1', OLD).install();
    const { cache, onStale, failedReads } = container(model);
    await cache.candidates(SECRET_ARN);
    model.down = true;
    model.now += 10 * S;
    const outcome = await deliver(PRESETS[0].auth, PRESETS[0].sign, cache, 'whsec_wrong', model.now);
    expect(outcome).toBeInstanceOf(SignatureMismatchError);
    expect(failedReads).toEqual([model.now]);
    expect(onStale).toHaveBeenCalledTimes(1);
  });
});

describe('refresh on a verification miss', () => {
  test('a rotation that finished a second ago is picked up by one extra read, and misses re-read at most once per interval', async () => {
    // GIVEN a container that read the secret 20 s ago (TTL 60 s)
    const model = new SecretsManagerModel('v1', OLD).install();
    const { cache, reads, labelSeen } = container(model);
    const { auth, sign } = PRESETS[1];
    expect(stageOf(await deliver(auth, sign, cache, OLD, model.now))).toBe('AWSCURRENT');
    model.now += 19 * S;
    model.createSecret('v2', NEW);
    model.finishSecret('v2');
    // WHEN a sender signs with the new secret a second later
    model.now += 1 * S;
    const moved = await deliver(auth, sign, cache, NEW, model.now);
    // THEN it is accepted, after one read
    expect(stageOf(moved)).toBe('AWSCURRENT');
    expect(labelSeen(NEW)).toBe('AWSCURRENT');
    expect(reads.map((r) => r.at - T0)).toEqual([0, 20 * S]);
    expect(sm.commandCalls(DescribeSecretCommand)).toHaveLength(2);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2); // v1 once, v2 once

    // WHEN forged signatures keep coming, ten a second, for 12 s
    for (let i = 1; i <= 120; i++) {
      model.now += 100;
      expect(await deliver(auth, sign, cache, 'not-the-secret', model.now)).toBeInstanceOf(SignatureMismatchError);
    }
    // THEN Secrets Manager is read at most once per 5 s: at 25 s and 30 s (the read at 20 s counts)
    expect(reads.map((r) => r.at - T0)).toEqual([0, 20 * S, 25 * S, 30 * S]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  test('a miss right after a read does not read again', async () => {
    const model = new SecretsManagerModel('v1', OLD).install();
    const { cache, reads } = container(model);
    const { auth, sign } = PRESETS[0];
    await deliver(auth, sign, cache, OLD, model.now);
    model.now += 4_999;
    expect(await deliver(auth, sign, cache, NEW, model.now)).toBeInstanceOf(SignatureMismatchError);
    expect(reads).toHaveLength(1);
  });

  test('only a wrong secret reads again: a missing header or a stale timestamp does not', async () => {
    const model = new SecretsManagerModel('v1', OLD).install();
    const { cache, reads } = container(model);
    const { auth, sign } = PRESETS[1];
    await cache.candidates(SECRET_ARN);
    model.now += 30 * S;
    const body = '{}';
    const unsigned = fromApiGatewayEvent(apiGatewayEvent(body, { headers: {} }), model.now);
    await expect(authenticate(auth, unsigned, model.now, { secrets: cache })).rejects.toBeInstanceOf(MissingCredentialsError);
    const staleTs = Math.floor(model.now / 1000) - 3600;
    const stale = fromApiGatewayEvent(apiGatewayEvent(body, { headers: sign(OLD, body, staleTs) }), model.now);
    await expect(authenticate(auth, stale, model.now, { secrets: cache })).rejects.toBeInstanceOf(TimestampOutsideToleranceError);
    expect(reads).toHaveLength(1);
  });

  test('a stale timestamp signed with the previous secret is a timestamp error, not a mismatch', async () => {
    const model = new SecretsManagerModel('v1', OLD);
    model.createSecret('v2', NEW);
    model.finishSecret('v2');
    model.install();
    const { cache } = container(model);
    const { auth, sign } = PRESETS[1];
    const body = '{}';
    const staleTs = Math.floor(model.now / 1000) - 3600;
    const stale = fromApiGatewayEvent(apiGatewayEvent(body, { headers: sign(OLD, body, staleTs) }), model.now);
    await expect(authenticate(auth, stale, model.now, { secrets: cache })).rejects.toBeInstanceOf(TimestampOutsideToleranceError);
  });

  test('bearer tokens: the stage is reported, an {"active": [...]} list is expanded, and a miss reads again', async () => {
    // GIVEN a bearer source whose pending version lists two tokens
    const auth = anyAuthConfig((s) => WebhookAuth.bearerToken(s));
    const model = new SecretsManagerModel('v1', 'tok-old').install();
    const { cache, reads } = container(model);
    const call = (token: string) => authenticate(auth, fromApiGatewayEvent(apiGatewayEvent('{}', { headers: { Authorization: `Bearer ${token}` } }), model.now), model.now, { secrets: cache });
    await expect(call('tok-old')).resolves.toEqual({ secretStage: 'AWSCURRENT' });
    model.now += 10 * S;
    model.createSecret('v2', JSON.stringify({ active: ['tok-new', 'tok-old'] }));
    model.now += 1 * S;
    // WHEN / THEN
    await expect(call('tok-new')).resolves.toEqual({ secretStage: 'AWSPENDING' });
    await expect(call('tok-old')).resolves.toEqual({ secretStage: 'AWSCURRENT' });
    await expect(call('tok-wrong')).rejects.toBeInstanceOf(InvalidTokenError);
    expect(reads).toHaveLength(2);
  });

  test('a source with only get() works as before: current values, no stage reported', async () => {
    const { auth, sign } = PRESETS[0];
    const body = '{}';
    const ts = Math.floor(T0 / 1000);
    const request = fromApiGatewayEvent(apiGatewayEvent(body, { headers: sign(OLD, body, ts) }), T0);
    await expect(authenticate(auth, request, T0, { secrets: { get: async () => [NEW, OLD] } })).resolves.toEqual({ signedTimestamp: ts });
  });
});

describe.each(PRESETS)('traffic through a rotation ($name)', ({ auth, sign }) => {
  // Rotation: createSecret at 127 s, finishSecret at 152 s. Sender A moves to the new secret at
  // 600 s, sender E picks up the pending secret at once (130 s), straggler S never moves. A warm
  // container runs from 0 s; a cold one starts at 2000 s. TTL 60 s, grace 1 h, miss interval 5 s.
  const CREATE = T0 + 127 * S;
  const FINISH = T0 + 152 * S;
  const SWITCH = T0 + 600 * S;
  const EAGER = T0 + 130 * S;
  const COLD = T0 + 2_000 * S;
  const GRACE = 60 * 60 * S;
  const GRACE_END = FINISH + CLOCK_ALLOWANCE_MS + GRACE;
  const END = GRACE_END + 120 * S;

  test('no valid delivery is refused, each reports the stage it matched, and the old secret is refused after the grace', async () => {
    const model = new SecretsManagerModel('v1', OLD).install();
    const warm = container(model);
    let cold: ReturnType<typeof container> | undefined;

    const times = new Set<number>([CREATE, FINISH, FINISH + GRACE - 1, GRACE_END - 1, GRACE_END]);
    for (let t = T0; t <= END; t += 5 * S) times.add(t);
    const outcomes = new Map<string, string | undefined>();
    let nonCurrent = 0;

    for (const t of [...times].sort((a, b) => a - b)) {
      model.now = t;
      if (t === CREATE) model.createSecret('v2', NEW);
      if (t === FINISH) model.finishSecret('v2');
      if (t === COLD) cold = container(model);
      const senders: [string, string][] = [['A', t < SWITCH ? OLD : NEW], ['S', OLD]];
      if (t >= EAGER) senders.push(['E', NEW]);

      for (const [name, c] of [['warm', warm], ['cold', cold]] as const) {
        if (c === undefined) continue;
        for (const [sender, secret] of senders) {
          const outcome = await deliver(auth, sign, c.cache, secret, t);
          const key = `${name}:${sender}:${(t - T0) / S}`;
          outcomes.set(key, stageOf(outcome));

          // Valid by Secrets Manager's labels: the new secret once created; the old one while
          // current and for the grace after the change-over.
          const valid = secret === NEW ? t >= CREATE : t < FINISH + GRACE;
          if (valid) expect([key, outcome]).not.toEqual([key, expect.any(WebhookError)]);
          if (secret === OLD && t >= GRACE_END) {
            expect([key, outcome]).toEqual([key, expect.any(SignatureMismatchError)]);
            expect((outcome as WebhookError).statusCode).toBe(401);
          }
          if (!(outcome instanceof WebhookError)) {
            // The stage is the label the container last read for that version, never older than the TTL.
            expect([key, outcome.secretStage]).toEqual([key, c.labelSeen(secret)]);
            expect(t - c.reads[c.reads.length - 1].at).toBeLessThan(60 * S);
            if (outcome.secretStage !== 'AWSCURRENT') nonCurrent++;
          }
        }
      }
    }

    // The moments that matter, by name.
    expect(outcomes.get('warm:A:120')).toBe('AWSCURRENT');
    expect(outcomes.get('warm:E:130')).toBe('AWSPENDING'); // picked up by a read on the miss
    expect(outcomes.get('warm:A:150')).toBe('AWSCURRENT');
    expect(outcomes.get('warm:A:185')).toBe('AWSCURRENT'); // the change-over is 33 s old; the container reads at 190
    expect(outcomes.get('warm:A:190')).toBe('AWSPREVIOUS');
    expect(outcomes.get('warm:E:190')).toBe('AWSCURRENT');
    expect(outcomes.get('warm:A:600')).toBe('AWSCURRENT');
    expect(outcomes.get('cold:S:2000')).toBe('AWSPREVIOUS');
    expect(outcomes.get(`warm:S:${(FINISH + GRACE - 1 - T0) / S}`)).toBe('AWSPREVIOUS');
    expect(outcomes.get(`cold:S:${(GRACE_END - 1 - T0) / S}`)).toBe('AWSPREVIOUS');
    expect(outcomes.get(`warm:S:${(GRACE_END - T0) / S}`)).toBe('401 SignatureMismatchError');
    expect(outcomes.get(`cold:S:${(GRACE_END - T0) / S}`)).toBe('401 SignatureMismatchError');
    expect(nonCurrent).toBeGreaterThan(0);

    // Reads: once per TTL while nothing misses; one extra read for E's first delivery; after the
    // grace, the straggler's misses read at most once per 5 s. Each version value is read once per container.
    const gaps = warm.reads.slice(1).map((r, i) => r.at - warm.reads[i].at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5 * S);
    expect(warm.reads.filter((r, i) => i > 0 && r.at < GRACE_END && r.at - warm.reads[i - 1].at < 60 * S).map((r) => (r.at - T0) / S)).toEqual([130]);
    expect(warm.reads.filter((r) => r.at >= GRACE_END).length).toBeLessThanOrEqual(120 / 5 + 1);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(4);
    expect(sm.commandCalls(DescribeSecretCommand)).toHaveLength(warm.reads.length + cold!.reads.length);
  });
});
