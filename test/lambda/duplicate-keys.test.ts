// Duplicate JSON keys, through the bundled handler assets as the constructs deploy them: the
// configuration and the pinned schemas come from a synthesized template, the handler from its
// asset folder, and the peers are local (kinesalite, Secrets Manager and Step Functions stand-ins).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { LocalStepFunctions } from '../../cli/local/step-functions';
import { ParameterType, PayloadSchema, PayloadValidation, TriggerParameter, TriggerTarget, WebhookAuth, WebhookStreamSource, WebhookTrigger } from '../../lib';
import { bundledPeers, loadHandler, SynthesizedStack } from '../support/bundled-source';
import { decode, TEST_REGION } from '../support/kinesalite';
import { capturingOutput } from '../support/output';
import { apiGatewayEvent, planasonixSignature, stripeSignature } from '../support/signers';

const STRIPE_SECRET = 'whsec_duplicate_keys_0123456789abcdef';
const STRIPE_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:stripe-DupKey';
const TRIGGER_SECRET = 'planasonix-duplicate-keys-key';
const TRIGGER_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:planasonix-DupKey';
const PIPELINE_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:ExportPipeline';
const STREAM = 'stripe-duplicate-keys';

/** A Stripe source whose checkout events must have a non-negative amount; and an export trigger. */
function synthesize(outdir: string): SynthesizedStack {
  const app = new App({ outdir, context: { '@aws-cdk/core:strictCfnValidateErrors': true } });
  const stack = new Stack(app, 'DuplicateKeys', { env: { account: '111111111111', region: TEST_REGION } });
  new WebhookStreamSource(stack, 'Stripe', {
    auth: WebhookAuth.stripe(new secretsmanager.Secret(stack, 'StripeSecret')),
    payloadValidation: PayloadValidation.strictByEventType({
      'checkout.session.completed': PayloadSchema.fromObject({
        type: 'object',
        required: ['data'],
        properties: { data: { type: 'object', properties: { object: { type: 'object', required: ['amount_total'], properties: { amount_total: { type: 'integer', minimum: 0 } } } } } },
      }),
      ping: PayloadSchema.fromObject({ type: 'object' }),
    }),
  });
  new WebhookTrigger(stack, 'Export', {
    target: TriggerTarget.stateMachine(sfn.StateMachine.fromStateMachineArn(stack, 'Pipeline', PIPELINE_ARN)),
    auth: WebhookAuth.planasonix(new secretsmanager.Secret(stack, 'TriggerSecret')),
    parameters: { exportId: TriggerParameter.fromJsonPath('$.export_id', { required: true, jsonType: ParameterType.STRING }) },
  });
  app.synth();
  return SynthesizedStack.read(outdir, 'DuplicateKeys');
}

/** A function's environment, each reference to a resource whose id starts with a key of `refs` resolved to its value. */
function environment(stack: SynthesizedStack, prefix: string, refs: Record<string, string>): Record<string, string> {
  return stack.environment(prefix, (id) => {
    for (const [refPrefix, value] of Object.entries(refs)) if (id.startsWith(refPrefix) && id === stack.logicalId(stack.resources[id].Type, refPrefix)) return value;
    throw new Error(`unexpected reference ${id}`);
  });
}

describe('duplicate JSON keys through the bundled handlers', () => {
  const peers = bundledPeers({ [STRIPE_SECRET_ARN]: STRIPE_SECRET, [TRIGGER_SECRET_ARN]: TRIGGER_SECRET });
  let outdir: string;
  let stack: SynthesizedStack;

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'duplicate-keys-'));
    stack = synthesize(outdir);
    await peers.kinesis.createStream(STREAM, 1);
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('ingest: fails with 400 naming the pointer when an amount or the type is sent twice, and writes nothing', async () => {
    // GIVEN the Stripe source's bundled handler, with its pinned schemas staged beside it
    const handler = peers.load(stack.assetDir('StripeIngest'), environment(stack, 'StripeIngest', { StripeStream: STREAM, StripeSecret: STRIPE_SECRET_ARN }));
    const now = Math.floor(Date.now() / 1000);
    const send = async (body: string) => {
      const { result } = await capturingOutput(() => handler(apiGatewayEvent(body, {
        path: '/webhook',
        headers: { 'Content-Type': 'application/json', 'Stripe-Signature': stripeSignature(STRIPE_SECRET, body, now) },
      })));
      return { status: result.statusCode, message: (JSON.parse(result.body) as { message?: string }).message };
    };
    const event = (id: string, object: string, tail = '') => `{"id":"${id}","type":"checkout.session.completed","created":${now},"data":{"object":${object}}${tail}}`;

    // WHEN a signed event carries amount_total twice, -5 then 5 (JSON.parse keeps 5; a first-wins reader gets -5)
    const amountTwice = await send(event('evt_dup_amount', '{"id":"cs_1","amount_total":-5,"amount_total":5}'));
    // AND one whose type is sent twice: the checkout schema would refuse it, the second type's would not
    const typeTwice = await send(event('evt_dup_type', '{"id":"cs_2","amount_total":-5}', ',"type":"ping"'));

    // THEN both are refused with 400, naming where
    expect(amountTwice).toEqual({ status: 400, message: 'body has a duplicate key at JSON pointer /data/object/amount_total; send each key once per object' });
    expect(typeTwice).toEqual({ status: 400, message: 'body has a duplicate key at JSON pointer /type; send each key once per object' });
    // AND the same events without the repeats are judged as usual: -5 breaks the schema, 5 lands
    expect(await send(event('evt_neg', '{"id":"cs_3","amount_total":-5}'))).toEqual({ status: 400, message: expect.stringMatching(/amount_total must be >= 0/) });
    expect((await send(event('evt_ok', '{"id":"cs_4","amount_total":5}'))).status).toBe(202);
    expect((await peers.kinesis.readAll(STREAM)).map((r) => decode<{ id: string }>(r).id)).toEqual(['evt_ok']);
  });

  test('trigger: fails with 400 naming the pointer when a mapped field is sent twice, and starts no run', async () => {
    // GIVEN the trigger's bundled handler
    const steps = await LocalStepFunctions.start({ stateMachineArns: [PIPELINE_ARN] });
    try {
      const handler = loadHandler(stack.assetDir('ExportTrigger'), {
        ...environment(stack, 'ExportTrigger', { TriggerSecret: TRIGGER_SECRET_ARN }),
        AWS_ENDPOINT_URL_SFN: steps.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: peers.secretsManager.endpoint,
      }, peers.savedEnv);
      const now = Math.floor(Date.now() / 1000);
      const send = (body: string) => capturingOutput(() => handler(apiGatewayEvent(body, {
        headers: { 'Content-Type': 'application/json', 'X-Planasonix-Timestamp': String(now), 'X-Planasonix-Signature': planasonixSignature(TRIGGER_SECRET, body, now) },
      })));

      // WHEN a signed request names two exports
      const { result } = await send('{"export_id":"exp_approved","export_id":"exp_other"}');

      // THEN it is refused with 400, naming the key, and no run starts
      expect(result.statusCode).toBe(400);
      expect(JSON.parse(result.body)).toMatchObject({ error: 'MalformedPayload', message: 'body has a duplicate key at JSON pointer /export_id; send each key once per object' });
      expect(steps.calls).toHaveLength(0);
      // AND the same request with the key once starts its run
      expect((await send('{"export_id":"exp_approved"}')).result.statusCode).toBe(202);
      expect(steps.calls).toHaveLength(1);
    } finally {
      await steps.stop();
    }
  });
});
