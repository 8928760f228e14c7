/**
 * The bundled handlers (`assets/ingest`, `assets/trigger`), loaded as Lambda loads them, answer
 * honestly at the edges: an unavailable stream is a 503 and not a 429, a reused idempotency key is
 * a 409, any method but POST is a 405, a header sent twice under two spellings is a 400, and an
 * oversized header is a 431. Real peers throughout: kinesalite behind a fault proxy, fauxqs, the
 * Step Functions and Secrets Manager stand-ins.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { LocalSecretsManager } from '../../cli/local/secrets-manager';
import { LocalStepFunctions } from '../../cli/local/step-functions';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { type IngestConfig } from '../../lambda/ingest/config';
import { decodeSpillMessage } from '../../lambda/common/spill-message';
import type { TriggerConfig } from '../../lambda/trigger/config';
import { WebhookAuth } from '../../lib';
import { assetDir, bundledPeers, loadHandler, type BundledHandler as Handler } from '../support/bundled-source';
import { FaultProxy, type PutRecordsFault } from '../support/fault-proxy';
import { LocalSqs } from '../support/fauxqs';
import { decode, LocalKinesis } from '../support/kinesalite';
import { capturingOutput } from '../support/output';
import { anyAuthConfig, ingestConfig, SECRET_ARN } from '../support/presets';
import { apiGatewayEvent, planasonixSignature, stripeSignature } from '../support/signers';

const STRIPE_SECRET = 'whsec_bundled_answers_0123456789abcdef';
const PLANASONIX_SECRET = 'planasonix-bundled-answers-key';
const SM_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:Exports';
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

const peers = bundledPeers({ [SECRET_ARN]: STRIPE_SECRET });

/** The JSON log lines (Powertools) of one invocation. */
function logLines(output: string): Record<string, unknown>[] {
  return output.split('\n').filter((l) => l.startsWith('{') && l.includes('"level"')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function invoke(handler: Handler, event: APIGatewayProxyEvent) {
  const { result, output } = await capturingOutput(() => handler(event));
  return { status: result.statusCode, headers: result.headers ?? {}, body: JSON.parse(result.body) as Record<string, unknown>, logs: logLines(output) };
}

describe('the bundled ingest handler', () => {
  async function deploy(overrides: Partial<IngestConfig> = {}, env: Record<string, string> = {}): Promise<{ handler: Handler; streamName: string }> {
    const streamName = await peers.newStream('answers');
    const config = ingestConfig((s) => WebhookAuth.stripe(s), {
      streamName,
      backpressure: { kind: 'rejectWith429', retryAfterSeconds: 30, maxAttempts: 2, retryBudgetMs: 300 },
      ...overrides,
    });
    const handler = peers.load(assetDir('ingest'), {
      [CONFIG_ENV_VAR]: JSON.stringify(config),
      AWS_LAMBDA_FUNCTION_NAME: 'AnswersIngest',
      POWERTOOLS_METRICS_DISABLED: 'true',
      ...env,
    });
    return { handler, streamName };
  }

  function stripeEvent(id: string, headers: Record<string, string> = {}, body = JSON.stringify({ id, object: 'event', type: 'invoice.paid', created: Math.floor(Date.now() / 1000) })) {
    const signature = stripeSignature(STRIPE_SECRET, body, Math.floor(Date.now() / 1000));
    return apiGatewayEvent(body, { headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature, ...headers } });
  }

  describe('an unavailable stream is a 503 with Retry-After, throttling a 429, and the log names the cause', () => {
    let proxy: FaultProxy;
    beforeEach(async () => {
      proxy = await FaultProxy.start(peers.kinesis.endpoint, () => ({ kind: 'pass' }));
    });
    afterEach(async () => {
      await proxy.stop();
    });

    test.each<[string, number, PutRecordsFault, string, string]>([
      ['Kinesis throttles', 429, { kind: 'throttleRecords', indexes: () => true }, 'throttled', 'ProvisionedThroughputExceededException'],
      ['Kinesis answers 500 InternalFailure', 503, { kind: 'failCall', status: 500, type: 'InternalFailure' }, 'outage', 'InternalFailure HTTP 500'],
      ['Kinesis fails every record with InternalFailure', 503, { kind: 'failRecords', indexes: () => true, errorCode: 'InternalFailure' }, 'outage', 'InternalFailure'],
      ['the stream refuses access', 503, { kind: 'failCall', status: 400, type: 'AccessDeniedException' }, 'misconfigured', 'AccessDeniedException HTTP 400'],
    ])('when %s: %i', async (_name, status, fault, reason, cause) => {
      proxy.plan = () => fault;
      const { handler, streamName } = await deploy({}, { AWS_ENDPOINT_URL_KINESIS: proxy.endpoint });
      const answer = await invoke(handler, stripeEvent('evt_answers_1'));
      expect(answer.status).toBe(status);
      expect(answer.headers['Retry-After']).toBe('30');
      expect(answer.body).toMatchObject(status === 429
        ? { error: 'StreamThrottled' }
        : { error: 'DependencyUnavailable', message: 'the Kinesis stream is unavailable; nothing was accepted, retry later' });
      expect(answer.logs).toEqual([
        expect.objectContaining({ level: 'WARN', message: 'stream write failed', reason, cause }),
        expect.objectContaining({ level: status === 429 ? 'WARN' : 'ERROR', message: 'rejected', statusCode: status, cause }),
      ]);
      expect(await peers.kinesis.readAll(streamName)).toHaveLength(0);
    });

    test('when nothing listens at the stream\'s endpoint (connection refused): 503, not 429', async () => {
      const gone = await LocalKinesis.start();
      const endpoint = gone.endpoint;
      await gone.stop();
      const { handler } = await deploy({}, { AWS_ENDPOINT_URL_KINESIS: endpoint });
      const answer = await invoke(handler, stripeEvent('evt_answers_2'));
      expect([answer.status, answer.headers['Retry-After']]).toEqual([503, '30']);
      // Deployed, the cause is ECONNREFUSED; under jest the SDK wraps Node's error without its code.
      expect(answer.logs[0]).toMatchObject({ message: 'stream write failed', reason: 'outage', cause: expect.stringMatching(/^(ECONNREFUSED|Error)$/) });
    });

    test('queue and slow accept: an outage spills to the queue, and the request is acknowledged once queued', async () => {
      const sqs = await LocalSqs.start();
      try {
        const created = await sqs.createFifoQueue('answers-spill');
        // The deployed SQS client sends to the queue URL's host; here that is fauxqs on 127.0.0.1.
        const queueUrl = new URL(new URL(created.queueUrl).pathname, sqs.endpoint).toString();
        proxy.plan = () => ({ kind: 'failCall', status: 503, type: 'ServiceUnavailable' });
        const { handler } = await deploy(
          { backpressure: { kind: 'queueAndSlowAccept', queueUrl, queueWindowMs: 60_000, retryAfterSeconds: 30, maxAttempts: 2, retryBudgetMs: 300 } },
          { AWS_ENDPOINT_URL_KINESIS: proxy.endpoint, AWS_ENDPOINT_URL_SQS: sqs.endpoint },
        );
        const answer = await invoke(handler, stripeEvent('evt_answers_q'));
        expect(answer.status).toBe(202);
        expect(answer.body).toMatchObject({ accepted: 1, ids: ['evt_answers_q'], queued: 1 });
        const [message, ...others] = await sqs.receiveAll(queueUrl);
        expect(others).toHaveLength(0);
        expect(decode<{ id: string }>({ Data: decodeSpillMessage(message.Body as string).data } as never).id).toBe('evt_answers_q');
        expect(answer.logs[0]).toMatchObject({ message: 'stream write failed', reason: 'outage', cause: 'ServiceUnavailable HTTP 503' });
      } finally {
        await sqs.stop();
      }
    });
  });

  test.each(['GET', 'PUT', 'OPTIONS'])('answers %s with 405, Allow: POST and a JSON body, and writes nothing', async (method) => {
    const { handler, streamName } = await deploy();
    const answer = await invoke(handler, { ...stripeEvent('evt_answers_m'), httpMethod: method });
    expect(answer.status).toBe(405);
    expect(answer.headers).toMatchObject({ Allow: 'POST', 'Content-Type': 'application/json; charset=utf-8' });
    expect(answer.body).toEqual({ error: 'MethodNotAllowed', message: `this endpoint accepts only POST; the method ${method} is not allowed`, correlationId: 'c0ffee00-0000-4000-8000-000000000000' });
    expect(await peers.kinesis.readAll(streamName)).toHaveLength(0);
  });

  describe('fails with 400 when the signature header is ambiguous, whichever value is valid', () => {
    test.each([
      ['two spellings, the valid one last', (valid: string) => ({ 'stripe-signature': ['t=1,v1=00'], 'Stripe-Signature': [valid] })],
      ['two spellings, the valid one first', (valid: string) => ({ 'Stripe-Signature': [valid], 'STRIPE-SIGNATURE': ['t=1,v1=00'] })],
    ])('%s', async (_name, spellings) => {
      const { handler, streamName } = await deploy();
      const event = stripeEvent('evt_answers_c');
      const valid = event.headers['Stripe-Signature'] as string;
      event.multiValueHeaders = { 'Content-Type': ['application/json'], ...spellings(valid) };
      event.headers = Object.fromEntries(Object.entries(event.multiValueHeaders).map(([k, v]) => [k, (v ?? []).at(-1) as string]));
      const answer = await invoke(handler, event);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toBe('header stripe-signature must appear once; it was sent 2 times (header names are compared without regard to case)');
      expect(await peers.kinesis.readAll(streamName)).toHaveLength(0);
    });

    test('the event\'s two header maps disagree', async () => {
      const { handler, streamName } = await deploy();
      const event = stripeEvent('evt_answers_d');
      // multiValueHeaders carries the valid signature, headers a forged one: neither may win.
      event.headers = { ...event.headers, 'Stripe-Signature': 't=1,v1=00' };
      expect((await invoke(handler, event)).status).toBe(400);
      expect(await peers.kinesis.readAll(streamName)).toHaveLength(0);
    });
  });

  test('fails with 431, not 413 "event too large", when a forwarded header is oversized', async () => {
    // User-Agent is forwarded into the record; 1.1 MB of it used to make the record too large.
    const { handler, streamName } = await deploy();
    const answer = await invoke(handler, stripeEvent('evt_answers_h', { 'User-Agent': 'u'.repeat(1_100_000) }));
    expect(answer.status).toBe(431);
    expect(answer.body).toMatchObject({
      error: 'RequestHeaderFieldsTooLarge',
      message: 'header user-agent has a value of 1100000 bytes; a header value may be at most 10240 bytes',
    });
    expect(await peers.kinesis.readAll(streamName)).toHaveLength(0);
    // An ordinary User-Agent still reaches the record.
    expect((await invoke(handler, stripeEvent('evt_answers_h2', { 'User-Agent': 'Stripe/1.0' }))).status).toBe(202);
  });
});

describe('the bundled trigger handler', () => {
  let sfn: LocalStepFunctions;
  let triggerSecrets: LocalSecretsManager;
  beforeAll(async () => {
    sfn = await LocalStepFunctions.start({ stateMachineArns: [SM_ARN] });
    triggerSecrets = await LocalSecretsManager.start({ [SECRET_ARN]: PLANASONIX_SECRET });
  });
  afterAll(async () => {
    await sfn.stop();
    await triggerSecrets.stop();
  });

  function deploy(): Handler {
    const config: TriggerConfig = {
      version: 1, source: 'exports', target: { arn: SM_ARN, stateMachineArn: SM_ARN },
      auth: anyAuthConfig((s) => WebhookAuth.planasonix(s)), secretCacheTtlSeconds: 60,
      parameters: [
        { name: 'exportId', from: { jsonPath: '$.export_id' }, required: true, type: 'string' },
        { name: 'requestedBy', from: { header: 'x-requested-by' }, required: false },
      ],
      validation: 'strict', includeBody: false, idempotencyHeaders: ['idempotency-key'], maxBodyBytes: 64 * 1024, retryAfterSeconds: 7,
    };
    return loadHandler(assetDir('trigger'), {
      [CONFIG_ENV_VAR]: JSON.stringify(config),
      AWS_ENDPOINT_URL_SFN: sfn.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: triggerSecrets.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: 'ExportsTrigger',
      POWERTOOLS_METRICS_DISABLED: 'true',
    }, peers.savedEnv);
  }

  function signed(body: string, headers: Record<string, string> = {}, receivedAtMs = Date.now()) {
    const now = Math.floor(Date.now() / 1000);
    return apiGatewayEvent(body, {
      requestTimeEpoch: receivedAtMs,
      headers: { 'Content-Type': 'application/json', 'X-Planasonix-Timestamp': String(now), 'X-Planasonix-Signature': planasonixSignature(PLANASONIX_SECRET, body, now), ...headers },
    });
  }

  test('a reused Idempotency-Key with another body is a 409; the same body is 202 with the same run, duplicate', async () => {
    const handler = deploy();
    const key = { 'Idempotency-Key': 'exp_answers_1' };
    const executionArn = 'arn:aws:states:us-east-1:111111111111:execution:Exports:exp_answers_1';
    const first = '{"export_id":"e-1"}';

    const started = await invoke(handler, signed(first, key, Date.now() - 5_000));
    expect([started.status, started.body]).toEqual([202, { correlationId: 'exp_answers_1', executionArn }]);
    expect(JSON.parse(sfn.executions.get(executionArn)!.input)).toMatchObject({ bodySha256: sha256(first) });

    // WHEN the key comes again with another body, THEN 409 and no second run
    const reused = await invoke(handler, signed('{"export_id":"e-2"}', key));
    expect(reused.status).toBe(409);
    expect(reused.body).toEqual({
      error: 'IdempotencyKeyReused',
      message: 'the idempotency-key header names a run that was started with a different body; no run was started. Send a new key for a new request, or the same body to retry the first one',
      correlationId: 'exp_answers_1',
    });
    expect(reused.logs).toEqual([expect.objectContaining({ level: 'WARN', message: 'rejected', statusCode: 409, errorName: 'IdempotencyKeyReusedError' })]);

    // WHEN the same body comes again, THEN the same run, marked as a duplicate
    const retried = await invoke(handler, signed(first, key));
    expect([retried.status, retried.body]).toEqual([202, { correlationId: 'exp_answers_1', executionArn, duplicate: true }]);
    expect([...sfn.executions.keys()].filter((arn) => arn.endsWith(':exp_answers_1'))).toHaveLength(1);

    // WHEN the lookup fails, THEN 503 with Retry-After, never a 500 or a 202
    // (The deployed client tries twice.)
    sfn.failNextDescribe({ status: 500, type: 'InternalFailure' }, { status: 500, type: 'InternalFailure' });
    const unavailable = await invoke(handler, signed(first, key));
    expect([unavailable.status, unavailable.headers['Retry-After'], unavailable.body.error]).toEqual([503, '7', 'RunLookupFailed']);
  });

  test('answers GET with 405 and Allow: POST, and starts nothing', async () => {
    const before = sfn.calls.length;
    const answer = await invoke(deploy(), { ...signed('{"export_id":"e-3"}'), httpMethod: 'GET' });
    expect([answer.status, answer.headers.Allow, answer.body.error]).toEqual([405, 'POST', 'MethodNotAllowed']);
    expect(sfn.calls.length).toBe(before);
  });

  test('fails with 431, not 413 "the run input is too large", when a mapped header is oversized', async () => {
    const before = sfn.calls.length;
    const answer = await invoke(deploy(), signed('{"export_id":"e-4"}', { 'X-Requested-By': 'r'.repeat(300_000) }));
    expect(answer.status).toBe(431);
    expect(answer.body.message).toBe('header x-requested-by has a value of 300000 bytes; a header value may be at most 10240 bytes');
    expect(sfn.calls.length).toBe(before);
  });
});
