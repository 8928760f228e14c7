import { createHash } from 'node:crypto';
/**
 * The handler functions' sizing and timeout, and the deadlines a timeout must leave room for: the
 * figures the constructs validate against are derived here from the handlers' own wiring, so that a
 * handler whose deadline grows makes this test fail rather than a deployed function time out.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { ExecutionAlreadyExists, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { parseIngestConfig, writeDeadlineMsFor } from '../../lambda/ingest/config';
import { createTriggerHandler } from '../../lambda/trigger/handler';
import type { TriggerConfig } from '../../lambda/trigger/config';
import { BackpressurePolicy, TriggerTarget, WebhookAuth, WebhookStreamSource, WebhookTrigger } from '../../lib';
import { HANDLER_ANSWER_SECONDS, MAX_WEBHOOK_TIMEOUT_SECONDS } from '../../lib/private/handler-function';
import { resolveCfn } from '../../cli/local/cfn';
import { apiGatewayEvent, planasonixSignature } from '../support/signers';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:webhook-AbCdEf';
const SECRET = 'planasonix-signing-secret-0123456789';
/** The SDK's backoff between two tries, at most: 2 × 500 ms for a throttling error, less otherwise. */
const BACKOFF_MS = 1_000;

/** The configuration document a construct hands its handler, resolved as the deployed function reads it. */
function handlerConfig(build: (stack: Stack, secret: secretsmanager.ISecret) => void, envVar: string): string {
  const stack = new Stack(new App(), 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
  build(stack, secretsmanager.Secret.fromSecretCompleteArn(stack, 'Secret', SECRET_ARN));
  // The source's or trigger's own function: not the spill queue's drain function, which reads a configuration too.
  const fn = Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
    .find(([id]) => /(Ingest|Trigger)[0-9A-F]{8}$/.test(id))?.[1] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return resolveCfn(fn.Properties.Environment.Variables[envVar], (id) => {
    if (id.startsWith('Pipeline')) return 'arn:aws:states:eu-west-1:111111111111:stateMachine:Pipeline';
    return id.includes('Queue') ? 'https://sqs.eu-west-1.amazonaws.com/111111111111/spill.fifo' : `ref-${id}`;
  }) as string;
}

interface Wiring {
  /** Each AWS client the handler module creates, by name, with its attempts and HTTP timeouts. */
  readonly clients: Record<string, { maxAttempts: number; connectionTimeout: number; requestTimeout: number }>;
  /** The options of the objects built over them, by class name. */
  readonly options: Record<string, Record<string, number>>;
}

/** Loads a handler's entry module with the configuration given, and records what it wires. */
function wiringOf(entry: string, envVar: string, config: string): Wiring {
  const wiring = { clients: {}, options: {} } as { clients: Wiring['clients']; options: Wiring['options'] };
  const client = (name: string) => class {
    constructor(config: { maxAttempts: number; requestHandler: { options: { connectionTimeout: number; requestTimeout: number } } }) {
      wiring.clients[name] = { maxAttempts: config.maxAttempts, ...config.requestHandler.options };
    }
  };
  const recorder = (name: string) => class {
    constructor(_client: unknown, options: Record<string, number>) {
      wiring.options[name] = options;
    }
  };
  const previous = process.env[envVar];
  process.env[envVar] = config;
  try {
    jest.isolateModules(() => {
      jest.doMock('@smithy/node-http-handler', () => {
        const actual = jest.requireActual('@smithy/node-http-handler');
        // The real handler, keeping its options where the client recorder can read them.
        return { ...actual, NodeHttpHandler: class extends actual.NodeHttpHandler { constructor(readonly options: unknown) { super(options); } } };
      });
      jest.doMock('@aws-sdk/client-kinesis', () => ({ ...jest.requireActual('@aws-sdk/client-kinesis'), KinesisClient: client('kinesis') }));
      jest.doMock('@aws-sdk/client-sqs', () => ({ ...jest.requireActual('@aws-sdk/client-sqs'), SQSClient: client('sqs') }));
      jest.doMock('@aws-sdk/client-sfn', () => ({ ...jest.requireActual('@aws-sdk/client-sfn'), SFNClient: client('sfn') }));
      jest.doMock('../../lambda/common/kinesis-writer', () => ({ ...jest.requireActual('../../lambda/common/kinesis-writer'), KinesisWriter: recorder('KinesisWriter') }));
      jest.doMock('../../lambda/ingest/spill', () => ({ ...jest.requireActual('../../lambda/ingest/spill'), SpillProducer: recorder('SpillProducer') }));
      require(entry);
    });
  } finally {
    if (previous === undefined) delete process.env[envVar];
    else process.env[envVar] = previous;
  }
  return wiring;
}

/** The longest one call through a client can take: every try, connecting and answering, and the backoffs between. */
function callMs(client: Wiring['clients'][string]): number {
  return client.maxAttempts * (client.connectionTimeout + client.requestTimeout) + (client.maxAttempts - 1) * BACKOFF_MS;
}

describe('the least timeout of each handler is its own answer deadline', () => {
  test('ingest: the write deadline plus the PutRecords call in flight', () => {
    // GIVEN the ingest handler as a source with the default policy wires it
    const config = handlerConfig((stack, secret) => new WebhookStreamSource(stack, 'Stripe', { auth: WebhookAuth.stripe(secret) }), CONFIG_ENV_VAR);
    const wiring = wiringOf('../../lambda/ingest/index', CONFIG_ENV_VAR, config);
    // WHEN the longest a slow stream can hold a request is added up: a call may start until the write deadline
    const kinesis = wiring.clients.kinesis;
    // (the wiring hands the writer the deadline the parsed config derives from the policy)
    expect(wiring.options.KinesisWriter.writeDeadlineMs).toBe(parseIngestConfig(config).writeDeadlineMs);
    const answerMs = wiring.options.KinesisWriter.writeDeadlineMs + kinesis.connectionTimeout + kinesis.requestTimeout;
    // THEN the least timeout the construct allows covers it, by less than a second
    expect(kinesis.maxAttempts).toBe(1); // the writer owns the retries, inside its deadline
    expect(HANDLER_ANSWER_SECONDS.ingest * 1000).toBeGreaterThanOrEqual(answerMs);
    expect(HANDLER_ANSWER_SECONDS.ingest * 1000 - answerMs).toBeLessThan(1000);
  });

  test('ingest with queueAndSlowAccept: the shorter write, then the spill to the queue', () => {
    const config = handlerConfig((stack, secret) => new WebhookStreamSource(stack, 'GitHub', {
      auth: WebhookAuth.github(secret),
      backpressure: BackpressurePolicy.queueAndSlowAccept(),
    }), CONFIG_ENV_VAR);
    const wiring = wiringOf('../../lambda/ingest/index', CONFIG_ENV_VAR, config);
    const { kinesis, sqs } = wiring.clients;
    expect(wiring.options.KinesisWriter.writeDeadlineMs).toBe(parseIngestConfig(config).writeDeadlineMs);
    expect(parseIngestConfig(config).writeDeadlineMs).toBeLessThan(writeDeadlineMsFor({ kind: 'rejectWith429' }));
    const writeMs = wiring.options.KinesisWriter.writeDeadlineMs + kinesis.connectionTimeout + kinesis.requestTimeout;
    // The spill's deadline bounds when a try may start; the try in flight then runs its course.
    const spillMs = wiring.options.SpillProducer.deadlineMs + sqs.connectionTimeout + sqs.requestTimeout;
    const answerMs = writeMs + spillMs;
    expect(HANDLER_ANSWER_SECONDS.ingestWithSpill * 1000).toBeGreaterThanOrEqual(answerMs);
    expect(HANDLER_ANSWER_SECONDS.ingestWithSpill * 1000 - answerMs).toBeLessThan(1000);
    expect(HANDLER_ANSWER_SECONDS.ingestWithSpill).toBeLessThanOrEqual(MAX_WEBHOOK_TIMEOUT_SECONDS);
  });

  test('trigger: every Step Functions call a request can make, each with its tries', async () => {
    // GIVEN the trigger handler as a trigger wires it
    const config = handlerConfig((stack, secret) => new WebhookTrigger(stack, 'Exports', {
      target: TriggerTarget.stateMachine(new sfn.StateMachine(stack, 'Pipeline', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Go')) })),
      auth: WebhookAuth.planasonix(secret),
    }), CONFIG_ENV_VAR);
    const wiring = wiringOf('../../lambda/trigger/index', CONFIG_ENV_VAR, config);
    // AND the most calls one request makes: a retried delivery under an idempotency key, whose run
    // already exists and is read back (StartExecution, then DescribeExecution)
    const body = '{"export_id":"exp_1"}';
    let calls = 0;
    const handler = createTriggerHandler({
      config: JSON.parse(config) as TriggerConfig,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      sfn: {
        send: async (command: unknown) => {
          calls += 1;
          if (command instanceof StartExecutionCommand) throw new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: { httpStatusCode: 400 } });
          // DescribeExecution: the run a retry with the same key and body started.
          return { input: JSON.stringify({ bodySha256: createHash('sha256').update(body).digest('hex') }) };
        },
      } as never,
      secrets: { get: async () => [SECRET] },
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const response = await handler(apiGatewayEvent(body, {
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'exp_1', 'X-Planasonix-Signature': planasonixSignature(SECRET, body, timestamp), 'X-Planasonix-Timestamp': String(timestamp) },
    }));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body)).toMatchObject({ duplicate: true });
    expect(calls).toBe(2);
    // THEN the least timeout covers that many calls through the client, with all their tries
    const answerMs = calls * callMs(wiring.clients.sfn);
    expect(HANDLER_ANSWER_SECONDS.trigger * 1000).toBeGreaterThanOrEqual(answerMs);
    expect(HANDLER_ANSWER_SECONDS.trigger).toBeLessThanOrEqual(MAX_WEBHOOK_TIMEOUT_SECONDS);
  });
});
