/**
 * What scripts/bundle.mjs builds: the ingest and trigger assets load a feature's chunk only when
 * the configuration uses it (at module load, never later), the SDK clients sign with the
 * environment's credentials, and assets/ holds complete function folders only.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { type IngestConfig } from '../../lambda/ingest/config';
import type { TriggerConfig } from '../../lambda/trigger/config';
import { WebhookAuth } from '../../lib';
import { loadBundledHandler } from '../support/bundle';
import { anyAuthConfig, ingestConfig, SECRET_ARN } from '../support/presets';
import { apiGatewayEvent, stripeSignature } from '../support/signers';

const assets = join(__dirname, '..', '..', 'assets');
const FEATURE_CHUNKS = ['claim-check.js', 'dedup.js', 'jwt.js', 'schema-runtime.js', 'spill.js'];
const JWT_AUTH = { kind: 'jwt', issuer: 'https://idp.example.com', audience: ['webhooks'], jwksUri: 'https://idp.example.com/jwks.json', algorithms: ['RS256'], clockSkewSeconds: 60, requiredClaims: [] } as const;

/** The files of assets/<fn> and the built-in modules that `require(index.js)` loads in a fresh node, with `config`. */
function loadedBy(fn: string, config: unknown): { files: string[]; builtins: string[] } {
  const dir = join(assets, fn);
  const code = `const before = new Set(process.moduleLoadList); require(${JSON.stringify(join(dir, 'index.js'))});
    console.log(JSON.stringify({ files: Object.keys(require.cache), builtins: process.moduleLoadList.filter((m) => !before.has(m)) }));`;
  const result = spawnSync(process.execPath, ['-e', code], {
    env: { PATH: process.env.PATH, [CONFIG_ENV_VAR]: JSON.stringify(config), AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(result.stderr);
  const loaded = JSON.parse(result.stdout) as { files: string[]; builtins: string[] };
  return {
    files: loaded.files.filter((f) => f.startsWith(`${dir}/`)).map((f) => f.slice(dir.length + 1)).sort(),
    builtins: loaded.builtins.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)),
  };
}

const stripe = (overrides: Partial<IngestConfig> = {}) => ingestConfig((s) => WebhookAuth.stripe(s), { source: 'stripe', ...overrides });

describe('the ingest asset loads what the configuration uses', () => {
  test('a plain Stripe source loads no feature chunk, and neither http2 nor zlib', () => {
    // GIVEN a Stripe source with no optional feature
    // WHEN the asset is loaded as Lambda loads it
    const { files, builtins } = loadedBy('ingest', stripe());
    // THEN index.js and the shared chunks are loaded, no feature chunk
    expect(files).toContain('index.js');
    expect(files.filter((f) => FEATURE_CHUNKS.includes(f))).toEqual([]);
    expect(files.every((f) => f === 'index.js' || /^shared-[A-Z0-9]+\.js$/.test(f))).toBe(true);
    // AND the built-ins the SDK imports but a plain source never calls stay unloaded
    expect(builtins).not.toEqual(expect.arrayContaining(['http2']));
    expect(builtins).not.toEqual(expect.arrayContaining(['zlib']));
    expect(builtins).not.toEqual(expect.arrayContaining(['vm']));
  });

  test('claim check, multipart, dedup and the spill queue load their chunks at module load', () => {
    // GIVEN a source with every optional feature but payload validation (it needs a staged schema module)
    const config = stripe({
      claimCheck: { bucket: 'payloads', prefix: 'stripe/' },
      multipart: { maxParts: 5, maxFields: 5, maxFieldBytes: 1024, maxFiles: 1, maxFileBytes: 1024, maxTotalFileBytes: 1024 },
      dedup: { tableName: 'dedup', ttlSeconds: 3600, leaseSeconds: 30 },
      backpressure: { kind: 'queueAndSlowAccept', queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/spill', queueWindowMs: 10_000, retryAfterSeconds: 30, maxAttempts: 2, retryBudgetMs: 300 },
    });
    // WHEN the asset is loaded
    const { files } = loadedBy('ingest', config);
    // THEN each feature's chunk is loaded before the first request, and JWT's is not
    expect(files).toEqual(expect.arrayContaining(['claim-check.js', 'dedup.js', 'spill.js']));
    expect(files).not.toContain('jwt.js');
  });

  test('a JWT source loads the JWT chunk, and no other feature chunk', () => {
    const { files } = loadedBy('ingest', stripe({ auth: JWT_AUTH }));
    expect(files.filter((f) => FEATURE_CHUNKS.includes(f))).toEqual(['jwt.js']);
  });
});

describe('the trigger asset loads the JWT verifier for a JWT source only', () => {
  const trigger = (auth: TriggerConfig['auth']): TriggerConfig => ({
    version: 1, source: 'exports', target: { arn: 'arn:aws:states:us-east-1:111111111111:stateMachine:Exports', stateMachineArn: 'arn:aws:states:us-east-1:111111111111:stateMachine:Exports' },
    auth, secretCacheTtlSeconds: 60, parameters: [], validation: 'strict', includeBody: false, idempotencyHeaders: [], maxBodyBytes: 64 * 1024, retryAfterSeconds: 7,
  } as TriggerConfig);

  test.each([
    ['an HMAC source', trigger(anyAuthConfig((s) => WebhookAuth.planasonix(s))), []],
    ['a JWT source', trigger(JWT_AUTH), ['jwt.js']],
  ])('%s', (_name, config, chunks) => {
    expect(loadedBy('trigger', config).files.filter((f) => FEATURE_CHUNKS.includes(f))).toEqual(chunks);
  });
});

describe('the SDK clients in the bundles', () => {
  const savedEnv = process.env;
  afterEach(() => {
    process.env = savedEnv;
  });

  test('sign with the environment\'s credentials, session token included', async () => {
    // GIVEN a stand-in for Secrets Manager and Kinesis that records each request's headers
    const SECRET = 'whsec_bundle_credentials_0123456789';
    const seen: { target: string; headers: IncomingHttpHeaders }[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const target = String(req.headers['x-amz-target']);
        seen.push({ target, headers: req.headers });
        res.setHeader('Content-Type', 'application/x-amz-json-1.1');
        const answers: Record<string, unknown> = {
          'secretsmanager.DescribeSecret': { ARN: SECRET_ARN, Name: 'webhook', VersionIdsToStages: { v1: ['AWSCURRENT'] } },
          'secretsmanager.GetSecretValue': { ARN: SECRET_ARN, Name: 'webhook', SecretString: SECRET, VersionId: 'v1', VersionStages: ['AWSCURRENT'] },
          'Kinesis_20131202.PutRecords': { FailedRecordCount: 0, Records: [{ SequenceNumber: '1', ShardId: 'shardId-000000000000' }] },
        };
        res.end(JSON.stringify(answers[target]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // AND the bundled handler, with role credentials in the environment as Lambda sets them
      const { handler } = loadBundledHandler<{ handler: (e: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> }>(join(assets, 'ingest'), {
        [CONFIG_ENV_VAR]: JSON.stringify(stripe()),
        AWS_ACCESS_KEY_ID: 'ASIAENVIRONMENTKEY01',
        AWS_SECRET_ACCESS_KEY: 'environment-secret-key',
        AWS_SESSION_TOKEN: 'environment-session-token',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
        AWS_ENDPOINT_URL_KINESIS: endpoint,
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      }, savedEnv);
      const body = JSON.stringify({ id: 'evt_credentials', object: 'event', type: 'invoice.paid' });
      const now = Math.floor(Date.now() / 1000);
      // WHEN a signed event arrives
      const answer = await handler(apiGatewayEvent(body, { headers: { 'Content-Type': 'application/json', 'Stripe-Signature': stripeSignature(SECRET, body, now) } }));
      // THEN it is accepted, and both calls were signed with those credentials and the session token
      expect(answer.statusCode).toBe(202);
      expect(seen.map((s) => s.target)).toEqual(['secretsmanager.DescribeSecret', 'secretsmanager.GetSecretValue', 'Kinesis_20131202.PutRecords']);
      for (const { headers } of seen) {
        expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAENVIRONMENTKEY01\/\d{8}\/us-east-1\//);
        expect(headers['x-amz-security-token']).toBe('environment-session-token');
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('assets/', () => {
  test('holds complete function folders only: no staging folder is left behind', () => {
    // GIVEN the assets built by `npm run bundle` (npm test builds before jest runs)
    for (const fn of readdirSync(assets)) {
      // THEN every folder is a function with its entry point and notices
      expect(readdirSync(join(assets, fn))).toEqual(expect.arrayContaining(['index.js', 'THIRD-PARTY-LICENSES']));
    }
    expect(readdirSync(join(assets, '..')).filter((f) => f.startsWith('.assets-'))).toEqual([]);
  });
});
