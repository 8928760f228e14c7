import { randomBytes } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createRotationHandler,
  generateSecretValue,
  ROTATION_EVENT_DETAIL_TYPE,
  ROTATION_EVENT_SOURCE,
  secretFormatProblem,
  type RotationEvent,
} from '../../../lambda/rotation/handler';
import type { RotationConfig, SecretFormat } from '../../../lambda/rotation/config';
import { SecretVersions } from '../../../cli/local/secret-versions';

const ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:webhook-signing-AbCdEf';
const OLD = '11111111-1111-4111-8111-111111111111';
const TOKEN = '22222222-2222-4222-8222-222222222222';
const TOKEN2 = '33333333-3333-4333-8333-333333333333';
const ROTATION_TOKEN = 'rotation-token-0123456789abcdef';
const OLD_VALUE = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;

// No Secrets Manager emulator exists, so both clients are mocked at the SDK boundary.
const sm = mockClient(SecretsManagerClient);
const eb = mockClient(EventBridgeClient);
afterEach(() => {
  sm.reset();
  eb.reset();
});

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly attributes: Record<string, unknown>;
}

function setup(options: { config?: Partial<RotationConfig>; random?: (size: number) => Buffer } = {}) {
  const lines: LogLine[] = [];
  const log = (level: string) => (message: string, attributes: Record<string, unknown>) => { lines.push({ level, message, attributes }); };
  const random = jest.fn(options.random ?? randomBytes);
  const rotate = createRotationHandler({
    secretsManager: new SecretsManagerClient({}),
    events: new EventBridgeClient({}),
    config: { version: 1, format: 'whsec', bytes: 32, ...options.config },
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
    random,
  });
  eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'event-1' }] });
  return { rotate, random, lines };
}

const event = (step: string, token = TOKEN, extra: Partial<RotationEvent> = {}): RotationEvent =>
  ({ Step: step, SecretId: ARN, ClientRequestToken: token, ...extra });

const notFound = () => new ResourceNotFoundException({ $metadata: {}, message: "Secrets Manager can't find the specified secret value." });

/** What DescribeSecret answers while a rotation to TOKEN is in progress. */
function describeInProgress(stages: Record<string, string[]> = { [OLD]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] }, rotationEnabled = true) {
  sm.on(DescribeSecretCommand, { SecretId: ARN }).resolves({ ARN, Name: 'webhook-signing', RotationEnabled: rotationEnabled, VersionIdsToStages: stages });
}

/** The error a promise rejects with; a promise that resolves fails the test. */
const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(() => { throw new Error('expected the step to fail'); }, (error: unknown) => error as Error);

const commandNames = () => sm.calls().map((call) => (call.args[0] as object).constructor.name);
const putValues = () => sm.commandCalls(PutSecretValueCommand).map((call) => call.args[0].input.SecretString as string);

describe('secret formats', () => {
  test.each<[SecretFormat, RegExp]>([
    ['whsec', /^whsec_[A-Za-z0-9+/]{43}=$/],
    ['hex', /^[0-9a-f]{64}$/],
    ['token', /^[A-Za-z0-9_-]{43}$/],
  ])('%s: a new value has the format, passes the test and differs each time', (format, shape) => {
    // WHEN
    const values = [1, 2, 3].map(() => generateSecretValue(format, 32));
    // THEN
    for (const value of values) {
      expect(value).toMatch(shape);
      expect(secretFormatProblem(value, format)).toBeUndefined();
    }
    expect(new Set(values).size).toBe(3);
  });

  test('a whsec value decodes to the random bytes, as the verifier reads its key', () => {
    const key = randomBytes(48);
    const value = generateSecretValue('whsec', 48, () => key);
    expect(Buffer.from(value.slice('whsec_'.length), 'base64').equals(key)).toBe(true);
  });

  test.each<[SecretFormat, string, RegExp]>([
    ['whsec', Buffer.alloc(32, 1).toString('base64'), /does not start with whsec_/],
    ['whsec', `whsec_${Buffer.alloc(16, 1).toString('base64')}`, /decodes to 16 bytes; whsec needs 24 to 64/],
    ['whsec', `whsec_${Buffer.alloc(65, 1).toString('base64')}`, /decodes to 65 bytes/],
    ['whsec', `whsec_${Buffer.alloc(32, 1).toString('base64url')}_-`, /not standard base64/],
    ['whsec', 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=', /not canonical base64/],
    ['hex', 'abc', /even number of lower-case hex digits/],
    ['hex', 'AB'.repeat(32), /lower-case hex/],
    ['hex', 'zz'.repeat(32), /hex digits/],
    ['hex', 'ab'.repeat(7), /decodes to 7 bytes; hex needs 16 to 64/],
    ['token', Buffer.alloc(32, 250).toString('base64'), /not unpadded base64url/],
    ['token', `${Buffer.alloc(32, 1).toString('base64url')}=`, /not unpadded base64url/],
    ['token', 'A'.repeat(41), /not canonical base64url/],
    ['token', 'abc', /decodes to 2 bytes/],
    ['token', '{"active":["a","b"]}', /not unpadded base64url/],
    ['whsec', '', /does not start with whsec_/],
  ])('%s: %j is refused', (format, value, problem) => {
    expect(secretFormatProblem(value, format)).toMatch(problem);
  });
});

describe('createRotationHandler, step by step', () => {
  test('createSecret checks AWSCURRENT and puts a new value as AWSPENDING with the token', async () => {
    // GIVEN
    const { rotate, random } = setup({ config: { format: 'hex', bytes: 32 } });
    describeInProgress();
    sm.on(GetSecretValueCommand, { SecretId: ARN, VersionId: TOKEN, VersionStage: 'AWSPENDING' }).rejects(notFound());
    sm.on(GetSecretValueCommand, { SecretId: ARN, VersionStage: 'AWSCURRENT' }).resolves({ SecretString: 'ab'.repeat(32), VersionId: OLD });
    sm.on(PutSecretValueCommand).resolves({ ARN, VersionId: TOKEN, VersionStages: ['AWSPENDING'] });

    // WHEN
    await rotate(event('createSecret', TOKEN, { RotationToken: ROTATION_TOKEN }));

    // THEN
    expect(commandNames()).toEqual(['DescribeSecretCommand', 'GetSecretValueCommand', 'GetSecretValueCommand', 'PutSecretValueCommand']);
    expect(random).toHaveBeenCalledTimes(1);
    const input = sm.commandCalls(PutSecretValueCommand)[0].args[0].input;
    expect(input).toEqual({
      SecretId: ARN,
      ClientRequestToken: TOKEN,
      SecretString: expect.stringMatching(/^[0-9a-f]{64}$/),
      VersionStages: ['AWSPENDING'],
      RotationToken: ROTATION_TOKEN,
    });
    expect(input.SecretString).not.toBe('ab'.repeat(32));
  });

  test('createSecret does nothing when the token already has an AWSPENDING value (a resumed rotation)', async () => {
    // GIVEN
    const { rotate, random, lines } = setup();
    describeInProgress();
    sm.on(GetSecretValueCommand, { VersionId: TOKEN, VersionStage: 'AWSPENDING' }).resolves({ SecretString: `whsec_${randomBytes(32).toString('base64')}` });

    // WHEN
    await rotate(event('createSecret'));

    // THEN
    expect(commandNames()).toEqual(['DescribeSecretCommand', 'GetSecretValueCommand']);
    expect(random).not.toHaveBeenCalled();
    expect(lines.map((l) => l.message)).toContain('the AWSPENDING value already exists; resuming');
  });

  test('createSecret fails when the secret holds a list of active tokens, which rotate by hand', async () => {
    // GIVEN
    const { rotate } = setup({ config: { format: 'token', bytes: 32 } });
    describeInProgress();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPENDING' }).rejects(notFound());
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({ SecretString: '{"active":["token-one-aaaaaaaaaaaa","token-two-bbbbbbbbbbbb"]}' });

    // WHEN
    const error = await failure(rotate(event('createSecret')));

    // THEN
    expect(error.message).toMatch(/holds a list of active tokens .*cannot rotate automatically: turn rotation off/);
    expect(error.message).not.toMatch(/token-one|token-two/);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  test('createSecret fails when the secret has no AWSCURRENT value', async () => {
    const { rotate } = setup();
    describeInProgress();
    sm.on(GetSecretValueCommand).rejects(notFound());
    await expect(rotate(event('createSecret'))).rejects.toThrow(/has no AWSCURRENT value/);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  test('createSecret warns, and still rotates, when the current value is in another format', async () => {
    const { rotate, lines } = setup();
    describeInProgress();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPENDING' }).rejects(notFound());
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({ SecretString: 'an-initial-placeholder' });
    sm.on(PutSecretValueCommand).resolves({});
    await rotate(event('createSecret'));
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual(['the AWSCURRENT value is not in the whsec format; the new value will be']);
    expect(putValues()[0]).toMatch(/^whsec_/);
  });

  test('setSecret publishes the pending event, without reading any value', async () => {
    // GIVEN
    const { rotate } = setup({ config: { eventBusName: 'secret-events' } });
    describeInProgress();

    // WHEN
    await rotate(event('setSecret'));

    // THEN
    expect(commandNames()).toEqual(['DescribeSecretCommand']);
    const input = eb.commandCalls(PutEventsCommand)[0].args[0].input;
    expect(input.Entries).toEqual([{
      Source: ROTATION_EVENT_SOURCE,
      DetailType: ROTATION_EVENT_DETAIL_TYPE,
      Resources: [ARN],
      EventBusName: 'secret-events',
      Detail: expect.any(String),
    }]);
    expect(JSON.parse(input.Entries?.[0].Detail as string)).toEqual({
      schemaVersion: 1,
      secretArn: ARN,
      secretName: 'webhook-signing',
      versionId: TOKEN,
      versionStage: 'AWSPENDING',
      currentVersionId: OLD,
      format: 'whsec',
      bytes: 32,
    });
  });

  test('setSecret uses the default bus when no bus is configured', async () => {
    const { rotate } = setup();
    describeInProgress();
    await rotate(event('setSecret'));
    expect(eb.commandCalls(PutEventsCommand)[0].args[0].input.Entries?.[0]).not.toHaveProperty('EventBusName');
  });

  test('setSecret repeated by Secrets Manager publishes the same event again (at least once; dedupe on versionId)', async () => {
    const { rotate } = setup();
    describeInProgress();
    await rotate(event('setSecret'));
    await rotate(event('setSecret'));
    const details = eb.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.[0].Detail);
    expect(details).toHaveLength(2);
    expect(details[0]).toEqual(details[1]);
  });

  test('setSecret fails when EventBridge does not take the event', async () => {
    const { rotate } = setup();
    describeInProgress();
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });
    await expect(rotate(event('setSecret'))).rejects.toThrow(/EventBridge did not take the pending event: InternalFailure try again/);
  });

  test('testSecret reads AWSPENDING by version and passes a valid, new value', async () => {
    const { rotate } = setup();
    describeInProgress();
    sm.on(GetSecretValueCommand, { SecretId: ARN, VersionId: TOKEN, VersionStage: 'AWSPENDING' }).resolves({ SecretString: generateSecretValue('whsec', 32) });
    sm.on(GetSecretValueCommand, { SecretId: ARN, VersionStage: 'AWSCURRENT' }).resolves({ SecretString: OLD_VALUE });
    await rotate(event('testSecret'));
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: ARN, VersionId: TOKEN, VersionStage: 'AWSPENDING' },
      { SecretId: ARN, VersionStage: 'AWSCURRENT' },
    ]);
  });

  test.each<[SecretFormat, string]>([
    ['whsec', 'not-a-whsec-secret'],
    ['whsec', `whsec_${Buffer.alloc(8, 1).toString('base64')}`],
    ['hex', 'abc'],
    ['token', 'has spaces and + signs'],
    ['token', '{"active":["aaaaaaaaaaaaaaaaaaaaaaaa","bbbbbbbbbbbbbbbbbbbbbbbb"]}'],
  ])('testSecret fails when the %s pending value is malformed (%j)', async (format, pending) => {
    const { rotate } = setup({ config: { format, bytes: 32 } });
    describeInProgress();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPENDING' }).resolves({ SecretString: pending });
    const error = await failure(rotate(event('testSecret')));
    expect(error.message).toMatch(new RegExp(`AWSPENDING value of secret .* is not a valid ${format} secret`));
    expect(error.message).not.toContain(pending);
  });

  test('testSecret fails when the pending version has no value', async () => {
    const { rotate } = setup();
    describeInProgress();
    sm.on(GetSecretValueCommand).rejects(notFound());
    await expect(rotate(event('testSecret'))).rejects.toThrow(/has no AWSPENDING value; createSecret has not run/);
  });

  test('testSecret fails when the pending value equals the current one', async () => {
    const { rotate } = setup();
    describeInProgress();
    sm.on(GetSecretValueCommand).resolves({ SecretString: OLD_VALUE });
    await expect(rotate(event('testSecret'))).rejects.toThrow(/equals the AWSCURRENT value; nothing would rotate/);
  });

  test('testSecret passes a binary value read as UTF-8', async () => {
    const { rotate } = setup({ config: { format: 'hex', bytes: 32 } });
    describeInProgress();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPENDING' }).resolves({ SecretBinary: Buffer.from('cd'.repeat(32)) });
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({ SecretString: 'ab'.repeat(32) });
    await expect(rotate(event('testSecret'))).resolves.toBeUndefined();
  });

  test('finishSecret moves AWSCURRENT from the current version to the token', async () => {
    const { rotate } = setup();
    describeInProgress();
    sm.on(UpdateSecretVersionStageCommand).resolves({ ARN });
    await rotate(event('finishSecret'));
    expect(commandNames()).toEqual(['DescribeSecretCommand', 'UpdateSecretVersionStageCommand']);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)[0].args[0].input).toEqual({
      SecretId: ARN,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: TOKEN,
      RemoveFromVersionId: OLD,
    });
  });

  test('finishSecret does nothing when the token is already AWSCURRENT (and still AWSPENDING)', async () => {
    const { rotate } = setup();
    describeInProgress({ [TOKEN]: ['AWSCURRENT', 'AWSPENDING'], [OLD]: ['AWSPREVIOUS'] });
    await rotate(event('finishSecret'));
    expect(commandNames()).toEqual(['DescribeSecretCommand']);
  });

  test.each(STEPS)('%s returns at once when the token is already AWSCURRENT and no longer AWSPENDING', async (step) => {
    const { rotate, random } = setup();
    describeInProgress({ [TOKEN]: ['AWSCURRENT'], [OLD]: ['AWSPREVIOUS'] });
    await rotate(event(step));
    expect(commandNames()).toEqual(['DescribeSecretCommand']);
    expect(eb.calls()).toHaveLength(0);
    expect(random).not.toHaveBeenCalled();
  });
});

describe('createRotationHandler, guards', () => {
  test.each(STEPS)('%s fails when rotation is not enabled', async (step) => {
    const { rotate } = setup();
    describeInProgress(undefined, false);
    await expect(rotate(event(step))).rejects.toThrow(/does not have rotation enabled/);
    expect(commandNames()).toEqual(['DescribeSecretCommand']);
  });

  test.each(STEPS)('%s fails when the token is not a version of the secret', async (step) => {
    const { rotate } = setup();
    describeInProgress();
    await expect(rotate(event(step, TOKEN2))).rejects.toThrow(new RegExp(`version ${TOKEN2} is not a version of secret`));
    expect(commandNames()).toEqual(['DescribeSecretCommand']);
  });

  test.each(STEPS)('%s fails when the token is not AWSPENDING', async (step) => {
    const { rotate } = setup();
    describeInProgress({ [OLD]: ['AWSCURRENT'], [TOKEN]: ['AWSPREVIOUS'] });
    await expect(rotate(event(step))).rejects.toThrow(/is not AWSPENDING/);
    expect(commandNames()).toEqual(['DescribeSecretCommand']);
    expect(eb.calls()).toHaveLength(0);
  });

  test('fails when the step is unknown, before calling anything', async () => {
    const { rotate } = setup();
    await expect(rotate(event('create_secret'))).rejects.toThrow(/unknown rotation step "create_secret"/);
    expect(sm.calls()).toHaveLength(0);
  });

  test('fails when the event has no token', async () => {
    const { rotate } = setup();
    await expect(rotate({ Step: 'createSecret', SecretId: ARN } as RotationEvent)).rejects.toThrow(/needs a SecretId and a ClientRequestToken/);
  });
});

describe("createRotationHandler, against Secrets Manager's version stages (in-memory fake)", () => {
  function fakeSecret(value = OLD_VALUE) {
    return new SecretVersions(ARN, { versionId: OLD, value }).install(sm);
  }

  async function runSteps(rotate: (e: RotationEvent) => Promise<void>, steps: readonly string[], token = TOKEN) {
    for (const step of steps) await rotate(event(step, token, { RotationToken: ROTATION_TOKEN }));
  }

  test('all four steps leave the new version AWSCURRENT and the old one AWSPREVIOUS', async () => {
    // GIVEN
    const { rotate } = setup();
    const secret = fakeSecret();
    secret.startRotation(TOKEN);

    // WHEN
    await runSteps(rotate, STEPS);

    // THEN
    expect(secret.stagesOf(TOKEN)).toContain('AWSCURRENT');
    expect(secret.stagesOf(OLD)).toEqual(['AWSPREVIOUS']);
    expect(secret.getSecretValue({ SecretId: ARN }).SecretString).toBe(putValues()[0]);
    expect(secret.valueOf(TOKEN)).not.toBe(OLD_VALUE);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(1);
    expect(eb.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  test('a rotation interrupted after createSecret resumes with the same value and moves AWSCURRENT once', async () => {
    // GIVEN createSecret ran, then the rotation stopped
    const { rotate, random } = setup();
    const secret = fakeSecret();
    secret.startRotation(TOKEN);
    await runSteps(rotate, ['createSecret']);
    const created = secret.valueOf(TOKEN);

    // WHEN Secrets Manager invokes the steps again with the same token
    secret.startRotation(TOKEN);
    await runSteps(rotate, STEPS);

    // THEN
    expect(random).toHaveBeenCalledTimes(1);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(1);
    expect(secret.valueOf(TOKEN)).toBe(created);
    expect(secret.stagesOf(TOKEN)).toContain('AWSCURRENT');
    expect(secret.stagesOf(OLD)).toEqual(['AWSPREVIOUS']);
  });

  test('a rotation interrupted after setSecret resumes, publishing the event again with the same detail', async () => {
    const { rotate, random } = setup();
    const secret = fakeSecret();
    secret.startRotation(TOKEN);
    await runSteps(rotate, ['createSecret', 'setSecret']);

    await runSteps(rotate, STEPS);

    expect(random).toHaveBeenCalledTimes(1);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(1);
    const details = eb.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.[0].Detail);
    expect(details).toHaveLength(2);
    expect(details[0]).toEqual(details[1]);
    expect(secret.stagesOf(OLD)).toEqual(['AWSPREVIOUS']);
  });

  test('a createSecret that stored the value but failed before answering does not make a second value', async () => {
    // GIVEN PutSecretValue took the value, then the connection dropped
    const { rotate, random } = setup();
    const secret = fakeSecret();
    secret.startRotation(TOKEN);
    sm.on(PutSecretValueCommand).callsFakeOnce((input) => {
      secret.putSecretValue(input);
      throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    });
    await expect(runSteps(rotate, ['createSecret'])).rejects.toThrow(/socket hang up/);

    // WHEN
    await runSteps(rotate, STEPS);

    // THEN
    expect(random).toHaveBeenCalledTimes(1);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    expect(secret.stagesOf(TOKEN)).toContain('AWSCURRENT');
  });

  test('finishSecret invoked again after the rotation finished moves nothing', async () => {
    const { rotate } = setup();
    const secret = fakeSecret();
    secret.startRotation(TOKEN);
    await runSteps(rotate, STEPS);

    await runSteps(rotate, ['finishSecret']);
    secret.updateSecretVersionStage({ SecretId: ARN, VersionStage: 'AWSPENDING', RemoveFromVersionId: TOKEN });
    await runSteps(rotate, ['finishSecret']);

    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(1);
    expect(secret.stagesOf(TOKEN)).toEqual(['AWSCURRENT']);
    expect(secret.stagesOf(OLD)).toEqual(['AWSPREVIOUS']);
  });

  test.each<SecretFormat>(['whsec', 'hex', 'token'])('%s: two rotations in a row make two different values that pass testSecret', async (format) => {
    // GIVEN
    const { rotate } = setup({ config: { format, bytes: 32 } });
    const secret = fakeSecret(generateSecretValue(format, 32));

    // WHEN
    secret.startRotation(TOKEN);
    await runSteps(rotate, STEPS, TOKEN);
    secret.startRotation(TOKEN2);
    await runSteps(rotate, STEPS, TOKEN2);

    // THEN
    const [first, second] = putValues();
    expect(first).not.toBe(second);
    expect(secretFormatProblem(first, format)).toBeUndefined();
    expect(secretFormatProblem(second, format)).toBeUndefined();
    expect(secret.stagesOf(TOKEN2)).toContain('AWSCURRENT');
    expect(secret.stagesOf(TOKEN)).toEqual(['AWSPREVIOUS']);
    expect(secret.stagesOf(OLD)).toEqual([]);
  });

  test('the pending event never holds the new or the old value', async () => {
    const { rotate } = setup();
    fakeSecret().startRotation(TOKEN);
    await runSteps(rotate, STEPS);

    const [created] = putValues();
    const published = JSON.stringify(eb.commandCalls(PutEventsCommand).map((call) => call.args[0].input as PutEventsCommandInput));
    expect(published).toContain(TOKEN);
    for (const value of [created, created.slice('whsec_'.length), OLD_VALUE, OLD_VALUE.slice('whsec_'.length), ROTATION_TOKEN]) {
      expect(published).not.toContain(value);
    }
  });

  test('the logs never hold a value or the RotationToken, on success or failure', async () => {
    // GIVEN a rotation that succeeds, then one whose pending value is malformed
    const { rotate, lines } = setup();
    const secret = fakeSecret();
    secret.startRotation(TOKEN);
    await runSteps(rotate, STEPS);
    const created = secret.valueOf(TOKEN) as string;
    const malformed = 'whsec_short';
    secret.startRotation(TOKEN2);
    secret.putSecretValue({ SecretId: ARN, ClientRequestToken: TOKEN2, SecretString: malformed, VersionStages: ['AWSPENDING'] });
    await runSteps(rotate, ['createSecret', 'setSecret'], TOKEN2);
    await expect(runSteps(rotate, ['testSecret'], TOKEN2)).rejects.toThrow(/not a valid whsec secret/);

    // THEN
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(1);
    const logged = JSON.stringify(lines);
    expect(logged).toContain(TOKEN);
    for (const value of [created, created.slice('whsec_'.length), OLD_VALUE, OLD_VALUE.slice('whsec_'.length), malformed, ROTATION_TOKEN]) {
      expect(logged).not.toContain(value);
    }
  });
});
