import type { APIGatewayProxyResult } from 'aws-lambda';
import type { IngestConfig } from '../../../lambda/ingest/config';
import { DependencyUnavailableError } from '../../../lambda/common/errors';
import { acceptedJson, createIngestHandler, type IngestLogger } from '../../../lambda/ingest/handler';
import type { Delivery } from '../../../lambda/ingest/deliver';
import type { EnvelopeResult, OutgoingRecord } from '../../../lambda/ingest/envelope';
import { DedupStore } from '../../../lambda/ingest/dedup';
import { KinesisWriter } from '../../../lambda/common/kinesis-writer';
import type { SecretCandidates } from '../../../lambda/common/secrets';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ClaimCheckStore } from '../../../lambda/ingest/claim-check';
import { loadPayloadValidator } from '../../../lambda/ingest/schema';
import { PayloadSchema, PayloadValidation, stageHandlerAsset } from '../../../lib';
import { LocalDynamoDb } from '../../support/dynalite';
import { LocalS3 } from '../../support/s3rver';
import { WebhookAuth } from '../../../lib';
import { FaultProxy, type PutRecordsFault } from '../../support/fault-proxy';
import { LocalSqs } from '../../support/fauxqs';
import { decodeSpillMessage } from '../../../lambda/common/spill-message';
import { SpillFailure, SpillProducer, type SpillRecord } from '../../../lambda/ingest/spill';
import { clientFor, decode, LocalKinesis } from '../../support/kinesalite';
import { ingestConfig } from '../../support/presets';
import { apiGatewayEvent, githubSignature, stripeSignature, twilioSignature } from '../../support/signers';

const STRIPE_SECRET = 'whsec_unit_test_secret_value_0123456789';
const GITHUB_SECRET = 'gh-webhook-secret-value-9876543210';
const NOW_MS = Date.UTC(2026, 10, 23, 12, 0, 0);
const NOW_S = NOW_MS / 1000;

/** Every log line of every request in this file, kept for the privacy check after the suite. */
const suiteLogLines: string[] = [];

class CapturingLogger implements IngestLogger {
  readonly lines: string[] = [];
  info(message: string, attributes: Record<string, unknown>) { this.push({ level: 'INFO', message, ...attributes }); }
  warn(message: string, attributes: Record<string, unknown>) { this.push({ level: 'WARN', message, ...attributes }); }
  error(message: string, attributes: Record<string, unknown>) { this.push({ level: 'ERROR', message, ...attributes }); }
  private push(line: Record<string, unknown>) {
    const text = JSON.stringify(line);
    this.lines.push(text);
    suiteLogLines.push(text);
  }
}

/** Every body, signature header and secret any test sent. */
const sentSecrets = new Set<string>();

afterAll(() => {
  // Across every request of the suite, accepted or refused, no log line holds any of them.
  expect(suiteLogLines.length).toBeGreaterThan(0);
  const all = suiteLogLines.join('\n');
  for (const sensitive of sentSecrets) {
    if (sensitive.length >= 12) expect(all).not.toContain(sensitive);
  }
});

const stripeEvent = (id: string, extra: Record<string, unknown> = {}) =>
  `{\n  "id": "${id}",\n  "object": "event",\n  "type": "payment_intent.succeeded",\n  "created": ${NOW_S - 5},\n  "data": {"object": {"id": "pi_1", "amount": 2000, "card_last4": "4242"}}${Object.keys(extra).length ? `,\n  "extra": ${JSON.stringify(extra)}` : ''}\n}`;

function signedStripe(body: string, headers: Record<string, string> = {}) {
  const allHeaders = { 'Content-Type': 'application/json; charset=utf-8', 'Stripe-Signature': stripeSignature(STRIPE_SECRET, body, NOW_S), 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', ...headers };
  for (const value of [body, allHeaders['Stripe-Signature'], STRIPE_SECRET, GITHUB_SECRET, ...body.split(/[{}",:\[\]]/)]) sentSecrets.add(value.trim());
  return apiGatewayEvent(body, { headers: allHeaders, requestTimeEpoch: NOW_MS });
}

function json(response: APIGatewayProxyResult): Record<string, unknown> {
  expect(response.headers?.['Content-Type']).toBe('application/json; charset=utf-8');
  return JSON.parse(response.body) as Record<string, unknown>;
}

describe('ingest handler', () => {
  let kinesis: LocalKinesis;
  let logger: CapturingLogger;
  let streams = 0;

  beforeAll(async () => {
    kinesis = await LocalKinesis.start();
  });
  afterAll(async () => {
    await kinesis.stop();
  });
  beforeEach(() => {
    logger = new CapturingLogger();
  });

  async function handlerFor(preset: Parameters<typeof ingestConfig>[0], overrides: Partial<IngestConfig> = {}, endpoint?: string) {
    const streamName = `ingest-${++streams}`;
    await kinesis.createStream(streamName, 2);
    const config = ingestConfig(preset, { streamName, source: 'stripe', ...overrides });
    const handler = createIngestHandler({
      config,
      logger,
      now: () => NOW_MS,
      secrets: { get: async () => [preset === githubPreset ? GITHUB_SECRET : STRIPE_SECRET] },
      writer: new KinesisWriter(endpoint ? clientFor(endpoint) : kinesis.client, {
        streamName, maxAttempts: 3, retryBudgetMs: 1000, baseDelayMs: 1, maxDelayMs: 2,
      }),
    });
    return { handler, streamName };
  }
  const stripePreset = (s: Parameters<typeof WebhookAuth.stripe>[0]) => WebhookAuth.stripe(s);
  const githubPreset = (s: Parameters<typeof WebhookAuth.github>[0]) => WebhookAuth.github(s);

  test('202: a Stripe-signed event is written to the stream as an envelope', async () => {
    const { handler, streamName } = await handlerFor(stripePreset);
    const body = stripeEvent('evt_3Pq');
    const response = await handler(signedStripe(body, { 'X-Correlation-Id': 'order-42' }));

    expect(response.statusCode).toBe(202);
    expect(json(response)).toEqual({ accepted: 1, ids: ['evt_3Pq'], correlationId: 'order-42' });
    const [record, ...rest] = await kinesis.readAll(streamName);
    expect(rest).toHaveLength(0);
    expect(record.PartitionKey).toBe('evt_3Pq');
    expect(decode(record)).toEqual({
      id: 'evt_3Pq',
      type: 'payment_intent.succeeded',
      timestamp: new Date((NOW_S - 5) * 1000).toISOString(),
      account: null,
      source: 'stripe',
      receivedAt: new Date(NOW_MS).toISOString(),
      correlationId: 'order-42',
      headers: { 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
      contentType: 'application/json',
      payload: JSON.parse(body),
    });
  });

  test('the correlation id comes from X-Correlation-Id, else traceparent, else the request id', async () => {
    const { handler } = await handlerFor(stripePreset);
    const answer = async (headers: Record<string, string>) => json(await handler(signedStripe(stripeEvent('evt_c'), headers))).correlationId;
    expect(await answer({ 'X-Correlation-Id': 'order-7' })).toBe('order-7');
    expect(await answer({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(await answer({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' })).toBe('c0ffee00-0000-4000-8000-000000000000');
    expect(await answer({ 'X-Correlation-Id': 'has spaces, not allowed' })).toBe('c0ffee00-0000-4000-8000-000000000000');
  });

  test('202: a JSON array batch becomes one record per event, in order', async () => {
    const { handler, streamName } = await handlerFor(stripePreset);
    const body = `[${stripeEvent('evt_a')},${stripeEvent('evt_b')},${stripeEvent('evt_c')}]`;
    const response = await handler(signedStripe(body));
    expect(json(response)).toMatchObject({ accepted: 3, ids: ['evt_a', 'evt_b', 'evt_c'] });
    expect((await kinesis.readAll(streamName)).map((r) => decode<{ id: string }>(r).id).sort()).toEqual(['evt_a', 'evt_b', 'evt_c']);
  });

  test('202: routed event types land in their own streams, in order', async () => {
    const [tracks, identities] = [`tracks-${++streams}`, `identities-${streams}`];
    await kinesis.createStream(tracks, 2);
    await kinesis.createStream(identities, 1);
    const { handler, streamName } = await handlerFor(stripePreset, {
      routes: [{ eventTypes: ['track'], streamName: tracks }, { eventTypes: ['identify'], streamName: identities }],
    });
    const events = ['track', 'identify', 'page', 'track', 'identify'].map((type, i) => ({ id: `evt_${i}`, type, created: NOW_S }));
    const body = JSON.stringify(events);
    const response = await handler(signedStripe(body));
    expect(json(response)).toMatchObject({ accepted: 5 });
    const ids = async (name: string) => (await kinesis.readAll(name)).map((r) => decode<{ id: string }>(r).id).sort();
    expect(await ids(tracks)).toEqual(['evt_0', 'evt_3']);
    expect(await ids(identities)).toEqual(['evt_1', 'evt_4']);
    expect(await ids(streamName)).toEqual(['evt_2']);
  });

  test('202: a Twilio form, verified over the URL and its sorted parameters, lands as one record', async () => {
    const streamName = `twilio-${++streams}`;
    await kinesis.createStream(streamName, 1);
    const handler = createIngestHandler({
      config: ingestConfig((s) => WebhookAuth.twilio(s), { streamName, source: 'twilio' }),
      logger, now: () => NOW_MS,
      secrets: { get: async () => ['twilio-auth-token'] },
      writer: new KinesisWriter(kinesis.client, { streamName, maxAttempts: 2, retryBudgetMs: 500 }),
    });
    const params: [string, string][] = [['MessageSid', 'SM1'], ['Body', 'Hi there'], ['MediaUrl0', 'https://a/1'], ['MediaUrl0', 'https://a/2']];
    const body = new URLSearchParams(params).toString();
    const signature = twilioSignature('twilio-auth-token', 'https://hooks.example.com/prod/sms', params);
    const send = (sig: string) => handler(apiGatewayEvent(body, { path: '/sms', domainName: 'hooks.example.com', headers: {
      Host: 'hooks.example.com', 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig, 'I-Twilio-Idempotency-Token': 'tok-1',
    } }));
    expect((await send(signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')))).statusCode).toBe(401);
    expect((await send(signature)).statusCode).toBe(202);
    const [record] = await kinesis.readAll(streamName);
    expect(decode(record)).toMatchObject({ id: 'tok-1', contentType: 'application/x-www-form-urlencoded', payload: { MessageSid: 'SM1', Body: 'Hi there', MediaUrl0: ['https://a/1', 'https://a/2'] } });
  });

  test('202 with nothing written: a GitHub event type that is not allowed', async () => {
    const { handler, streamName } = await handlerFor(githubPreset, { allowedEventTypes: ['push'] });
    const body = '{"zen":"Responsive is better than fast.","hook_id":1}';
    const response = await handler(apiGatewayEvent(body, {
      headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': 'd-1', 'x-hub-signature-256': githubSignature(GITHUB_SECRET, body) },
    }));
    expect(response.statusCode).toBe(202);
    expect(json(response)).toMatchObject({ accepted: 0, ids: [], ignored: 1 });
    expect(await kinesis.readAll(streamName)).toHaveLength(0);
  });

  test('401: the same event re-serialized as JSON no longer verifies', async () => {
    const { handler, streamName } = await handlerFor(stripePreset);
    const body = stripeEvent('evt_x');
    const event = signedStripe(body);
    event.body = Buffer.from(JSON.stringify(JSON.parse(body))).toString('base64');
    const response = await handler(event);
    expect(response.statusCode).toBe(401);
    expect(json(response)).toMatchObject({ error: 'SignatureMismatch', message: 'signature does not match' });
    expect(await kinesis.readAll(streamName)).toHaveLength(0);
  });

  /** Replaces the signature in both of the event's header maps, as API Gateway would have sent it. */
  const resign = (e: ReturnType<typeof signedStripe>, signature: string) => {
    e.headers = { 'Stripe-Signature': signature, 'Content-Type': 'application/json' };
    e.multiValueHeaders = { 'Stripe-Signature': [signature], 'Content-Type': ['application/json'] };
  };

  test.each([
    ['missing signature', (e: ReturnType<typeof signedStripe>) => { delete e.headers['Stripe-Signature']; e.multiValueHeaders = {}; }, /missing stripe-signature/],
    ['wrong secret', (e: ReturnType<typeof signedStripe>) => { const b = Buffer.from(e.body as string, 'base64'); resign(e, stripeSignature('whsec_wrong', b, NOW_S)); }, /does not match/],
    ['stale timestamp', (e: ReturnType<typeof signedStripe>) => { const b = Buffer.from(e.body as string, 'base64'); resign(e, stripeSignature(STRIPE_SECRET, b, NOW_S - 600)); }, /more than 300 s/],
  ])('401: %s', async (_name, mutate, message) => {
    const { handler } = await handlerFor(stripePreset);
    const event = signedStripe(stripeEvent('evt_401'));
    mutate(event);
    const response = await handler(event);
    expect(response.statusCode).toBe(401);
    expect(String(json(response).message)).toMatch(message);
  });

  test('400: malformed JSON that is correctly signed', async () => {
    const { handler } = await handlerFor(stripePreset);
    const response = await handler(signedStripe('{"id": "evt_1", '));
    expect(response.statusCode).toBe(400);
    expect(json(response)).toMatchObject({ error: 'MalformedPayload', message: 'body is not valid JSON' });
  });

  test('415: a content type the source does not read', async () => {
    const { handler } = await handlerFor(stripePreset);
    const response = await handler(signedStripe('id=evt_1', { 'Content-Type': 'text/plain' }));
    expect(response.statusCode).toBe(415);
    expect(json(response).message).toMatch(/application\/json/);
  });

  test('413: a body over the limit, before any secret is read', async () => {
    const secrets = { get: jest.fn(async () => [STRIPE_SECRET]) };
    const handler = createIngestHandler({
      config: ingestConfig(stripePreset, { maxBodyBytes: 1024 }),
      logger,
      secrets,
      writer: { write: jest.fn() },
    });
    const response = await handler(signedStripe(stripeEvent('evt_big', { pad: 'x'.repeat(1024) })));
    expect(response.statusCode).toBe(413);
    expect(json(response).message).toMatch(/at most 1024/);
    expect(secrets.get).not.toHaveBeenCalled();
  });

  test('429 with Retry-After when Kinesis keeps throttling; nothing is acknowledged', async () => {
    const proxy = await FaultProxy.start(kinesis.endpoint, () => ({ kind: 'throttleRecords', indexes: () => true }));
    try {
      const { handler, streamName } = await handlerFor(stripePreset, {}, proxy.endpoint);
      const response = await handler(signedStripe(stripeEvent('evt_busy')));
      expect(response.statusCode).toBe(429);
      expect(response.headers?.['Retry-After']).toBe('30');
      expect(json(response)).toMatchObject({ error: 'StreamThrottled' });
      expect(proxy.stats.putRecordsCalls).toBe(3);
      expect(await kinesis.readAll(streamName)).toHaveLength(0);
    } finally {
      await proxy.stop();
    }
  });

  test('503 when the signing secret cannot be read (fails closed)', async () => {
    const handler = createIngestHandler({
      config: ingestConfig(stripePreset),
      logger,
      secrets: { get: async () => { throw new DependencyUnavailableError('Secrets Manager', { retryAfterSeconds: 30 }); } },
      writer: { write: jest.fn() },
    });
    const response = await handler(signedStripe(stripeEvent('evt_1')));
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Retry-After']).toBe('30');
  });

  test('during a rotation, a request signed with a non-current secret is counted, and its stage logged', async () => {
    // GIVEN a secret whose current value is new, and the sender still signing with the previous one
    const streamName = `ingest-${++streams}`;
    await kinesis.createStream(streamName, 1);
    let candidates: SecretCandidates = [{ stage: 'AWSCURRENT', value: 'whsec_newvalue' }, { stage: 'AWSPREVIOUS', value: STRIPE_SECRET }];
    let nonCurrent = 0;
    const handler = createIngestHandler({
      config: ingestConfig(stripePreset, { streamName }),
      logger,
      now: () => NOW_MS,
      secrets: { get: async () => candidates.map((c) => c.value), candidates: async () => candidates },
      metrics: { quarantined: () => undefined, nonCurrentSecret: () => { nonCurrent += 1; } },
      writer: new KinesisWriter(kinesis.client, { streamName, maxAttempts: 3, retryBudgetMs: 1000 }),
    });
    // WHEN it delivers, THEN it is accepted, counted once and logged with its stage
    expect((await handler(signedStripe(stripeEvent('evt_old')))).statusCode).toBe(202);
    expect(nonCurrent).toBe(1);
    expect(JSON.parse(logger.lines.at(-1) as string)).toEqual(expect.objectContaining({ message: 'accepted', secretStage: 'AWSPREVIOUS' }));
    // WHEN the same value is current, THEN it is not counted
    candidates = [{ stage: 'AWSCURRENT', value: STRIPE_SECRET }];
    expect((await handler(signedStripe(stripeEvent('evt_new')))).statusCode).toBe(202);
    expect(nonCurrent).toBe(1);
    expect(JSON.parse(logger.lines.at(-1) as string)).toEqual(expect.objectContaining({ message: 'accepted', secretStage: 'AWSCURRENT' }));
    expect((await kinesis.readAll(streamName)).map((r) => r.PartitionKey)).toEqual(['evt_old', 'evt_new']);
  });

  test('503 when the stream does not exist (an operator problem, not the sender\'s)', async () => {
    const handler = createIngestHandler({
      config: ingestConfig(stripePreset, { streamName: 'missing' }),
      logger,
      now: () => NOW_MS,
      secrets: { get: async () => [STRIPE_SECRET] },
      writer: new KinesisWriter(kinesis.client, { streamName: 'missing', maxAttempts: 3, retryBudgetMs: 100 }),
    });
    const response = await handler(signedStripe(stripeEvent('evt_1')));
    expect([response.statusCode, response.headers?.['Retry-After']]).toEqual([503, '30']);
    // Logged as the operator's problem, with the cause.
    expect(JSON.parse(logger.lines[0])).toMatchObject({ level: 'WARN', message: 'stream write failed', reason: 'misconfigured', cause: 'ResourceNotFoundException HTTP 400' });
  });

  test('configured fields are scrubbed even from an unexpected error that quotes them', async () => {
    // GIVEN a bug that quotes a payload value in its error, and that field configured for redaction
    const handler = createIngestHandler({
      config: ingestConfig(stripePreset, { redactPaths: ['/data/object/id'] }),
      logger,
      now: () => NOW_MS,
      secrets: { get: async () => [STRIPE_SECRET] },
      writer: { write: async (records) => { throw new TypeError(`cannot bill ${(JSON.parse(records[0].data.toString()) as { payload: { data: { object: { id: string } } } }).payload.data.object.id}`); } },
    });
    // WHEN
    const response = await handler(signedStripe(stripeEvent('evt_r').replace('"pi_1"', '"pi_1-secretvalue"')));
    // THEN the stack is logged, scrubbed
    expect(response.statusCode).toBe(500);
    const line = logger.lines.find((l) => l.includes('unexpected error')) as string;
    expect(line).toContain('cannot bill [REDACTED]');
    expect(line).not.toContain('pi_1-secretvalue');
  });

  test('500 without details for an unexpected failure', async () => {
    const handler = createIngestHandler({
      config: ingestConfig(stripePreset),
      logger,
      now: () => NOW_MS,
      secrets: { get: async () => [STRIPE_SECRET] },
      writer: { write: async () => { throw new TypeError('cannot read properties of undefined (reading "x")'); } },
    });
    const response = await handler(signedStripe(stripeEvent('evt_1')));
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toMatch(/undefined/);
  });

  test('no log line ever holds a body, a secret or a signature', async () => {
    // GIVEN a handler that sees accepted, rejected and failing requests
    const { handler } = await handlerFor(stripePreset);
    const marker = 'tok_visa_PRIVATE_7d1f';
    const bodies = [stripeEvent('evt_ok', { marker }), `{"id": "evt_bad", "marker": "${marker}"`];
    const events = [
      signedStripe(bodies[0]),
      signedStripe(bodies[1]),
      signedStripe(bodies[0], { 'Stripe-Signature': `t=${NOW_S},v1=${'ab'.repeat(32)}` }),
      signedStripe(bodies[0], { 'Content-Type': 'text/plain' }),
    ];
    const statuses = [];
    for (const event of events) statuses.push((await handler(event)).statusCode);
    expect(statuses).toEqual([202, 400, 401, 415]);

    // THEN the logs name outcomes, never content
    const all = logger.lines.join('\n');
    expect(logger.lines).toHaveLength(4);
    for (const secretish of [marker, STRIPE_SECRET, 'ab'.repeat(32), stripeSignature(STRIPE_SECRET, bodies[0], NOW_S).slice(-64), 'pi_1']) {
      expect(all).not.toContain(secretish);
    }
  });

  describe('when the stream throttles, is down or refuses: the answer and the log say which', () => {
    let proxy: FaultProxy;
    beforeEach(async () => {
      proxy = await FaultProxy.start(kinesis.endpoint, () => ({ kind: 'pass' }));
    });
    afterEach(async () => {
      await proxy.stop();
    });
    const lines = () => logger.lines.map((l) => JSON.parse(l) as Record<string, unknown>);

    test.each<[string, number, PutRecordsFault, string, string]>([
      ['throttled records', 429, { kind: 'throttleRecords', indexes: () => true }, 'throttled', 'ProvisionedThroughputExceededException'],
      ['InternalFailure records', 503, { kind: 'failRecords', indexes: () => true, errorCode: 'InternalFailure' }, 'outage', 'InternalFailure'],
      ['a 500 InternalFailure call', 503, { kind: 'failCall', status: 500, type: 'InternalFailure' }, 'outage', 'InternalFailure HTTP 500'],
      ['a 503 ServiceUnavailable call', 503, { kind: 'failCall', status: 503, type: 'ServiceUnavailable' }, 'outage', 'ServiceUnavailable HTTP 503'],
      ['access denied', 503, { kind: 'failCall', status: 400, type: 'AccessDeniedException' }, 'misconfigured', 'AccessDeniedException HTTP 400'],
      ['a disabled KMS key', 503, { kind: 'failCall', status: 400, type: 'KMSDisabledException' }, 'misconfigured', 'KMSDisabledException HTTP 400'],
    ])('reject with 429: %s is a %i with Retry-After, logged with its cause', async (_name, status, fault, reason, cause) => {
      proxy.plan = () => fault;
      const { handler } = await handlerFor(stripePreset, {}, proxy.endpoint);
      const response = await handler(signedStripe(stripeEvent('evt_down')));
      expect(response.statusCode).toBe(status);
      expect(response.headers?.['Retry-After']).toBe('30');
      expect(json(response)).toMatchObject(status === 429
        ? { error: 'StreamThrottled' }
        : { error: 'DependencyUnavailable', message: 'the Kinesis stream is unavailable; nothing was accepted, retry later' });
      expect(lines()).toEqual([
        expect.objectContaining({ level: 'WARN', message: 'stream write failed', reason, cause }),
        expect.objectContaining({ level: status === 429 ? 'WARN' : 'ERROR', message: 'rejected', statusCode: status, cause }),
      ]);
    });

    test('sample or shed: throttling is shed, an outage is a 503 and starts no sampling', async () => {
      const shedding = { kind: 'sampleOrShed' as const, keepFraction: 0, pressureWindowMs: 60_000, maxAttempts: 2, retryBudgetMs: 100 };
      const { handler, streamName } = await handlerFor(stripePreset, { backpressure: shedding }, proxy.endpoint);
      // GIVEN Kinesis is down: WHEN a request comes, THEN 503, nothing shed, and no pressure window
      proxy.plan = () => ({ kind: 'failCall', status: 500, type: 'InternalFailure' });
      const down = await handler(signedStripe(stripeEvent('evt_o1')));
      expect([down.statusCode, down.headers?.['Retry-After']]).toEqual([503, '30']);
      proxy.plan = () => ({ kind: 'pass' });
      expect(json(await handler(signedStripe(stripeEvent('evt_o2'))))).toEqual({ accepted: 1, ids: ['evt_o2'], correlationId: expect.any(String) });
      // GIVEN Kinesis throttles: THEN the request is shed (202) and sampling starts
      proxy.plan = () => ({ kind: 'throttleRecords', indexes: () => true });
      expect(json(await handler(signedStripe(stripeEvent('evt_t1'))))).toMatchObject({ accepted: 0, shed: 1 });
      proxy.plan = () => ({ kind: 'pass' });
      expect(json(await handler(signedStripe(stripeEvent('evt_t2'))))).toMatchObject({ accepted: 0, shed: 1 });
      expect((await kinesis.readAll(streamName)).map((r) => decode<{ id: string }>(r).id)).toEqual(['evt_o2']);
    });

    describe('queue and slow accept (fauxqs)', () => {
      let sqs: LocalSqs;
      beforeAll(async () => {
        sqs = await LocalSqs.start();
      });
      afterAll(async () => {
        await sqs.stop();
      });

      async function queued(fault: PutRecordsFault) {
        const { queueUrl } = await sqs.createFifoQueue(`spill-${++streams}`);
        const streamName = `queued-${streams}`;
        await kinesis.createStream(streamName, 1);
        const handler = createIngestHandler({
          config: ingestConfig(stripePreset, {
            streamName,
            backpressure: { kind: 'queueAndSlowAccept', queueUrl, queueWindowMs: 60_000, retryAfterSeconds: 30, maxAttempts: 2, retryBudgetMs: 100 },
          }),
          logger, now: () => NOW_MS,
          secrets: { get: async () => [STRIPE_SECRET] },
          writer: new KinesisWriter(clientFor(proxy.endpoint), { streamName, maxAttempts: 2, retryBudgetMs: 100, baseDelayMs: 1, maxDelayMs: 2 }),
          spill: new SpillProducer(sqs.client, { queueUrl, baseDelayMs: 1, maxDelayMs: 2 }),
        });
        proxy.plan = () => fault;
        const response = await handler(signedStripe(stripeEvent('evt_q1')));
        return { response, messages: await sqs.receiveAll(queueUrl) };
      }

      test('an outage spills to the queue like throttling does: 202 queued, nothing dropped', async () => {
        const { response, messages } = await queued({ kind: 'failCall', status: 500, type: 'InternalFailure' });
        expect(response.statusCode).toBe(202);
        expect(json(response)).toMatchObject({ accepted: 1, ids: ['evt_q1'], queued: 1 });
        expect(messages.map((m) => decode<{ id: string }>({ Data: decodeSpillMessage(m.Body as string).data } as never).id)).toEqual(['evt_q1']);
        expect(lines()[0]).toMatchObject({ message: 'stream write failed', reason: 'outage', cause: 'InternalFailure HTTP 500' });
      });

      const throttles: PutRecordsFault = { kind: 'throttleRecords', indexes: () => true };
      test.each<[string, SpillFailure['reason'], number, string, PutRecordsFault]>([
        ['throttled', 'throttled', 429, 'StreamThrottled', throttles],
        ['throttled', 'unavailable', 429, 'StreamThrottled', throttles],
        ['throttled', 'refused', 503, 'DependencyUnavailable', throttles],
        ['throttled', 'tooLarge', 503, 'DependencyUnavailable', throttles],
        ['down', 'throttled', 503, 'DependencyUnavailable', { kind: 'failCall', status: 500, type: 'InternalFailure' }],
      ])('when the stream is %s and the spill fails as %s: %i', async (_name, reason, status, error, fault) => {
        const streamName = `queued-${++streams}`;
        await kinesis.createStream(streamName, 1);
        const busyQueue = {
          backlog: async () => 0,
          spill: async (records: readonly SpillRecord[]): Promise<never> => {
            throw new SpillFailure(reason, records, { queued: 0, calls: 4, retried: 3 }, `spill ${reason}`, { cause: Object.assign(new Error('x'), { name: 'RequestThrottled' }) });
          },
        };
        const handler = createIngestHandler({
          config: ingestConfig(stripePreset, {
            streamName,
            backpressure: { kind: 'queueAndSlowAccept', queueUrl: 'https://sqs.example/q.fifo', queueWindowMs: 60_000, retryAfterSeconds: 30, maxAttempts: 2, retryBudgetMs: 100 },
          }),
          logger, now: () => NOW_MS,
          secrets: { get: async () => [STRIPE_SECRET] },
          writer: new KinesisWriter(clientFor(proxy.endpoint), { streamName, maxAttempts: 2, retryBudgetMs: 100, baseDelayMs: 1, maxDelayMs: 2 }),
          spill: busyQueue,
        });
        proxy.plan = () => fault;
        const response = await handler(signedStripe(stripeEvent('evt_q2')));
        expect([response.statusCode, response.headers?.['Retry-After'], json(response).error]).toEqual([status, '30', error]);
        expect(lines().find((l) => l.message === 'spill failed')).toMatchObject({ reason, cause: 'RequestThrottled' });
      });

      test('a stream only the operator can fix is a 503, and nothing is queued', async () => {
        const { response, messages } = await queued({ kind: 'failCall', status: 400, type: 'AccessDeniedException' });
        expect([response.statusCode, response.headers?.['Retry-After']]).toEqual([503, '30']);
        expect(messages).toHaveLength(0);
      });
    });
  });

  describe('with deduplication (dynalite)', () => {
    let dynamo: LocalDynamoDb;
    beforeAll(async () => {
      dynamo = await LocalDynamoDb.start();
      await dynamo.createDedupTable('dedup');
    });
    afterAll(async () => {
      await dynamo.stop();
    });

    async function dedupHandler(endpoint?: string) {
      const streamName = `dedup-${++streams}`;
      await kinesis.createStream(streamName, 2);
      const config = ingestConfig(githubPreset, { streamName, source: `github-${streams}`, dedup: { tableName: 'dedup', ttlSeconds: 3600, leaseSeconds: 30 } });
      return {
        streamName,
        handler: createIngestHandler({
          config,
          logger,
          now: () => NOW_MS,
          secrets: { get: async () => [GITHUB_SECRET] },
          writer: new KinesisWriter(endpoint ? clientFor(endpoint) : kinesis.client, { streamName, maxAttempts: 2, retryBudgetMs: 500, baseDelayMs: 1, maxDelayMs: 2 }),
          dedup: new DedupStore(dynamo.client, { tableName: 'dedup', ttlSeconds: 3600, leaseSeconds: 30, now: () => NOW_MS }),
        }),
      };
    }
    const delivery = (id: string) => {
      const body = `{"ref":"refs/heads/main","after":"${id}"}`;
      return apiGatewayEvent(body, { headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': id, 'x-hub-signature-256': githubSignature(GITHUB_SECRET, body) } });
    };

    test('a redelivery is answered 202 and not written again', async () => {
      const { handler, streamName } = await dedupHandler();
      const first = await handler(delivery('d-100'));
      const again = await handler(delivery('d-100'));
      expect(json(first)).toMatchObject({ accepted: 1, ids: ['d-100'] });
      expect(first.statusCode).toBe(202);
      expect(again.statusCode).toBe(202);
      expect(json(again)).toMatchObject({ accepted: 1, ids: ['d-100'], duplicates: 1 });
      expect(await kinesis.readAll(streamName)).toHaveLength(1);
    });

    test.each<[string, PutRecordsFault, number]>([
      ['throttled', { kind: 'throttleRecords', indexes: () => true }, 429],
      ['down', { kind: 'failRecords', indexes: () => true, errorCode: 'InternalFailure' }, 503],
    ])('a delivery whose write failed (%s) is not taken for a duplicate when it is retried', async (name, fault, status) => {
      const proxy = await FaultProxy.start(kinesis.endpoint, () => fault);
      try {
        const { handler, streamName } = await dedupHandler(proxy.endpoint);
        const id = `d-200-${name}`;
        expect((await handler(delivery(id))).statusCode).toBe(status);
        proxy.plan = () => ({ kind: 'pass' });
        const retry = await handler(delivery(id));
        expect(retry.statusCode).toBe(202);
        expect(json(retry)).not.toHaveProperty('duplicates');
        expect(await kinesis.readAll(streamName)).toHaveLength(1);
      } finally {
        await proxy.stop();
      }
    });
  });

  describe('pinned schemas', () => {
    const schema = PayloadSchema.fromObject({
      type: 'object',
      required: ['id', 'type', 'data'],
      properties: {
        id: { type: 'string' },
        type: { type: 'string' },
        data: { type: 'object', required: ['object'], properties: { object: { type: 'object', required: ['amount'], properties: { amount: { type: 'integer' } } } } },
      },
    });
    /** The validator exactly as the deployed handler loads it: compiled at synth, staged beside the bundle. */
    function validatorFor(validation: PayloadValidation) {
      const binding = validation._bind('test');
      const dir = stageHandlerAsset(`${__dirname}/../../../assets/ingest`, binding.files);
      return { config: binding.config, validator: loadPayloadValidator(dir, binding.config) };
    }
    const event = (id: string, amount: unknown) => ({ id, type: 'charge.succeeded', created: NOW_S, data: { object: { amount } } });

    test('strict: an invalid event fails the whole request with 400 and its path; nothing is written', async () => {
      const { config: payloadValidation, validator } = validatorFor(PayloadValidation.strict(schema));
      const streamName = `strict-${++streams}`;
      await kinesis.createStream(streamName, 1);
      const handler = createIngestHandler({
        config: ingestConfig(stripePreset, { streamName, payloadValidation }),
        logger, now: () => NOW_MS, validator,
        secrets: { get: async () => [STRIPE_SECRET] },
        writer: new KinesisWriter(kinesis.client, { streamName, maxAttempts: 2, retryBudgetMs: 500 }),
      });
      const response = await handler(signedStripe(JSON.stringify([event('evt_1', 100), event('evt_2', '100')])));
      expect(response.statusCode).toBe(400);
      expect(json(response).message).toBe('event 1 does not match its schema: /data/object/amount must be integer');
      expect(await kinesis.readAll(streamName)).toHaveLength(0);
      expect((await handler(signedStripe(JSON.stringify(event('evt_3', 5))))).statusCode).toBe(202);
    });

    test('quarantine: invalid events go to the quarantine stream with the reason and are counted; valid ones go on', async () => {
      const { config: payloadValidation, validator } = validatorFor(PayloadValidation.quarantine(schema));
      const [streamName, quarantineStreamName] = [`main-${++streams}`, `quarantine-${streams}`];
      await kinesis.createStream(streamName, 1);
      await kinesis.createStream(quarantineStreamName, 1);
      const counted: number[] = [];
      const handler = createIngestHandler({
        config: ingestConfig(stripePreset, { streamName, quarantineStreamName, payloadValidation }),
        logger, now: () => NOW_MS, validator,
        metrics: { quarantined: (n) => counted.push(n) },
        secrets: { get: async () => [STRIPE_SECRET] },
        writer: new KinesisWriter(kinesis.client, { streamName, maxAttempts: 2, retryBudgetMs: 500 }),
      });
      // Schema drift: the vendor renamed amount to amount_total in one event.
      const drifted = { id: 'evt_b', type: 'charge.succeeded', created: NOW_S, data: { object: { amount_total: 100 } } };
      const response = await handler(signedStripe(JSON.stringify([event('evt_a', 1), drifted, event('evt_c', 3)])));
      expect(response.statusCode).toBe(202);
      expect(json(response)).toMatchObject({ accepted: 3, ids: ['evt_a', 'evt_b', 'evt_c'], quarantined: 1 });
      expect((await kinesis.readAll(streamName)).map((r) => decode<{ id: string }>(r).id).sort()).toEqual(['evt_a', 'evt_c']);
      const [quarantined, ...others] = await kinesis.readAll(quarantineStreamName);
      expect(others).toHaveLength(0);
      expect(decode(quarantined)).toMatchObject({
        id: 'evt_b',
        quarantine: { reason: '/data/object/amount is required', violations: [{ path: '/data/object/amount', message: 'is required' }] },
        payload: drifted,
      });
      expect(counted).toEqual([1]);
    });
  });

  describe('claim check (s3rver)', () => {
    let s3: LocalS3;
    beforeAll(async () => {
      s3 = await LocalS3.start({ bucket: 'payloads' });
    });
    afterAll(async () => {
      await s3.stop();
    });

    async function claimCheckHandler(overrides: Partial<IngestConfig> = {}) {
      const streamName = `claims-${++streams}`;
      await kinesis.createStream(streamName, 1);
      const claimCheck = { bucket: 'payloads', prefix: 'payloads/' };
      const handler = createIngestHandler({
        config: ingestConfig(stripePreset, {
          streamName, claimCheck, maxBodyBytes: 4 * 1024 * 1024,
          multipart: { maxParts: 20, maxFields: 10, maxFieldBytes: 1024, maxFiles: 5, maxFileBytes: 2 * 1024 * 1024, maxTotalFileBytes: 4 * 1024 * 1024 },
          ...overrides,
        }),
        logger, now: () => NOW_MS,
        secrets: { get: async () => [STRIPE_SECRET] },
        writer: new KinesisWriter(kinesis.client, { streamName, maxAttempts: 2, retryBudgetMs: 500 }),
        payloadStore: new ClaimCheckStore(s3.client, claimCheck),
      });
      return { handler, streamName };
    }
    const bytesAt = async (key: string) => Buffer.from(await (await s3.client.send(new GetObjectCommand({ Bucket: 'payloads', Key: key }))).Body!.transformToByteArray());

    test('an event too large for a record goes to S3, and its record carries the payloadRef', async () => {
      const { handler, streamName } = await claimCheckHandler();
      const body = JSON.stringify({ id: 'evt_big', type: 'report.ready', created: NOW_S, rows: 'r'.repeat(1_500_000) });
      expect((await handler(signedStripe(body))).statusCode).toBe(202);
      const [record] = await kinesis.readAll(streamName);
      const envelope = decode<{ id: string; payload?: unknown; payloadRef: { bucket: string; key: string; size: number; sha256: string } }>(record);
      expect(envelope.payload).toBeUndefined();
      expect(envelope.payloadRef).toMatchObject({ bucket: 'payloads', key: 'payloads/test-source/evt_big/payload', size: Buffer.byteLength(body) });
      expect((await bytesAt(envelope.payloadRef.key)).toString('utf8')).toBe(body);
    });

    test('the stored payload is what the payload would have been: the bytes of any JSON type as sent, a form\'s fields as JSON', async () => {
      const { handler, streamName } = await claimCheckHandler();
      // GIVEN a CloudEvents body whose spelling JSON.stringify would change (spacing, escapes, a number's form)
      const json = Buffer.from(`{ "id" : "evt_ce", "type":"report.ready", "n": 1.0E2, "note":"caf\\u00e9", "rows":"${'r'.repeat(1_100_000)}" }`);
      const signed = (body: Buffer, contentType: string) => apiGatewayEvent(body, { headers: { 'Content-Type': contentType, 'Stripe-Signature': stripeSignature(STRIPE_SECRET, body, NOW_S) } });
      expect((await handler(signed(json, 'application/cloudevents+json'))).statusCode).toBe(202);
      // AND a form too large for a record
      const form = Buffer.from(`id=evt_form&type=report.ready&rows=${'f'.repeat(1_100_000)}`);
      expect((await handler(signed(form, 'application/x-www-form-urlencoded'))).statusCode).toBe(202);
      const refs = (await kinesis.readAll(streamName)).map((r) => decode<{ payloadRef: { key: string; contentType: string } }>(r).payloadRef);
      // THEN the JSON event is stored byte for byte, under its own media type
      expect(refs[0].contentType).toBe('application/cloudevents+json');
      expect((await bytesAt(refs[0].key)).equals(json)).toBe(true);
      // AND the form's fields are stored as the JSON the payload would have held, labelled so
      expect(refs[1].contentType).toBe('application/json');
      expect(JSON.parse((await bytesAt(refs[1].key)).toString('utf8'))).toEqual({ id: 'evt_form', type: 'report.ready', rows: 'f'.repeat(1_100_000) });
    });

    test('multipart: fields become the payload, files go to S3 and are listed with their refs', async () => {
      const { handler, streamName } = await claimCheckHandler({ metadata: { id: { header: 'x-delivery-id' } } });
      const boundary = 'XyZ123';
      const pdf = Buffer.concat([Buffer.from('%PDF-1.7\r\n'), Buffer.from([0, 255, 13, 10, 1])]);
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="invoice"\r\n\r\nINV-7\r\n`),
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="scan"; filename="inv-7.pdf"\r\nContent-Type: application/pdf\r\n\r\n`),
        pdf,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const response = await handler(apiGatewayEvent(body, { headers: {
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Stripe-Signature': stripeSignature(STRIPE_SECRET, body, NOW_S),
        'X-Delivery-Id': 'del-1',
      } }));
      expect(response.statusCode).toBe(202);
      const [record] = await kinesis.readAll(streamName);
      const envelope = decode<{ id: string; contentType: string; payload: { invoice: string; files: { field: string; filename: string; size: number; payloadRef: { key: string } }[] } }>(record);
      expect(envelope).toMatchObject({ id: 'del-1', contentType: 'multipart/form-data', payload: { invoice: 'INV-7', files: [{ field: 'scan', filename: 'inv-7.pdf', contentType: 'application/pdf', size: pdf.length }] } });
      expect((await bytesAt(envelope.payload.files[0].payloadRef.key)).equals(pdf)).toBe(true);
    });

    test('415 for multipart without a claim check', async () => {
      const { handler } = await handlerFor(stripePreset);
      const body = Buffer.from('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n');
      const response = await handler(apiGatewayEvent(body, { headers: { 'Content-Type': 'multipart/form-data; boundary=b', 'Stripe-Signature': stripeSignature(STRIPE_SECRET, body, NOW_S) } }));
      expect(response.statusCode).toBe(415);
    });
  });
});

describe('acceptedJson', () => {
  const ODD = 'q"\\ \u0001 \u2028 é 😀 \ud800';
  const record = (id: string) => ({ envelope: { id } }) as OutgoingRecord;

  test('is JSON.stringify of the 202 body: ids but the shed ones, then each count that is not 0, in order', () => {
    // GIVEN records with odd ids, one of them shed, and every count set
    const records = [record(`a ${ODD}`), record('b'), record(ODD)];
    const built: EnvelopeResult = { records, ignored: 4, quarantined: 2 };
    const delivery: Delivery = { delivered: [records[0]], queued: 1, shed: [records[1]], calls: 1, retried: 0 };
    // WHEN the body is written
    const json = acceptedJson(built, delivery, 3, `corr ${ODD}`);
    // THEN it is the straightforward serialization
    expect(json).toBe(JSON.stringify({ accepted: 2, ids: [`a ${ODD}`, ODD], correlationId: `corr ${ODD}`, duplicates: 3, quarantined: 2, queued: 1, shed: 1, ignored: 4 }));
  });

  test('leaves out the counts that are 0', () => {
    const none: EnvelopeResult = { records: [], ignored: 0, quarantined: 0 };
    const nothing: Delivery = { delivered: [], queued: 0, shed: [], calls: 0, retried: 0 };
    expect(acceptedJson(none, nothing, 0, 'c')).toBe(JSON.stringify({ accepted: 0, ids: [], correlationId: 'c' }));
  });
});
