import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildExampleApp } from '../../bin/example-app';
import { WebhookAuth, WebhookStreamSource } from '../../lib';
import { resolveCfn } from '../../cli/local/cfn';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createRotationHandler } from '../../lambda/rotation/handler';
import { LocalSecretsManager } from '../../cli/local/secrets-manager';
import { FaultProxy, type PutRecordsFault } from '../support/fault-proxy';
import { LocalStepFunctions } from '../../cli/local/step-functions';
import { decode, LocalKinesis, TEST_CREDENTIALS, TEST_REGION } from '../support/kinesalite';
import { LocalDynamoDb } from '../support/dynalite';
import { apiGatewayEvent, githubSignature, planasonixSignature, stripeSignature } from '../support/signers';
import { acknowledgements } from '../support/nag';
import { capturingOutput } from '../support/output';
import { bundledPeers, loadHandler, SynthesizedStack, type BundledHandler } from '../support/bundled-source';

const STRICT = { '@aws-cdk/core:strictCfnValidateErrors': true };

describe('cdk-nag AwsSolutions over the example app', () => {
  test('has no unacknowledged finding, and every acknowledgement gives its reason', () => {
    const app = new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    buildExampleApp(app);
    // cdk-nag 3 is a validation plugin: any unacknowledged finding makes synth throw.
    expect(() => app.synth()).not.toThrow();
    const acks = acknowledgements(app);
    expect(acks.map((a) => a.id).sort()).toEqual(expect.arrayContaining(['AwsSolutions-APIG2', 'AwsSolutions-APIG4', 'AwsSolutions-L1']));
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(40);
  });

  test('with a custom domain, the mTLS gateway is clean too, and its default endpoint is off', () => {
    const app = new App({
      context: { ...STRICT, domainName: 'hooks.example.com', certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab' },
      outdir: mkdtempSync(join(tmpdir(), 'nag-')),
    });
    const stack = buildExampleApp(app);
    expect(() => app.synth()).not.toThrow();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 2);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: true });
    template.hasResourceProperties('AWS::ApiGateway::DomainName', { DomainName: 'hooks.example.com', MutualTlsAuthentication: Match.objectLike({ TruststoreUri: Match.anyValue() }) });
  });

  test('with -c waf=true, the shared gateway\'s web ACL rate-limits each path per address, and APIG3 needs no acknowledgement', () => {
    // GIVEN the example app with the opt-in web ACL, as `cdk synth -c waf=true` passes it
    const app = new App({ context: { ...STRICT, waf: 'true' }, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    const stack = buildExampleApp(app);
    // WHEN it is synthesized with the checks, THEN it is clean without acknowledging APIG3
    expect(() => app.synth()).not.toThrow();
    expect(acknowledgements(app).filter((a) => a.id === 'AwsSolutions-APIG3')).toEqual([]);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL')) as { Properties: { Rules: { Statement: { RateBasedStatement: { Limit: number; ScopeDownStatement: { RegexMatchStatement: { RegexString: string } } } } }[] } }[];
    const limits = Object.fromEntries(acl.Properties.Rules.map((r) => [r.Statement.RateBasedStatement.ScopeDownStatement.RegexMatchStatement.RegexString, r.Statement.RateBasedStatement.Limit]));
    // Each path's method throttle over the 1-minute window: Svix's own 10 per second, Stripe's 20.
    expect(limits).toMatchObject({ '^(/prod)?/svix/?$': 600, '^(/prod)?/stripe/?$': 1200 });
    expect(Object.keys(limits)).toHaveLength(6);
  });

  test('without it, the example acknowledges APIG3 and creates no web ACL', () => {
    const app = new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    const stack = buildExampleApp(app);
    Template.fromStack(stack).resourceCountIs('AWS::WAFv2::WebACL', 0);
    expect(acknowledgements(app).filter((a) => a.id === 'AwsSolutions-APIG3').map((a) => a.path)).toEqual(['WebhookIngressExample/Gateway/Api']);
  });

  test('the checks are live: a finding the example acknowledges fails synth elsewhere', () => {
    const app = new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    const stack = new Stack(app, 'Bare');
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'S', 'github/webhook');
    new WebhookStreamSource(stack, 'GitHub', { auth: WebhookAuth.github(secret) });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // The example acknowledges APIG3 (no WAF web ACL) for itself; the library leaves that choice to the app.
    expect(() => app.synth()).toThrow(/APIG3/);
  });
});

describe('example app, per-path throttles', () => {
  test('every path of the shared gateway has a method throttle of its own, Svix the one it was given', () => {
    // GIVEN the example app
    const app = new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'throttle-')) });
    const template = Template.fromStack(buildExampleApp(app));
    // WHEN its stage's method settings are read
    const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { MethodSettings: { HttpMethod: string; ResourcePath: string; ThrottlingRateLimit: number; ThrottlingBurstLimit: number }[] } }[];
    const settings = Object.fromEntries(stage.Properties.MethodSettings.map((m) => [`${m.HttpMethod} ${m.ResourcePath}`, [m.ThrottlingRateLimit, m.ThrottlingBurstLimit]]));
    // THEN each POST path has its own, derived from its policy unless given: a flood on one is
    // answered 429 on that path only
    expect(settings).toEqual({
      '* /*': [100, 200],
      'POST /~1stripe': [20, 100], // rejectWith429: 100 executions / 5 s retry budget
      'POST /~1github': [100, 200], // queueAndSlowAccept: GitHub never redelivers, so the whole stage
      'POST /~1svix': [10, 20], // given
      'POST /~1segment': [50, 100], // sampleOrShed: 100 executions / 2 s retry budget
      'POST /~1orders': [20, 100],
      'POST /~1exports': [30, 160], // a trigger: a fifth of StartExecution's quota
    });
  });

  test('the README\'s table of default throttles is what the example app synthesizes', () => {
    // GIVEN the README's table, row by row
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const row = (path: string) => {
      const match = new RegExp(`^\\| ${path} \\| ([^|]+) \\|`, 'm').exec(readme);
      expect(match).not.toBeNull();
      return [...match![1].matchAll(/(\d+) \/ (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])])[0];
    };
    // WHEN the example app, whose paths use each default, is synthesized
    const template = Template.fromStack(buildExampleApp(new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'throttle-')) })));
    const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { MethodSettings: { ResourcePath: string; ThrottlingRateLimit: number; ThrottlingBurstLimit: number }[] } }[];
    const setting = (path: string) => stage.Properties.MethodSettings.filter((m) => m.ResourcePath === `/~1${path}`).map((m) => [m.ThrottlingRateLimit, m.ThrottlingBurstLimit])[0];
    // THEN each row shows what that path got
    expect(row('source, `rejectWith429`')).toEqual(setting('stripe'));
    expect(row('source, `sampleOrShed`')).toEqual(setting('segment'));
    expect(row('source, `queueAndSlowAccept`')).toEqual(setting('github'));
    expect(row('trigger')).toEqual(setting('exports'));
  });
});

/**
 * The deployed artifact, end to end: synthesize the example app, take each ingest function's
 * bundled asset and configuration from the cloud assembly, and invoke it with API Gateway REST
 * proxy events against kinesalite.
 */
describe('example app, end to end against kinesalite', () => {
  const STRIPE_SECRET = 'whsec_e2e_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
  const ORDERS_SECRET = 'orders-hmac-key-0a1b2c3d4e5f';
  const STRIPE_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:stripe-AbCdEf';
  const ORDERS_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:orders-GhIjKl';
  const GITHUB_SECRET = 'github-e2e-secret';
  const GITHUB_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:github-MnOpQr';

  const peers = bundledPeers({ [STRIPE_SECRET_ARN]: STRIPE_SECRET, [ORDERS_SECRET_ARN]: ORDERS_SECRET, [GITHUB_SECRET_ARN]: GITHUB_SECRET });
  let outdir: string;
  let kinesis: LocalKinesis;
  let secretsManager: LocalSecretsManager;
  let stack: SynthesizedStack;
  let deployments = 0;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'example-app-'));
    const app = new App({ context: STRICT, outdir });
    const artifactId = buildExampleApp(app).artifactId;
    app.synth();
    stack = SynthesizedStack.read(outdir, artifactId);
    ({ kinesis, secretsManager } = peers);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const logicalId = (type: string, prefix: string) => stack.logicalId(type, prefix);

  /** Loads a source's bundled handler as Lambda would, with the environment from the template. */
  async function deployedHandler(source: string, secretArn: string, kinesisEndpoint?: string, dynamo?: LocalDynamoDb): Promise<{ invoke: BundledHandler; streamName: string; quarantineStreamName: string }> {
    const streamLogicalId = logicalId('AWS::Kinesis::Stream', `${source}Stream`);
    const secretLogicalId = logicalId('AWS::SecretsManager::Secret', { Stripe: 'StripeSigningSecret', Orders: 'OrdersSigningSecret', GitHub: 'GitHubWebhookSecret' }[source] as string);
    const tableLogicalId = dynamo === undefined ? undefined : logicalId('AWS::DynamoDB::Table', `${source}DedupTable`);
    const quarantineLogicalId = Object.keys(stack.resources).find((id) => id.startsWith(`${source}QuarantineStream`));
    const quarantineStreamName = `${source.toLowerCase()}-quarantine-${deployments + 1}`;
    if (quarantineLogicalId !== undefined) await kinesis.createStream(quarantineStreamName, 1);
    const tableName = `${source.toLowerCase()}-dedup-${deployments + 1}`;
    if (dynamo !== undefined) await dynamo.createDedupTable(tableName);
    const streamName = `${source.toLowerCase()}-e2e-${++deployments}`;
    await kinesis.createStream(streamName, 4);

    const variables = stack.environment(`${source}Ingest`, (id) => {
      if (id === streamLogicalId) return streamName;
      if (id === secretLogicalId) return secretArn;
      if (id === tableLogicalId) return tableName;
      if (id === quarantineLogicalId) return quarantineStreamName;
      // The spill queue is only used under throttling, which these tests inject elsewhere.
      if (stack.resources[id]?.Type === 'AWS::SQS::Queue') return 'http://127.0.0.1:9/000000000000/unused.fifo';
      throw new Error(`unexpected reference ${id}`);
    });

    const invoke = loadHandler(stack.assetDir(`${source}Ingest`), {
      ...variables,
      AWS_ENDPOINT_URL_KINESIS: kinesisEndpoint ?? kinesis.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint,
      ...(dynamo === undefined ? {} : { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint }),
      // The unused spill queue's own endpoint, so that the SDK has no mismatch to warn about.
      AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9',
      AWS_LAMBDA_FUNCTION_NAME: `${source}Ingest`,
    }, peers.savedEnv);
    expect(stack.functionProperties(`${source}Ingest`).Handler).toBe('index.handler');
    return { invoke, streamName, quarantineStreamName };
  }

  test('a Stripe-signed event lands in the Stripe stream as an envelope', async () => {
    const { invoke, streamName } = await deployedHandler('Stripe', STRIPE_SECRET_ARN);
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ id: 'evt_1QxE2e', object: 'event', type: 'checkout.session.completed', created: now - 3, data: { object: { id: 'cs_test_1', customer_email: 'jane@example.com' } } }, null, 2);
    const signature = stripeSignature(STRIPE_SECRET, body, now);

    const { result: response, output } = await capturingOutput(() => invoke(apiGatewayEvent(body, {
      path: '/stripe',
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'Stripe-Signature': signature, 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
      requestId: 'b7c8d9e0-0000-4000-8000-000000000001',
    })));

    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ accepted: 1, ids: ['evt_1QxE2e'], correlationId: 'b7c8d9e0-0000-4000-8000-000000000001' });
    const records = await kinesis.readAll(streamName);
    expect(records).toHaveLength(1);
    expect(records[0].PartitionKey).toBe('evt_1QxE2e');
    expect(decode(records[0])).toMatchObject({
      id: 'evt_1QxE2e',
      type: 'checkout.session.completed',
      timestamp: new Date((now - 3) * 1000).toISOString(),
      source: 'Stripe',
      headers: { 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
      contentType: 'application/json',
      payload: JSON.parse(body),
    });
    // The deployed handler logs the outcome, as JSON, and none of the content.
    expect(output).toMatch(/"message":"accepted"/);
    for (const secret of [STRIPE_SECRET, signature.slice(-64), 'jane@example.com']) expect(output).not.toContain(secret);
    expect(secretsManager.calls).toContain(`secretsmanager.GetSecretValue ${STRIPE_SECRET_ARN}`);
  });

  test('a signed batch of 1,200 orders lands as 1,200 records, in order per account', async () => {
    const { invoke, streamName } = await deployedHandler('Orders', ORDERS_SECRET_ARN);
    const now = Math.floor(Date.now() / 1000);
    const orders = Array.from({ length: 1200 }, (_, seq) => ({
      orderId: `ord-${String(seq).padStart(5, '0')}`,
      kind: seq % 7 === 0 ? 'order.refunded' : 'order.placed',
      account: `acct-${seq % 12}`,
      seq,
      at: new Date((now - 60) * 1000 + seq).toISOString(),
      total: { amount: 100 + seq, currency: 'EUR' },
    }));
    const body = JSON.stringify(orders);
    const signature = `v1=${createHmac('sha256', ORDERS_SECRET).update(`${now}.${body}`).digest('hex')}`;

    const { result: response } = await capturingOutput(() => invoke(apiGatewayEvent(body, {
      path: '/orders',
      headers: { 'content-type': 'application/json', 'x-orders-signature': signature, 'x-orders-timestamp': String(now), 'x-correlation-id': 'batch-2026-11-23' },
    })));

    expect(response.statusCode).toBe(202);
    const answer = JSON.parse(response.body) as { accepted: number; ids: string[]; correlationId: string };
    expect(answer.accepted).toBe(1200);
    expect(answer.ids).toEqual(orders.map((o) => o.orderId));
    expect(answer.correlationId).toBe('batch-2026-11-23');

    const records = await kinesis.readAll(streamName);
    expect(records).toHaveLength(1200);
    const envelopes = records.map((r) => ({ key: r.PartitionKey, env: decode<{ id: string; type: string; timestamp: string; source: string; correlationId: string; payload: typeof orders[number] }>(r) }));
    expect(new Set(envelopes.map((e) => e.env.id)).size).toBe(1200);
    for (const { key, env } of envelopes) {
      expect(key).toBe(env.payload.account);
      expect(env).toMatchObject({ id: env.payload.orderId, type: env.payload.kind, timestamp: env.payload.at, source: 'Orders', correlationId: 'batch-2026-11-23' });
    }
    // Records of one account sit on one shard, and GetRecords reads each shard in order.
    const perAccount = new Map<string, number[]>();
    for (const { env } of envelopes) perAccount.set(env.payload.account, [...(perAccount.get(env.payload.account) ?? []), env.payload.seq]);
    expect(perAccount.size).toBe(12);
    for (const [account, seqs] of perAccount) {
      expect(seqs).toEqual(orders.filter((o) => o.account === account).map((o) => o.seq));
    }
  });

  test('a rotation of the orders key drops no delivery: old and new keys both verify until the grace period ends', async () => {
    // GIVEN the deployed Orders handler, reading its key from a Secrets Manager over the wire, and
    // the rotation handler driving that same secret through its four steps. Only Date is faked, so
    // the grace period (2 days in the example) and the cache TTL can pass without waiting.
    const rotatingSecrets = await LocalSecretsManager.start({ [ORDERS_SECRET_ARN]: ORDERS_SECRET });
    const shared = secretsManager;
    secretsManager = rotatingSecrets;
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'queueMicrotask', 'hrtime', 'performance'], now: Date.now() });
    try {
      const { invoke, streamName } = await deployedHandler('Orders', ORDERS_SECRET_ARN);
      const published: unknown[] = [];
      const rotate = createRotationHandler({
        secretsManager: new SecretsManagerClient({ endpoint: rotatingSecrets.endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS }),
        events: { send: async (command: { input: unknown }) => { published.push(command.input); return { FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] }; } } as never,
        config: { version: 1, format: 'hex', bytes: 32 },
        logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      });
      let seq = 0;
      const deliver = async (key: string) => {
        const now = Math.floor(Date.now() / 1000);
        const body = JSON.stringify([{ orderId: `ord-r${++seq}`, account: 'acct-r', kind: 'order.placed', at: new Date().toISOString() }]);
        const signature = `v1=${createHmac('sha256', key).update(`${now}.${body}`).digest('hex')}`;
        const { result, output } = await capturingOutput(() => invoke(apiGatewayEvent(body, {
          headers: { 'content-type': 'application/json', 'x-orders-signature': signature, 'x-orders-timestamp': String(now) },
        })));
        return { status: result.statusCode, nonCurrent: output.includes('"NonCurrentSecretRequests"'), id: `ord-r${seq}` };
      };
      const accepted: string[] = [];
      const expectAccepted = async (key: string, nonCurrent: boolean) => {
        const answer = await deliver(key);
        expect([answer.status, answer.nonCurrent]).toEqual([202, nonCurrent]);
        accepted.push(answer.id);
      };

      await expectAccepted(ORDERS_SECRET, false);
      // WHEN Secrets Manager starts a rotation, and the handler creates, announces and tests the new key
      const versions = rotatingSecrets.secrets.get(ORDERS_SECRET_ARN)!;
      versions.startRotation('v2');
      for (const Step of ['createSecret', 'setSecret', 'testSecret']) await rotate({ Step, SecretId: ORDERS_SECRET_ARN, ClientRequestToken: 'v2' });
      const newKey = versions.valueOf('v2')!;
      expect(newKey).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(published)).not.toContain(newKey);
      // THEN a sender that moved early is accepted (one re-read after its miss), and the old key still is
      jest.setSystemTime(Date.now() + 6_000);
      await expectAccepted(newKey, true);
      await expectAccepted(ORDERS_SECRET, false);
      // WHEN the rotation finishes and the cache expires, THEN the old key is accepted, and counted
      await rotate({ Step: 'finishSecret', SecretId: ORDERS_SECRET_ARN, ClientRequestToken: 'v2' });
      jest.setSystemTime(Date.now() + 61_000);
      await expectAccepted(ORDERS_SECRET, true);
      await expectAccepted(newKey, false);
      // Every accepted delivery is in the stream, in order (read now: kinesalite trims records past its 24-hour retention).
      const ids = async () => (await kinesis.readAll(streamName)).map((r) => (decode(r) as { id: string }).id);
      expect(await ids()).toEqual(accepted);
      // WHEN the 2-day grace period has passed, THEN the old key is refused and the new one accepted
      jest.setSystemTime(Date.now() + 2 * 86_400_000 + 60_000);
      expect((await deliver(ORDERS_SECRET)).status).toBe(401);
      await expectAccepted(newKey, false);
      expect(await ids()).toEqual(accepted.slice(-1));
    } finally {
      jest.useRealTimers();
      secretsManager = shared;
      await rotatingSecrets.stop();
    }
  });

  test('the deployed handler answers a tampered batch with 401 and writes nothing', async () => {
    const { invoke, streamName } = await deployedHandler('Orders', ORDERS_SECRET_ARN);
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify([{ orderId: 'ord-x', account: 'acct-1', kind: 'order.placed' }]);
    const signature = `v1=${createHmac('sha256', ORDERS_SECRET).update(`${now}.${body}`).digest('hex')}`;
    const { result: response } = await capturingOutput(() => invoke(apiGatewayEvent(body.replace('acct-1', 'acct-2'), {
      headers: { 'content-type': 'application/json', 'x-orders-signature': signature, 'x-orders-timestamp': String(now) },
    })));
    expect(response.statusCode).toBe(401);
    expect(await kinesis.readAll(streamName)).toHaveLength(0);
  });

  test('under injected throttling it retries only failed records, then answers 429, and acknowledges nothing that is not in the stream', async () => {
    const proxy = await FaultProxy.start(kinesis.endpoint, () => ({ kind: 'pass' }));
    try {
      const { invoke, streamName } = await deployedHandler('Orders', ORDERS_SECRET_ARN, proxy.endpoint);
      const send = (batch: object[]) => {
        const now = Math.floor(Date.now() / 1000);
        const body = JSON.stringify(batch);
        const signature = `v1=${createHmac('sha256', ORDERS_SECRET).update(`${now}.${body}`).digest('hex')}`;
        return capturingOutput(() => invoke(apiGatewayEvent(body, {
          headers: { 'content-type': 'application/json', 'x-orders-signature': signature, 'x-orders-timestamp': String(now) },
        }))).then(({ result }) => result);
      };
      const batch = (prefix: string) => Array.from({ length: 50 }, (_, seq) => ({ orderId: `${prefix}-${seq}`, account: `acct-${seq % 5}`, seq, kind: 'order.placed' }));
      const idsInStream = async () => (await kinesis.readAll(streamName)).map((r) => decode<{ id: string }>(r).id);

      // 1. Some records are throttled on the first two calls: the handler retries them and answers 202.
      proxy.plan = (call): PutRecordsFault => (call < 2 ? { kind: 'throttleRecords', indexes: (i) => i % 5 !== 0 } : { kind: 'pass' });
      const first = batch('a');
      const accepted = await send(first);
      expect(accepted.statusCode).toBe(202);
      expect(proxy.stats.recordsThrottled).toBeGreaterThan(0);
      expect((await idsInStream()).sort()).toEqual(first.map((o) => o.orderId).sort());

      // 2. Some records of the first call land, then every record is throttled: 429, nothing acknowledged.
      const before = proxy.stats.putRecordsCalls;
      proxy.plan = (call): PutRecordsFault => ({ kind: 'throttleRecords', indexes: call === before ? (i) => i % 4 === 0 : () => true });
      const second = batch('b');
      const rejected = await send(second);
      expect(rejected.statusCode).toBe(429);
      expect(rejected.headers?.['Retry-After']).toBe('30');
      expect(JSON.parse(rejected.body)).not.toHaveProperty('ids');
      const partial = (await idsInStream()).filter((id) => id.startsWith('b-'));
      expect(partial.length).toBeGreaterThan(0);
      expect(partial.length).toBeLessThan(second.length);

      // 3. The sender retries the whole request once Kinesis recovers: every event is present, some twice.
      proxy.plan = () => ({ kind: 'pass' });
      expect((await send(second)).statusCode).toBe(202);
      const all = await idsInStream();
      for (const order of [...first, ...second]) expect(all).toContain(order.orderId);
      expect(all.filter((id) => id.startsWith('b-'))).toHaveLength(second.length + partial.length);
    } finally {
      await proxy.stop();
    }
  });

  test('GitHub: a redelivery is acknowledged and not written twice (dedup in dynalite), and ping is not written', async () => {
    const dynamo = await LocalDynamoDb.start();
    try {
      const { invoke, streamName } = await deployedHandler('GitHub', GITHUB_SECRET_ARN, undefined, dynamo);
      const send = (event: string, delivery: string, body: string) => capturingOutput(() => invoke(apiGatewayEvent(body, {
        headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': githubSignature(GITHUB_SECRET, body) },
      }))).then(({ result }) => ({ status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> }));

      const push = '{"ref":"refs/heads/main","after":"9f1c2e"}';
      expect(await send('push', 'd-1', push)).toEqual({ status: 202, body: expect.objectContaining({ accepted: 1, ids: ['d-1'] }) });
      expect(await send('push', 'd-1', push)).toEqual({ status: 202, body: expect.objectContaining({ accepted: 1, ids: ['d-1'], duplicates: 1 }) });
      expect(await send('ping', 'd-2', '{"zen":"Keep it logically awesome."}')).toEqual({ status: 202, body: expect.objectContaining({ accepted: 0, ignored: 1 }) });
      const records = await kinesis.readAll(streamName);
      expect(records.map((r) => decode<{ id: string; type: string }>(r))).toEqual([expect.objectContaining({ id: 'd-1', type: 'push' })]);
    } finally {
      await dynamo.stop();
    }
  });

  test('Stripe: the pinned checkout schema ships in the asset; a drifted event is quarantined and counted in EMF', async () => {
    const { invoke, streamName, quarantineStreamName } = await deployedHandler('Stripe', STRIPE_SECRET_ARN);
    const now = Math.floor(Date.now() / 1000);
    // The vendor drifted: customer_email is gone.
    const body = JSON.stringify({ id: 'evt_drift', object: 'event', type: 'checkout.session.completed', created: now, data: { object: { id: 'cs_test_2', amount_total: 500 } } });
    const { result: response, output } = await capturingOutput(() => invoke(apiGatewayEvent(body, {
      headers: { 'Content-Type': 'application/json', 'Stripe-Signature': stripeSignature(STRIPE_SECRET, body, now) },
    })));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toMatchObject({ accepted: 1, quarantined: 1 });
    expect(await kinesis.readAll(streamName)).toHaveLength(0);
    const [quarantined] = await kinesis.readAll(quarantineStreamName);
    expect(decode(quarantined)).toMatchObject({ id: 'evt_drift', quarantine: { violations: [{ path: '/data/object/customer_email', message: 'is required' }] } });
    // Powertools Metrics writes the count as an EMF line, which the alarm's metric reads.
    const emf = output.split('\n').filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toEqual([expect.objectContaining({ QuarantinedEvents: 1, service: 'Stripe' })]);
  });

  describe('the export trigger', () => {
    const TRIGGER_SECRET = 'planasonix-e2e-key';
    const TRIGGER_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:planasonix-StUvWx';
    const PIPELINE_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:ExportPipeline';

    function flatten(value: unknown): string {
      // The definition is a Fn::Join of literal parts and references; a reference becomes an ARN.
      return String(resolveCfn(value, (id) => `arn:aws:lambda:us-east-1:111111111111:function:${id}`));
    }

    test('the example pipeline definition is valid Amazon States Language, and fails a run that carries validation errors', () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const aslValidator = require('asl-validator') as (definition: unknown) => { isValid: boolean; errorsText: (sep?: string) => string };
      const machine = Object.values(stack.resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine') as unknown as { Properties: { DefinitionString: unknown } };
      const definition = JSON.parse(flatten(machine.Properties.DefinitionString)) as { States: Record<string, { Type: string; CausePath?: string; Choices?: { IsPresent?: boolean; Variable?: string }[] }> };
      const result = aslValidator(definition);
      expect(result.isValid).toBe(true);
      expect(result.errorsText('\n')).toBe('');
      expect(definition.States['Valid request?'].Choices).toEqual([expect.objectContaining({ Variable: '$.validationErrors', IsPresent: true })]);
      expect(definition.States['Rejected request']).toMatchObject({ Type: 'Fail', CausePath: expect.stringContaining('$.validationErrors') });
    });

    test('the bundled trigger starts one run with the input the README shows, and a retry starts none', async () => {
      const sfn = await LocalStepFunctions.start({ stateMachineArns: [PIPELINE_ARN] });
      const secrets = await LocalSecretsManager.start({ [TRIGGER_SECRET_ARN]: TRIGGER_SECRET });
      try {
        const machineId = logicalId('AWS::StepFunctions::StateMachine', '');
        const secretId = logicalId('AWS::SecretsManager::Secret', 'PlanasonixSigningSecret');
        const variables = stack.environment('ExportTrigger', (id) => {
          if (id === machineId) return PIPELINE_ARN;
          if (id === secretId) return TRIGGER_SECRET_ARN;
          throw new Error(`unexpected reference ${id}`);
        });
        const handler = loadHandler(stack.assetDir('ExportTrigger'), {
          ...variables,
          AWS_ENDPOINT_URL_SFN: sfn.endpoint,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        }, peers.savedEnv);

        // The README's request, as its curl sends it, at the README's receivedAt.
        const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
        const curl = /<!-- trigger:curl -->\n```bash\n([\s\S]*?)```/.exec(readme)![1];
        const shown = JSON.parse(/<!-- trigger:input -->\n```json\n([\s\S]*?)```/.exec(readme)![1]) as Record<string, unknown>;
        const body = /BODY='([^']+)'/.exec(curl)![1];
        const now = Math.floor(Date.now() / 1000);
        const request = () => apiGatewayEvent(body, {
          path: '/exports',
          requestTimeEpoch: Date.parse(String(shown.receivedAt)),
          headers: {
            'Content-Type': 'application/json', 'Idempotency-Key': 'exp_2026_11_23',
            'X-Planasonix-Timestamp': String(now), 'X-Planasonix-Signature': planasonixSignature(TRIGGER_SECRET, body, now),
          },
        });
        const { result: first } = await capturingOutput(() => handler(request()));
        expect(first.statusCode).toBe(202);
        const answer = JSON.parse(first.body) as { correlationId: string; executionArn: string };
        expect(answer).toEqual({ correlationId: 'exp_2026_11_23', executionArn: expect.stringMatching(/:execution:ExportPipeline:exp_2026_11_23$/) });
        expect(sfn.calls).toHaveLength(1);
        expect(JSON.parse(sfn.calls[0].input as string)).toEqual(shown);

        // A retry of the same delivery, signed again later: the same correlation id, no second run.
        const { result: retry } = await capturingOutput(() => handler(request()));
        expect(retry.statusCode).toBe(202);
        expect(JSON.parse(retry.body)).toMatchObject({ correlationId: 'exp_2026_11_23', executionArn: answer.executionArn });
        expect(sfn.executions.size).toBe(1);
      } finally {
        await sfn.stop();
        await secrets.stop();
      }
    });
  });
});
