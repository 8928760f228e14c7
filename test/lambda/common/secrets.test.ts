import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { DependencyUnavailableError } from '../../../lambda/common/errors';
import { SecretCache, secretsManagerFetcher } from '../../../lambda/common/secrets';

const ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:stripe-AbCdEf';

describe('secretsManagerFetcher', () => {
  // No Secrets Manager emulator runs here, so the client is mocked at the SDK boundary.
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());

  test('reads the current string value of the secret', async () => {
    sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: 'whsec_abc' });
    await expect(secretsManagerFetcher(new SecretsManagerClient({}))(ARN)).resolves.toEqual(['whsec_abc']);
  });

  test('reads a binary value as UTF-8', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: Buffer.from('binary-key') });
    await expect(secretsManagerFetcher(new SecretsManagerClient({}))(ARN)).resolves.toEqual(['binary-key']);
  });

  test('fails when the secret is empty, rather than verify with an empty key', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '' });
    await expect(secretsManagerFetcher(new SecretsManagerClient({}))(ARN)).rejects.toThrow(/no value/);
  });
});

describe('SecretCache', () => {
  function setup(fetchImpl: () => Promise<readonly string[]>) {
    let clock = 0;
    const fetch = jest.fn(fetchImpl);
    const onStale = jest.fn();
    const cache = new SecretCache(fetch, { ttlMs: 60_000, maxStaleMs: 900_000, now: () => clock, onStale });
    return { cache, fetch, onStale, advance: (ms: number) => { clock += ms; } };
  }

  test('fetches once per TTL', async () => {
    const { cache, fetch, advance } = setup(async () => ['v1']);
    await cache.get(ARN);
    advance(59_999);
    await cache.get(ARN);
    expect(fetch).toHaveBeenCalledTimes(1);
    advance(1);
    await cache.get(ARN);
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  test('fails closed with 503 when Secrets Manager is down and nothing is cached', async () => {
    const { cache } = setup(async () => { throw Object.assign(new Error('connect ETIMEDOUT'), { name: 'TimeoutError' }); });
    const error = await cache.get(ARN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).statusCode).toBe(503);
  });

  test('serves a cached value for a bounded time while Secrets Manager is down', async () => {
    let down = false;
    const { cache, onStale, advance } = setup(async () => {
      if (down) throw new Error('InternalServiceError');
      return ['v1'];
    });
    await cache.get(ARN);
    down = true;
    advance(60_000 + 899_999);
    await expect(cache.get(ARN)).resolves.toEqual(['v1']);
    expect(onStale).toHaveBeenCalledTimes(1);
    advance(1);
    await expect(cache.get(ARN)).rejects.toBeInstanceOf(DependencyUnavailableError);
  });

  test('serves the same candidate list while nothing changes, and a new one once the TTL brings new values', async () => {
    let value = 'v1';
    const { cache, advance } = setup(async () => [value]);
    const first = await cache.candidates(ARN);
    expect(await cache.candidates(ARN)).toBe(first);
    value = 'v2';
    advance(60_000);
    const next = await cache.candidates(ARN);
    expect(next).toEqual([{ stage: 'AWSCURRENT', value: 'v2' }]);
    expect(first).toEqual([{ stage: 'AWSCURRENT', value: 'v1' }]);
  });

  test('concurrent misses share one fetch', async () => {
    const { cache, fetch } = setup(async () => ['v1']);
    await Promise.all([cache.get(ARN), cache.get(ARN), cache.get(ARN)]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
