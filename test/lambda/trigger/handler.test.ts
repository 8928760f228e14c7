import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  ExecutionLimitExceeded,
  InvalidExecutionInput,
  KmsAccessDeniedException,
  KmsThrottlingException,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StateMachineDeleting,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import * as fc from 'fast-check';
import type { AuthConfig } from '../../../lambda/common/auth-config';
import { createTriggerHandler, executionArnOf, MAX_RUN_INPUT_BYTES, type TriggerLogger } from '../../../lambda/trigger/handler';
import type { ParameterMapping, TriggerConfig } from '../../../lambda/trigger/config';
import type { SecretCandidates } from '../../../lambda/common/secrets';
import { WebhookAuth } from '../../../lib';
import { LocalStepFunctions } from '../../../cli/local/step-functions';
import { anyAuthConfig } from '../../support/presets';
import { apiGatewayEvent, planasonixSignature } from '../../support/signers';

const SECRET = 'planasonix-signing-secret-0123456789';
const SM_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:exports';
const NOW_MS = Date.UTC(2026, 10, 23, 12, 0, 0);
const NOW_S = NOW_MS / 1000;
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');

/** Every log line of every request in this file, kept for the privacy check after the suite. */
const suiteLogLines: string[] = [];
/** Bodies, body values, signatures, secrets and mapped header values any test sent. */
const sensitive = new Set<string>([SECRET]);

class CapturingLogger implements TriggerLogger {
  readonly lines: Record<string, unknown>[] = [];
  info(message: string, attributes: Record<string, unknown>) { this.push({ level: 'INFO', message, ...attributes }); }
  warn(message: string, attributes: Record<string, unknown>) { this.push({ level: 'WARN', message, ...attributes }); }
  error(message: string, attributes: Record<string, unknown>) { this.push({ level: 'ERROR', message, ...attributes }); }
  private push(line: Record<string, unknown>) {
    this.lines.push(line);
    suiteLogLines.push(JSON.stringify(line));
  }
}

afterAll(() => {
  // Across every request of the suite, started or refused, no log line holds any of them.
  expect(suiteLogLines.length).toBeGreaterThan(0);
  const all = suiteLogLines.join('\n');
  for (const value of sensitive) {
    if (value.length >= 12) expect(all).not.toContain(value);
  }
});

const planasonixAuth = () => anyAuthConfig((s) => WebhookAuth.planasonix(s));

function triggerConfig(overrides: Partial<TriggerConfig> = {}): TriggerConfig {
  return {
    version: 1,
    source: 'planasonix',
    target: { arn: SM_ARN, stateMachineArn: SM_ARN },
    auth: planasonixAuth(),
    secretCacheTtlSeconds: 60,
    parameters: [
      { name: 'exportId', from: { jsonPath: '$.export_id' }, required: true, type: 'integer' },
      { name: 'location', from: { jsonPath: '$.location' }, required: true, type: 'string' },
    ],
    validation: 'strict',
    includeBody: false,
    idempotencyHeaders: ['idempotency-key', 'x-planasonix-delivery'],
    maxBodyBytes: 1024 * 1024,
    retryAfterSeconds: 7,
    ...overrides,
  };
}

interface SendOptions {
  readonly headers?: Record<string, string>;
  /** The signed timestamp, in Unix seconds. */
  readonly timestamp?: number;
  /** When API Gateway received the request. */
  readonly receivedAtMs?: number;
  readonly contentType?: string;
}

/** A Planasonix-signed API Gateway event. */
function signed(body: string, options: SendOptions = {}) {
  const timestamp = options.timestamp ?? NOW_S;
  const signature = planasonixSignature(SECRET, body, timestamp);
  sensitive.add(body);
  sensitive.add(signature);
  return apiGatewayEvent(body, {
    requestTimeEpoch: options.receivedAtMs ?? NOW_MS,
    headers: {
      'Content-Type': options.contentType ?? 'application/json',
      'X-Planasonix-Signature': signature,
      'X-Planasonix-Timestamp': String(timestamp),
      ...options.headers,
    },
  });
}

function json(response: APIGatewayProxyResult): Record<string, unknown> {
  expect(response.headers?.['Content-Type']).toBe('application/json; charset=utf-8');
  return JSON.parse(response.body) as Record<string, unknown>;
}

const EXPORT = {
  export_id: 4711,
  location: 's3://exports-bucket/2026/11/nightly-report.csv',
  destination: { bucket: 'exports-destination-bucket', options: { format: 'parquet' } },
  items: [{ uri: 's3://inputs-bucket/first-input.csv' }, { uri: 's3://inputs-bucket/second-input.csv' }],
  'display name': 'Nightly export of orders',
  "it's": true,
};
for (const value of ['s3://exports-bucket/2026/11/nightly-report.csv', 'exports-destination-bucket', 's3://inputs-bucket/first-input.csv', 'Nightly export of orders']) sensitive.add(value);

describe('trigger handler', () => {
  // No Step Functions emulator exists, so the client is mocked at the SDK boundary: this instance
  // only, so that the wire-format test below can use a real client.
  const client = new SFNClient({ region: 'us-east-1' });
  const sfn = mockClient(client);
  let logger: CapturingLogger;

  beforeEach(() => {
    sfn.reset();
    sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn: string; name: string }) => ({
      executionArn: executionArnOf(SM_ARN, input.name),
      startDate: new Date(NOW_MS),
    }));
    logger = new CapturingLogger();
  });

  function handlerFor(overrides: Partial<TriggerConfig> = {}) {
    return createTriggerHandler({
      config: triggerConfig(overrides),
      logger,
      sfn: client,
      now: () => NOW_MS,
      secrets: { get: async () => [SECRET] },
    });
  }
  const starts = () => sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
  const runInput = (i = 0) => JSON.parse(starts()[i].input as string) as Record<string, unknown>;

  test('during a rotation, a run started with the previous secret is counted, and its stage logged', async () => {
    let nonCurrent = 0;
    const candidates: SecretCandidates = [{ stage: 'AWSCURRENT', value: 'a-new-planasonix-secret' }, { stage: 'AWSPREVIOUS', value: SECRET }];
    const handler = createTriggerHandler({
      config: triggerConfig(),
      logger,
      sfn: client,
      now: () => NOW_MS,
      secrets: { get: async () => candidates.map((c) => c.value), candidates: async () => candidates },
      metrics: { nonCurrentSecret: () => { nonCurrent += 1; } },
    });
    const response = await handler(signed(JSON.stringify(EXPORT), { headers: { 'Idempotency-Key': 'rotating-1' } }));
    expect(response.statusCode).toBe(202);
    expect(nonCurrent).toBe(1);
    expect(logger.lines.at(-1)).toEqual(expect.objectContaining({ message: 'run started', secretStage: 'AWSPREVIOUS' }));
  });

  describe('mapping', () => {
    test('202: nested paths, array indices, quoted names, a header and static values become the run input, exactly', async () => {
      const handler = handlerFor({
        includeBody: false,
        parameters: [
          { name: 'exportId', from: { jsonPath: '$.export_id' }, required: true, type: 'integer' },
          { name: 'location', from: { jsonPath: '$.location' }, required: true, type: 'string' },
          { name: 'bucket', from: { jsonPath: '$.destination.bucket' }, required: true },
          { name: 'format', from: { jsonPath: `$['destination']["options"].format` }, required: false },
          { name: 'firstInput', from: { jsonPath: '$.items[0].uri' }, required: true },
          { name: 'secondInput', from: { jsonPath: "$.items[1]['uri']" }, required: true },
          { name: 'inputs', from: { jsonPath: '$.items' }, required: true, type: 'array' },
          { name: 'displayName', from: { jsonPath: "$['display name']" }, required: true },
          { name: 'quoted', from: { jsonPath: `$['it\\'s']` }, required: true, type: 'boolean' },
          { name: 'comment', from: { jsonPath: '$.comment' }, required: false },
          { name: 'requestedBy', from: { header: 'x-requested-by' }, required: true, type: 'string' },
          { name: 'pipeline', from: { value: 'nightly-orders' }, required: true },
          { name: 'settings', from: { value: { retries: 2, notify: ['ops'] } }, required: false, type: 'object' },
        ],
      });
      sensitive.add('scheduler-nightly-orders-7');
      const response = await handler(signed(JSON.stringify(EXPORT), { headers: { 'Idempotency-Key': 'export-4711-run-1', 'X-Requested-By': 'scheduler-nightly-orders-7' } }));

      expect(response.statusCode).toBe(202);
      expect(response.headers?.['X-Correlation-Id']).toBe('export-4711-run-1');
      expect(json(response)).toEqual({
        correlationId: 'export-4711-run-1',
        executionArn: 'arn:aws:states:us-east-1:111111111111:execution:exports:export-4711-run-1',
      });
      const [start, ...others] = starts();
      expect(others).toHaveLength(0);
      expect(start).toEqual({ stateMachineArn: SM_ARN, name: 'export-4711-run-1', input: expect.any(String) });
      const input = runInput();
      expect(Object.keys(input)).toEqual(['parameters', 'correlationId', 'receivedAt', 'source', 'bodySha256']);
      expect(input).toEqual({
        parameters: {
          exportId: 4711,
          location: 's3://exports-bucket/2026/11/nightly-report.csv',
          bucket: 'exports-destination-bucket',
          format: 'parquet',
          firstInput: 's3://inputs-bucket/first-input.csv',
          secondInput: 's3://inputs-bucket/second-input.csv',
          inputs: EXPORT.items,
          displayName: 'Nightly export of orders',
          quoted: true,
          comment: null,
          requestedBy: 'scheduler-nightly-orders-7',
          pipeline: 'nightly-orders',
          settings: { retries: 2, notify: ['ops'] },
        },
        correlationId: 'export-4711-run-1',
        receivedAt: '2026-11-23T12:00:00.000Z',
        source: 'planasonix',
        bodySha256: sha256(JSON.stringify(EXPORT)),
      });
    });

    test('202: includeBody adds the parsed body; a version or alias target is started by its own ARN', async () => {
      const handler = handlerFor({ includeBody: true, target: { arn: `${SM_ARN}:prod`, stateMachineArn: SM_ARN } });
      const response = await handler(signed(JSON.stringify(EXPORT), { headers: { 'X-Planasonix-Delivery': 'dlv_01J9' } }));
      expect(response.statusCode).toBe(202);
      expect(starts()[0]).toMatchObject({ stateMachineArn: `${SM_ARN}:prod`, name: 'dlv_01J9' });
      const input = runInput();
      expect(Object.keys(input)).toEqual(['parameters', 'correlationId', 'receivedAt', 'source', 'bodySha256', 'body']);
      expect(input.body).toEqual(EXPORT);
    });

    test('the path grammar refuses wildcards, filters and scripts when the handler is created', () => {
      for (const jsonPath of ['$.items[*]', '$..uri', "$.items[?(@.uri)]", '$.items[(@.length-1)]', '$.items[-1]', '$.items[0:2]', "$['a','b']", 'export_id']) {
        expect(() => handlerFor({ parameters: [{ name: 'p', from: { jsonPath }, required: true }] })).toThrow(/invalid WEBHOOK_INGRESS_CONFIG: parameters\[0\]\.from\.jsonPath .* is not supported/);
      }
    });

    test('no path reaches a prototype: $.constructor and $.__proto__ select nothing unless the body has them', async () => {
      const handler = handlerFor({
        validation: 'lenient',
        parameters: [
          { name: 'ctor', from: { jsonPath: '$.constructor' }, required: false },
          { name: 'proto', from: { jsonPath: "$['__proto__']" }, required: false },
          { name: 'length', from: { jsonPath: '$.items.length' }, required: false },
        ],
      });
      await handler(signed('{"items":[1,2]}'));
      await handler(signed('{"__proto__":{"polluted":true},"items":[]}'));
      expect(runInput(0).parameters).toEqual({ ctor: null, proto: null, length: null });
      expect(runInput(1).parameters).toEqual({ ctor: null, proto: { polluted: true }, length: null });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('validation', () => {
    test('strict: a missing required key is a 400 naming the parameter and its path, and no run starts', async () => {
      const response = await handlerFor()(signed('{"location":"s3://a/b"}'));
      expect(response.statusCode).toBe(400);
      expect(json(response)).toEqual({
        error: 'ParameterValidation',
        message: 'parameter exportId (from $.export_id) is required',
        correlationId: expect.stringMatching(/^b-[0-9a-f]{64}$/),
      });
      expect(starts()).toHaveLength(0);
    });

    test('strict: null counts as missing, and every problem is named', async () => {
      const response = await handlerFor()(signed('{"export_id":null,"location":42}'));
      expect(response.statusCode).toBe(400);
      expect(json(response).message).toBe('parameter exportId (from $.export_id) is required; parameter location (from $.location) must be a string, got a whole number');
      expect(starts()).toHaveLength(0);
    });

    test('strict: a required header that is absent is a 400', async () => {
      const handler = handlerFor({ parameters: [{ name: 'tenant', from: { header: 'x-tenant' }, required: true }] });
      const response = await handler(signed('{}'));
      expect(json(response)).toMatchObject({ message: 'parameter tenant (from header x-tenant) is required' });
      expect((await handler(signed('{}', { headers: { 'X-Tenant': 'acme' } }))).statusCode).toBe(202);
      expect(runInput().parameters).toEqual({ tenant: 'acme' });
    });

    test('lenient: the run starts, carrying validationErrors for the state machine to fail visibly', async () => {
      const response = await handlerFor({ validation: 'lenient' })(signed('{"export_id":"4711"}'));
      expect(response.statusCode).toBe(202);
      const input = runInput();
      expect(Object.keys(input)).toEqual(['parameters', 'correlationId', 'receivedAt', 'source', 'bodySha256', 'validationErrors']);
      expect(input).toMatchObject({
        parameters: { exportId: '4711', location: null },
        validationErrors: [
          { parameter: 'exportId', message: 'parameter exportId (from $.export_id) must be an integer (a whole number), got a string' },
          { parameter: 'location', message: 'parameter location (from $.location) is required' },
        ],
      });
    });

    test('lenient: a valid request carries no validationErrors key', async () => {
      await handlerFor({ validation: 'lenient' })(signed('{"export_id":1,"location":"s3://a/b"}'));
      expect(runInput()).not.toHaveProperty('validationErrors');
    });

    test.each([
      ['integer', '42', true],
      ['integer', '42.0', true],
      ['integer', '-7', true],
      ['integer', '4.5', 'got a fractional number'],
      ['integer', '"42"', 'got a string'],
      ['number', '4.5', true],
      ['number', '"4.5"', 'got a string'],
      ['string', '""', true],
      ['string', 'true', 'got a boolean'],
      ['boolean', 'false', true],
      ['boolean', '0', 'got a whole number'],
      ['object', '{}', true],
      ['object', '[]', 'got an array'],
      ['array', '[]', true],
      ['array', '{"0":1}', 'got an object'],
    ] as const)('type %s with value %s', async (type, value, verdict) => {
      const handler = handlerFor({ parameters: [{ name: 'v', from: { jsonPath: '$.v' }, required: true, type }] });
      const response = await handler(signed(`{"v":${value}}`));
      if (verdict === true) {
        expect(response.statusCode).toBe(202);
        expect(runInput().parameters).toEqual({ v: JSON.parse(value) });
      } else {
        expect(response.statusCode).toBe(400);
        expect(json(response).message).toMatch(new RegExp(`^parameter v \\(from \\$\\.v\\) must be an? .*, ${verdict}$`));
      }
    });

    test('an optional parameter that is present must still have its type', async () => {
      const handler = handlerFor({ parameters: [{ name: 'limit', from: { jsonPath: '$.limit' }, required: false, type: 'integer' }] });
      expect((await handler(signed('{}'))).statusCode).toBe(202);
      expect(runInput().parameters).toEqual({ limit: null });
      expect(json(await handler(signed('{"limit":"ten"}'))).message).toBe('parameter limit (from $.limit) must be an integer (a whole number), got a string');
    });
  });

  describe('idempotent retries: the execution name', () => {
    const nameOf = async (handler: ReturnType<typeof handlerFor>, body: string, headers: Record<string, string> = {}) =>
      json(await handler(signed(body, { headers }))).correlationId as string;
    const body = JSON.stringify({ export_id: 1, location: 's3://a/b' });

    test('comes from Idempotency-Key, else the delivery id, else a hash of the raw body', async () => {
      const handler = handlerFor();
      expect(await nameOf(handler, body, { 'Idempotency-Key': 'key-1', 'X-Planasonix-Delivery': 'dlv-1' })).toBe('key-1');
      expect(await nameOf(handler, body, { 'X-Planasonix-Delivery': 'dlv-1' })).toBe('dlv-1');
      expect(await nameOf(handler, body)).toBe(`b-${sha256(body)}`);
      expect(await nameOf(handler, body, { 'Idempotency-Key': '   ' })).toBe(`b-${sha256(body)}`);
      expect(starts().map((s) => s.name)).toEqual(['key-1', 'dlv-1', `b-${sha256(body)}`, `b-${sha256(body)}`]);
    });

    test('the same request retried gets the same name, whatever its timestamp', async () => {
      const handler = handlerFor();
      const variants: Record<string, string>[] = [{ 'Idempotency-Key': 'key-2' }, { 'X-Planasonix-Delivery': 'dlv-2' }, {}];
      for (const headers of variants) {
        const first = json(await handler(signed(body, { headers, timestamp: NOW_S - 20, receivedAtMs: NOW_MS - 20_000 }))).correlationId;
        const retry = json(await handler(signed(body, { headers, timestamp: NOW_S }))).correlationId;
        expect(retry).toBe(first);
      }
      // The hash is over the raw bytes: the same JSON written differently is another delivery.
      expect(await nameOf(handler, JSON.stringify({ location: 's3://a/b', export_id: 1 }))).not.toBe(await nameOf(handler, body));
    });

    test('a key that is not a valid execution name is hashed, deterministically; the derived prefixes are reserved', async () => {
      const handler = handlerFor();
      for (const key of ['order 42/7', 'ключ-1', 'k'.repeat(81), 'a:b', 'b-abc', 'h-abc']) {
        const name = await nameOf(handler, body, { 'Idempotency-Key': key });
        expect(name).toBe(`h-${sha256(key)}`);
        expect(name).toMatch(EXECUTION_NAME);
        expect(await nameOf(handler, body, { 'Idempotency-Key': key })).toBe(name);
      }
      expect(await nameOf(handler, body, { 'Idempotency-Key': 'k'.repeat(80) })).toBe('k'.repeat(80));
    });

    const alreadyExists = () => new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: { httpStatusCode: 400 } });
    /** The input of the run a request with this body started earlier, as DescribeExecution returns it. */
    const storedInput = (sent: string, extra: Record<string, unknown> = {}) => JSON.stringify({
      parameters: JSON.parse(sent).export_id === undefined ? {} : { exportId: JSON.parse(sent).export_id, location: JSON.parse(sent).location },
      correlationId: 'export-1-attempt', receivedAt: '2026-11-23T11:00:00.000Z', source: 'planasonix', bodySha256: sha256(sent), ...extra,
    });

    test('ExecutionAlreadyExists with the same body: a retried delivery answers 202 with the run it already started', async () => {
      sfn.on(StartExecutionCommand).rejects(alreadyExists());
      sfn.on(DescribeExecutionCommand).resolves({ input: storedInput(body), status: 'RUNNING' });
      const handler = handlerFor({ target: { arn: `${SM_ARN}:7`, stateMachineArn: SM_ARN } });
      const response = await handler(signed(body, { headers: { 'Idempotency-Key': 'export-1-attempt' } }));
      expect(response.statusCode).toBe(202);
      expect(json(response)).toEqual({
        correlationId: 'export-1-attempt',
        executionArn: 'arn:aws:states:us-east-1:111111111111:execution:exports:export-1-attempt',
        duplicate: true,
      });
      // The run looked up is the state machine's execution, whichever version or alias started it.
      expect(sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input)).toEqual([{ executionArn: 'arn:aws:states:us-east-1:111111111111:execution:exports:export-1-attempt' }]);
      expect(logger.lines).toEqual([expect.objectContaining({ level: 'INFO', message: 'run already started', outcome: 'duplicate', statusCode: 202 })]);
    });

    test('fails with 409 when the key names a run started with another body, and starts nothing', async () => {
      sfn.on(StartExecutionCommand).rejects(alreadyExists());
      sfn.on(DescribeExecutionCommand).resolves({ input: storedInput(JSON.stringify({ export_id: 2, location: 's3://a/other' })), status: 'SUCCEEDED' });
      const response = await handlerFor()(signed(body, { headers: { 'Idempotency-Key': 'export-1-attempt' } }));
      expect(response.statusCode).toBe(409);
      expect(json(response)).toEqual({
        error: 'IdempotencyKeyReused',
        message: 'the idempotency-key header names a run that was started with a different body; no run was started. Send a new key for a new request, or the same body to retry the first one',
        correlationId: 'export-1-attempt',
      });
      expect(logger.lines).toEqual([expect.objectContaining({ level: 'WARN', message: 'rejected', outcome: 'rejected', statusCode: 409, errorName: 'IdempotencyKeyReusedError' })]);
    });

    test('fails with 409 for a reused delivery id too, and a body differing only in whitespace is another body', async () => {
      sfn.on(StartExecutionCommand).rejects(alreadyExists());
      sfn.on(DescribeExecutionCommand).resolves({ input: storedInput(body) });
      const response = await handlerFor()(signed(`${body}\n`, { headers: { 'X-Planasonix-Delivery': 'dlv-9' } }));
      expect(response.statusCode).toBe(409);
      expect(json(response).message).toMatch(/^the x-planasonix-delivery header names a run/);
    });

    test('a run started before bodySha256 existed is compared by its parameters', async () => {
      sfn.on(StartExecutionCommand).rejects(alreadyExists());
      const legacy = (sent: string) => JSON.stringify({ ...JSON.parse(storedInput(sent)), bodySha256: undefined });
      sfn.on(DescribeExecutionCommand).resolves({ input: legacy(body) });
      expect((await handlerFor()(signed(body, { headers: { 'Idempotency-Key': 'k-legacy' } }))).statusCode).toBe(202);
      sfn.on(DescribeExecutionCommand).resolves({ input: legacy(JSON.stringify({ export_id: 3, location: 's3://a/b' })) });
      expect((await handlerFor()(signed(body, { headers: { 'Idempotency-Key': 'k-legacy' } }))).statusCode).toBe(409);
      // Started by hand under the same name, with an input that is no run input of this handler.
      sfn.on(DescribeExecutionCommand).resolves({ input: '{"hello":"world"}' });
      expect((await handlerFor()(signed(body, { headers: { 'Idempotency-Key': 'k-legacy' } }))).statusCode).toBe(409);
    });

    test('a name that is the body\'s hash needs no lookup: the same name is the same body', async () => {
      sfn.on(StartExecutionCommand).rejects(alreadyExists());
      const response = await handlerFor()(signed(body));
      expect(response.statusCode).toBe(202);
      expect(json(response)).toMatchObject({ correlationId: `b-${sha256(body)}`, duplicate: true });
      expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
    });

    const lookupFailures: [string, unknown, number, string][] = [
      ['throttled', new SFNServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }), 429, 'RunThrottled'],
      ['denied (no states:DescribeExecution)', new SFNServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'not authorized' }), 503, 'RunLookupFailed'],
      ['not found', new ExecutionDoesNotExist({ message: 'gone', $metadata: { httpStatusCode: 400 } }), 503, 'RunLookupFailed'],
      ['down', new SFNServiceException({ name: 'InternalFailure', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'x' }), 503, 'RunLookupFailed'],
      ['a dropped connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 503, 'RunLookupFailed'],
    ];
    test.each(lookupFailures)('fails with %s lookup as a %i with Retry-After, never a 500 or a 202', async (_name, error, status, errorName) => {
      sfn.on(StartExecutionCommand).rejects(alreadyExists());
      sfn.on(DescribeExecutionCommand).rejects(error as Error);
      const response = await handlerFor()(signed(body, { headers: { 'Idempotency-Key': 'export-1-attempt' } }));
      expect(response.statusCode).toBe(status);
      expect(response.headers).toMatchObject({ 'Retry-After': '7' });
      expect(json(response)).toMatchObject({ error: errorName, correlationId: 'export-1-attempt' });
      expect(logger.lines).toEqual([expect.objectContaining({ outcome: 'rejected', statusCode: status, causeName: (error as Error).name })]);
    });

    test('fails with a 503, not a 500, when DescribeExecution gives no input', async () => {
      sfn.on(StartExecutionCommand).rejects(alreadyExists());
      sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
      const response = await handlerFor()(signed(body, { headers: { 'Idempotency-Key': 'export-1-attempt' } }));
      expect(response.statusCode).toBe(503);
      expect(json(response)).toMatchObject({ error: 'RunLookupFailed' });
    });

    test('the execution ARN keeps the partition, region and account of the state machine', () => {
      expect(executionArnOf('arn:aws-cn:states:cn-north-1:222222222222:stateMachine:Orders_v2', 'b-1'))
        .toBe('arn:aws-cn:states:cn-north-1:222222222222:execution:Orders_v2:b-1');
    });

    test('fails with 400 when an idempotency header is sent twice', async () => {
      const event = signed(body);
      event.multiValueHeaders['Idempotency-Key'] = ['a', 'b'];
      const response = await handlerFor()(event);
      expect(response.statusCode).toBe(400);
      expect(json(response).message).toBe('header idempotency-key must appear once; it was sent 2 times (header names are compared without regard to case)');
      expect(starts()).toHaveLength(0);
    });
  });

  describe('Step Functions failures', () => {
    const body = '{"export_id":1,"location":"s3://a/b"}';
    const serviceError = (name: string, status: number, fault: 'client' | 'server') =>
      new SFNServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message: name });

    test.each([
      ['ThrottlingException', serviceError('ThrottlingException', 400, 'client')],
      ['TooManyRequestsException', serviceError('TooManyRequestsException', 429, 'client')],
      ['ExecutionLimitExceeded', new ExecutionLimitExceeded({ message: 'limit', $metadata: { httpStatusCode: 400 } })],
      ['KmsThrottlingException', new KmsThrottlingException({ message: 'kms', $metadata: { httpStatusCode: 400 } })],
    ])('429 with Retry-After, never 202: %s', async (_name, error) => {
      sfn.on(StartExecutionCommand).rejects(error);
      const response = await handlerFor()(signed(body, { headers: { 'Idempotency-Key': 'throttled-1' } }));
      expect(response.statusCode).toBe(429);
      expect(response.headers).toMatchObject({ 'Retry-After': '7', 'X-Correlation-Id': 'throttled-1' });
      expect(json(response)).toEqual({ error: 'RunThrottled', message: 'Step Functions is busy; no run was started, retry later', correlationId: 'throttled-1' });
    });

    const networkError = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const timeout = Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' });
    test.each([
      ['a 500', serviceError('InternalFailure', 500, 'server'), 'StepFunctionsUnavailable'],
      ['a 503', serviceError('ServiceUnavailable', 503, 'server'), 'StepFunctionsUnavailable'],
      ['a dropped connection', networkError, 'StepFunctionsUnavailable'],
      ['a timeout', timeout, 'StepFunctionsUnavailable'],
      ['StateMachineDoesNotExist', new StateMachineDoesNotExist({ message: 'gone', $metadata: { httpStatusCode: 400 } }), 'RunTargetUnavailable'],
      ['StateMachineDeleting', new StateMachineDeleting({ message: 'deleting', $metadata: { httpStatusCode: 400 } }), 'RunTargetUnavailable'],
      ['AccessDeniedException', serviceError('AccessDeniedException', 400, 'client'), 'RunTargetUnavailable'],
      ['KmsAccessDeniedException', new KmsAccessDeniedException({ message: 'no', $metadata: { httpStatusCode: 400 } }), 'RunTargetUnavailable'],
    ])('503 with Retry-After, never 202: %s', async (_name, error, errorName) => {
      sfn.on(StartExecutionCommand).rejects(error);
      const response = await handlerFor()(signed(body));
      expect(response.statusCode).toBe(503);
      expect(response.headers).toMatchObject({ 'Retry-After': '7' });
      expect(json(response)).toMatchObject({ error: errorName, correlationId: `b-${sha256(body)}` });
      expect(logger.lines).toEqual([expect.objectContaining({ level: 'ERROR', outcome: 'rejected', statusCode: 503, causeName: error.name })]);
    });

    test('413: Step Functions refuses the input as too large', async () => {
      sfn.on(StartExecutionCommand).rejects(new InvalidExecutionInput({ message: 'too large', $metadata: { httpStatusCode: 400 } }));
      const response = await handlerFor()(signed(body));
      expect(response.statusCode).toBe(413);
      expect(json(response).message).toMatch(/^the run input is \d+ bytes; Step Functions accepts at most 262144 \(256 KiB\), so send a smaller body$/);
    });

    test('413 without a call: an input over 256 KiB is refused before StartExecution', async () => {
      const big = JSON.stringify({ export_id: 1, location: 's3://a/b', rows: 'x'.repeat(MAX_RUN_INPUT_BYTES) });
      const response = await handlerFor({ includeBody: true })(signed(big));
      expect(response.statusCode).toBe(413);
      expect(json(response)).toMatchObject({ error: 'RunInputTooLarge', message: expect.stringMatching(/^the run input is 262\d{3} bytes; Step Functions accepts at most 262144/) });
      expect(starts()).toHaveLength(0);
    });

    test('413 before authentication: a body over maxBodyBytes', async () => {
      const response = await handlerFor({ maxBodyBytes: 64 })(signed(JSON.stringify({ pad: 'y'.repeat(100) })));
      expect(response.statusCode).toBe(413);
      expect(json(response).message).toBe('body is 110 bytes; this trigger accepts at most 64');
    });
  });

  describe('authentication and parsing', () => {
    const body = '{"export_id":1,"location":"s3://a/b"}';

    test.each([
      ['a wrong signature', () => { const e = signed(body); e.headers['X-Planasonix-Signature'] = planasonixSignature('another-secret-000000000', body, NOW_S); e.multiValueHeaders['X-Planasonix-Signature'] = [e.headers['X-Planasonix-Signature']]; return e; }, 'SignatureMismatch'],
      ['a tampered body', () => { const e = signed(body); e.body = Buffer.from(body.replace('1', '2')).toString('base64'); return e; }, 'SignatureMismatch'],
      ['a stale timestamp (replay, 61 s)', () => signed(body, { timestamp: NOW_S - 61 }), 'TimestampOutsideTolerance'],
      ['a timestamp from the future (61 s)', () => signed(body, { timestamp: NOW_S + 61 }), 'TimestampOutsideTolerance'],
      ['a timestamp that is not the signed one', () => { const e = signed(body, { timestamp: NOW_S - 10 }); e.headers['X-Planasonix-Timestamp'] = String(NOW_S); e.multiValueHeaders['X-Planasonix-Timestamp'] = [String(NOW_S)]; return e; }, 'SignatureMismatch'],
      ['no signature', () => apiGatewayEvent(body, { headers: { 'Content-Type': 'application/json', 'X-Planasonix-Timestamp': String(NOW_S) } }), 'MissingCredentials'],
    ])('401 and no run: %s', async (_name, event, error) => {
      const response = await handlerFor()(event());
      expect(response.statusCode).toBe(401);
      expect(json(response)).toMatchObject({ error });
      expect(starts()).toHaveLength(0);
    });

    test('a timestamp inside the 60 s window is accepted', async () => {
      expect((await handlerFor()(signed(body, { timestamp: NOW_S - 59 }))).statusCode).toBe(202);
    });

    test('Ed25519 (Standard Webhooks v1a, published public key) also starts a run, named by webhook-id', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const whpk = `whpk_${publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64')}`;
      const auth: AuthConfig = anyAuthConfig(() => WebhookAuth.standardWebhooksPublicKey({ publicKeys: [whpk] }));
      const handler = handlerFor({ auth, idempotencyHeaders: ['webhook-id'], headerAliases: { 'webhook-id': 'svix-id', 'webhook-timestamp': 'svix-timestamp', 'webhook-signature': 'svix-signature' } });
      const v1a = (id: string, payload: string) => `v1a,${sign(null, Buffer.from(`${id}.${NOW_S}.${payload}`), privateKey).toString('base64')}`;
      const send = (signature: string) => handler(apiGatewayEvent(body, {
        requestTimeEpoch: NOW_MS,
        headers: { 'Content-Type': 'application/json', 'webhook-id': 'msg_2pXq', 'webhook-timestamp': String(NOW_S), 'webhook-signature': signature },
      }));
      const response = await send(v1a('msg_2pXq', body));
      expect(response.statusCode).toBe(202);
      expect(json(response)).toMatchObject({ correlationId: 'msg_2pXq' });
      expect(starts()).toEqual([expect.objectContaining({ name: 'msg_2pXq' })]);
      expect((await send(v1a('msg_other', body))).statusCode).toBe(401);
      const svix = await handler(apiGatewayEvent(body, {
        requestTimeEpoch: NOW_MS,
        headers: { 'Content-Type': 'application/json', 'svix-id': 'msg_svix', 'svix-timestamp': String(NOW_S), 'svix-signature': v1a('msg_svix', body) },
      }));
      expect(json(svix)).toMatchObject({ correlationId: 'msg_svix' });
    });

    test.each([
      ['no Content-Type', undefined, body, 415, 'Content-Type header is required; send application/json'],
      ['text/plain', 'text/plain', body, 415, 'unsupported Content-Type; send application/json'],
      ['a form', 'application/x-www-form-urlencoded', 'a=1', 415, 'unsupported Content-Type; send application/json'],
      ['latin-1', 'application/json; charset=iso-8859-1', body, 415, 'unsupported charset; send UTF-8'],
      ['an empty body', 'application/json', '', 400, 'body is empty'],
      ['malformed JSON', 'application/json', '{"export_id":', 400, 'body is not valid JSON'],
      ['an array', 'application/json', `[${body}]`, 400, 'body must be a JSON object'],
      ['a string', 'application/json', '"hello"', 400, 'body must be a JSON object'],
      ['null', 'application/json', 'null', 400, 'body must be a JSON object'],
    ])('fails when the body is %s', async (_name, contentType, payload, status, message) => {
      const event = signed(payload, { contentType: contentType ?? 'application/json' });
      if (contentType === undefined) {
        delete event.headers['Content-Type'];
        delete event.multiValueHeaders['Content-Type'];
      }
      const response = await handlerFor()(event);
      expect(response.statusCode).toBe(status);
      expect(json(response).message).toBe(message);
      expect(starts()).toHaveLength(0);
    });

    test('a +json media type with charset=utf-8 is JSON', async () => {
      expect((await handlerFor()(signed(body, { contentType: 'application/vnd.planasonix.export+json; charset=UTF-8' }))).statusCode).toBe(202);
    });
  });

  describe('logging', () => {
    test('one line per request, with the outcome, status, correlation id and execution name, never a value', async () => {
      const handler = handlerFor({ validation: 'lenient', parameters: [
        { name: 'exportId', from: { jsonPath: '$.export_id' }, required: true },
        { name: 'token', from: { header: 'x-api-token' }, required: false },
      ] });
      sensitive.add('tok_secret_value_123456');
      await handler(signed('{"export_id":"exp_secret_4242"}', { headers: { 'Idempotency-Key': 'log-1', 'X-Api-Token': 'tok_secret_value_123456' } }));
      await handler(signed('{}', { timestamp: NOW_S - 3600 }));
      sfn.on(StartExecutionCommand).rejects(new SFNServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' }));
      await handler(signed('{}', { headers: { 'Idempotency-Key': 'log-3' } }));
      sensitive.add('exp_secret_4242');

      expect(logger.lines).toEqual([
        expect.objectContaining({ level: 'INFO', message: 'run started', outcome: 'started', statusCode: 202, correlationId: 'log-1', executionName: 'log-1', validationErrors: 0 }),
        expect.objectContaining({ level: 'WARN', message: 'rejected', outcome: 'rejected', statusCode: 401, errorName: 'TimestampOutsideToleranceError', executionName: undefined }),
        expect.objectContaining({ level: 'WARN', message: 'rejected', outcome: 'rejected', statusCode: 429, correlationId: 'log-3', executionName: 'log-3', causeName: 'ThrottlingException' }),
      ]);
      expect(JSON.stringify(logger.lines)).not.toMatch(/Rate exceeded|exp_secret|tok_secret/);
    });
  });

  describe('property: a path selects what a reference evaluation selects, or is a validation error', () => {
    type Segment = { kind: 'name'; name: string } | { kind: 'index'; index: number };
    const key = fc.constantFrom('a', 'b', 'export_id', 'a b', "it's", 'x"y', 'back\\slash', '0', 'é', 'constructor', 'toString');
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { maxDepth: 4, withCrossShrink: true },
        // At the depth limit oneof takes the first: a value, so that deep paths select something.
        fc.string({ maxLength: 4 }), fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }),
        { arbitrary: fc.array(tie('value'), { maxLength: 3 }), weight: 3 },
        { arbitrary: fc.dictionary(key, tie('value'), { maxKeys: 3 }), weight: 3 },
      ),
    }));
    const body = fc.dictionary(key, value, { minKeys: 1, maxKeys: 4 }).map((d) => JSON.parse(JSON.stringify(d)) as Record<string, unknown>);
    const randomSegment: fc.Arbitrary<Segment> = fc.oneof(key.map((name): Segment => ({ kind: 'name', name })), fc.nat(3).map((index): Segment => ({ kind: 'index', index })));
    /** Mostly a walk into the document, so that deep paths select something; sometimes a step off it. */
    const walk = (doc: unknown, depth: number): fc.Arbitrary<Segment[]> => {
      const stop = fc.constant<Segment[]>([]);
      const offTheDocument = fc.array(randomSegment, { minLength: 1, maxLength: Math.max(1, depth) });
      const members = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? Object.keys(doc) : [];
      const into = depth === 0 ? undefined
        : members.length > 0 ? fc.constantFrom(...members).chain((name) => walk((doc as Record<string, unknown>)[name], depth - 1).map((rest): Segment[] => [{ kind: 'name', name }, ...rest]))
          : Array.isArray(doc) && doc.length > 0 ? fc.nat(doc.length - 1).chain((index) => walk(doc[index], depth - 1).map((rest): Segment[] => [{ kind: 'index', index }, ...rest]))
            : undefined;
      return into === undefined
        ? fc.oneof({ arbitrary: stop, weight: 3 }, { arbitrary: offTheDocument, weight: 1 })
        : fc.oneof({ arbitrary: into, weight: 6 }, { arbitrary: stop, weight: 1 }, { arbitrary: offTheDocument, weight: 1 });
    };
    type Style = 'dot' | 'single' | 'double';
    const case_ = body.chain((document) => fc.tuple(fc.constant(document), walk(document, 4), fc.array(fc.constantFrom<Style>('dot', 'single', 'double'), { minLength: 4, maxLength: 4 })));

    function render(segments: readonly Segment[], styles: readonly Style[]): string {
      return '$' + segments.map((s, i) => {
        const style = styles[i];
        if (s.kind === 'index') return `[${s.index}]`;
        if (style === 'dot' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(s.name)) return `.${s.name}`;
        if (style === 'single') return `['${s.name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
        return `[${JSON.stringify(s.name)}]`;
      }).join('');
    }

    /** The reference: own members and in-range elements, written for this test. */
    function reference(document: unknown, segments: readonly Segment[]): unknown {
      let current = document;
      for (const s of segments) {
        if (s.kind === 'name') {
          if (typeof current !== 'object' || current === null || Array.isArray(current) || !Object.prototype.hasOwnProperty.call(current, s.name)) return undefined;
          current = (current as Record<string, unknown>)[s.name];
        } else {
          if (!Array.isArray(current) || s.index >= current.length) return undefined;
          current = current[s.index];
        }
      }
      return current;
    }

    test('for any JSON object and path', async () => {
      const selected: boolean[] = [];
      await fc.assert(fc.asyncProperty(case_, async ([document, segments, styles]) => {
        sfn.reset();
        sfn.on(StartExecutionCommand).resolves({ executionArn: executionArnOf(SM_ARN, 'x'), startDate: new Date(NOW_MS) });
        const text = JSON.stringify(document);
        const jsonPath = render(segments, styles);
        const mapping: ParameterMapping = { name: 'p', from: { jsonPath }, required: true };
        const response = await handlerFor({ validation: 'lenient', parameters: [mapping] })(signed(text));
        expect(response.statusCode).toBe(202);
        const input = runInput();
        const expected = reference(JSON.parse(text), segments);
        if (segments.length >= 2) selected.push(expected !== undefined && expected !== null);
        if (expected === undefined || expected === null) {
          expect(input.parameters).toEqual({ p: null });
          expect(input.validationErrors).toEqual([{ parameter: 'p', message: `parameter p (from ${jsonPath}) is required` }]);
        } else {
          expect(input.parameters).toEqual({ p: expected });
          expect(input).not.toHaveProperty('validationErrors');
        }
      }), { numRuns: 150 });
      // The walk keeps the property honest: deep paths select values, and miss, often enough.
      expect(selected.filter(Boolean).length).toBeGreaterThan(10);
      expect(selected.filter((found) => !found).length).toBeGreaterThan(10);
    });
  });
});

describe('trigger handler against the Step Functions wire protocol (LocalStepFunctions)', () => {
  let fake: LocalStepFunctions;
  beforeAll(async () => {
    fake = await LocalStepFunctions.start({ stateMachineArns: [SM_ARN] });
  });
  afterAll(async () => {
    await fake.stop();
  });

  test('StartExecution in JSON 1.0: a run, a retry answered as the same run, throttling and a 5xx', async () => {
    const sfn = new SFNClient({
      endpoint: fake.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'fake-secret-access-key' },
      maxAttempts: 1,
    });
    const logger = new CapturingLogger();
    const handler = createTriggerHandler({
      config: triggerConfig({ target: { arn: `${SM_ARN}:live`, stateMachineArn: SM_ARN } }),
      logger, sfn, now: () => NOW_MS,
      secrets: { get: async () => [SECRET] },
    });
    const body = '{"export_id":99,"location":"s3://exports/99.csv"}';
    const headers = { 'X-Planasonix-Delivery': 'dlv_wire_1' };
    const executionArn = 'arn:aws:states:us-east-1:111111111111:execution:exports:dlv_wire_1';

    const first = await handler(signed(body, { headers, timestamp: NOW_S - 30, receivedAtMs: NOW_MS - 30_000 }));
    expect(first.statusCode).toBe(202);
    expect(json(first)).toEqual({ correlationId: 'dlv_wire_1', executionArn });
    expect(fake.calls).toEqual([{
      target: 'AWSStepFunctions.StartExecution',
      contentType: 'application/x-amz-json-1.0',
      stateMachineArn: `${SM_ARN}:live`,
      name: 'dlv_wire_1',
      input: expect.any(String),
      status: 200,
    }]);
    expect(JSON.parse(fake.calls[0].input as string)).toEqual({
      parameters: { exportId: 99, location: 's3://exports/99.csv' },
      correlationId: 'dlv_wire_1',
      receivedAt: '2026-11-23T11:59:30.000Z',
      source: 'planasonix',
      bodySha256: sha256(body),
    });

    // The sender retries 30 s later: another receivedAt, so another input, and the same name.
    const retry = await handler(signed(body, { headers }));
    expect(fake.calls[1]).toMatchObject({ name: 'dlv_wire_1', status: 400 });
    expect(retry.statusCode).toBe(202);
    expect(json(retry)).toEqual({ correlationId: 'dlv_wire_1', executionArn, duplicate: true });
    expect([...fake.executions.keys()]).toEqual([executionArn]);

    fake.failNext({ status: 400, type: 'ThrottlingException', message: 'Rate exceeded' }, { status: 500, type: 'InternalFailure' });
    const throttled = await handler(signed(body, { headers: { 'X-Planasonix-Delivery': 'dlv_wire_2' } }));
    expect(throttled.statusCode).toBe(429);
    expect(throttled.headers).toMatchObject({ 'Retry-After': '7' });
    const failed = await handler(signed(body, { headers: { 'X-Planasonix-Delivery': 'dlv_wire_2' } }));
    expect(failed.statusCode).toBe(503);
    expect(fake.executions.size).toBe(1);
    expect(logger.lines.map((l) => [l.outcome, l.statusCode, l.causeName])).toEqual([
      ['started', 202, undefined], ['duplicate', 202, undefined], ['rejected', 429, 'ThrottlingException'], ['rejected', 503, 'InternalFailure'],
    ]);
    sfn.destroy();
  });

  test('a reused delivery id with another body is a 409; the same body is the same run, running or closed', async () => {
    const sfn = new SFNClient({
      endpoint: fake.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'fake-secret-access-key' },
      maxAttempts: 1,
    });
    const handler = createTriggerHandler({ config: triggerConfig(), logger: new CapturingLogger(), sfn, now: () => NOW_MS, secrets: { get: async () => [SECRET] } });
    const headers = { 'X-Planasonix-Delivery': 'dlv_wire_reuse' };
    const executionArn = 'arn:aws:states:us-east-1:111111111111:execution:exports:dlv_wire_reuse';
    const first = '{"export_id":1,"location":"s3://exports/1.csv"}';
    const other = '{"export_id":2,"location":"s3://exports/2.csv"}';
    expect(json(await handler(signed(first, { headers, receivedAtMs: NOW_MS - 60_000 })))).toEqual({ correlationId: 'dlv_wire_reuse', executionArn });

    // GIVEN the run is running, WHEN the id comes again with another body, THEN 409 and no second run
    const reused = await handler(signed(other, { headers }));
    expect(reused.statusCode).toBe(409);
    expect(json(reused)).toMatchObject({ error: 'IdempotencyKeyReused', correlationId: 'dlv_wire_reuse' });
    expect(JSON.parse(fake.executions.get(executionArn)!.input)).toMatchObject({ parameters: { exportId: 1 }, bodySha256: sha256(first) });
    // WHEN the same body comes again, THEN it is the same run
    expect(json(await handler(signed(first, { headers })))).toEqual({ correlationId: 'dlv_wire_reuse', executionArn, duplicate: true });
    // The very same request again (same receivedAt, so the same input) is the running run itself.
    expect(json(await handler(signed(first, { headers, receivedAtMs: NOW_MS - 60_000 })))).toEqual({ correlationId: 'dlv_wire_reuse', executionArn });

    // GIVEN the run has finished, StartExecution refuses even the same input; the answers stay the same
    fake.closeExecution(executionArn);
    expect(json(await handler(signed(first, { headers, receivedAtMs: NOW_MS - 60_000 })))).toEqual({ correlationId: 'dlv_wire_reuse', executionArn, duplicate: true });
    expect((await handler(signed(other, { headers }))).statusCode).toBe(409);
    expect(fake.describeCalls.filter((arn) => arn === executionArn)).toHaveLength(4);

    // A lookup that fails is a 503 with Retry-After, never a 500 or a 202.
    fake.failNextDescribe({ status: 500, type: 'InternalFailure' });
    const unavailable = await handler(signed(other, { headers }));
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.headers).toMatchObject({ 'Retry-After': '7' });
    expect([...fake.executions.keys()].filter((arn) => arn === executionArn)).toHaveLength(1);
    sfn.destroy();
  });
});
