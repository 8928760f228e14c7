import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildRecords } from '../lambda/shared/envelope';
import { fromApiGatewayEvent } from '../lambda/shared/http';
import { parseBody } from '../lambda/shared/parse';
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { WebhookAuth } from '../lib';
import { ingestConfig } from './support/presets';
import { apiGatewayEvent } from './support/signers';

const root = join(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The fenced block that follows an HTML comment marker in the README. */
function blockAfter(marker: string): string {
  const at = readme.indexOf(`<!-- ${marker}`);
  expect(at).toBeGreaterThanOrEqual(0);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  return match![1];
}

const normalize = (code: string) => code.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('\n');

const snippets = [...readme.matchAll(/<!-- snippet:([a-z-]+) \(from bin\/example-app.ts\) -->/g)].map((m) => m[1]);

test('the README shows the example app', () => {
  expect(snippets).toEqual(expect.arrayContaining(['gateway', 'sender', 'mtls', 'stripe', 'github', 'orders']));
});

test.each(snippets)('the README %s snippet is code the example app compiles and runs', (name) => {
  const app = normalize(readFileSync(join(root, 'bin', 'example-app.ts'), 'utf8'));
  expect(app).toContain(normalize(blockAfter(`snippet:${name}`)));
});

test('every CDK expression in the README scheme table builds a valid scheme', () => {
  const table = readme.slice(readme.indexOf('<!-- auth-table -->'), readme.indexOf('```bash', readme.indexOf('<!-- auth-table -->')));
  const expressions = [...table.matchAll(/^\| [^|]+ \| `(WebhookAuth\.[^`]+)` \|/gm)].map((m) => m[1]);
  expect(expressions.length).toBe(13);
  const stack = new Stack(new App(), 'Readme');
  const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'Secret', 'readme');
  for (const expression of expressions) {
    // The expressions are plain JavaScript calls with `secret` in scope.
    const auth = new Function('WebhookAuth', 'secret', `return ${expression};`)(WebhookAuth, secret) as WebhookAuth;
    expect(() => auth._bind(`README ${expression}`)).not.toThrow();
  }
});

test('the README Stripe record is what the handler builds for the README curl body', async () => {
  // GIVEN the body the README's signed curl call sends
  const body = /echo '(\{.*\})' > event\.json/.exec(blockAfter('stripe:send'))![1];
  const shown = JSON.parse(blockAfter('record:stripe')) as Record<string, unknown>;
  const request = fromApiGatewayEvent(apiGatewayEvent(body, {
    headers: { 'Content-Type': 'application/json', 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
    requestTimeEpoch: Date.parse(String(shown.receivedAt)),
  }), 0);
  const config = ingestConfig((s) => WebhookAuth.stripe(s), { source: 'Stripe' });
  // WHEN the handler wraps it
  const { records } = await buildRecords(config, request, parseBody(request, 10), String(shown.correlationId));
  // THEN the record is exactly the one shown, with the partition key the README names
  expect(records).toHaveLength(1);
  expect(JSON.parse(records[0].data.toString('utf8'))).toEqual(shown);
  expect(readme).toContain(`partition key \`${records[0].partitionKey}\``);
});

test('the README form record is what the handler builds for the README form request', async () => {
  const block = blockAfter('record:form');
  const at = readme.indexOf('<!-- record:form -->');
  const shown = JSON.parse(/```json\n([\s\S]*?)```/.exec(readme.slice(at))![1]) as Record<string, unknown>;
  const body = /--data '([^']+)'/.exec(block)![1];
  const request = fromApiGatewayEvent(apiGatewayEvent(body, {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'I-Twilio-Idempotency-Token': '7e6d0a0e-2f3b-4b7a-9d7c-3f0c1e2a4b5d' },
    requestTimeEpoch: Date.parse(String(shown.receivedAt)),
  }), 0);
  const config = ingestConfig((s) => WebhookAuth.twilio(s), { source: 'Twilio', headerAllowlist: ['i-twilio-idempotency-token'] });
  const { records } = await buildRecords(config, request, parseBody(request, 10), String(shown.correlationId));
  expect(JSON.parse(records[0].data.toString('utf8'))).toEqual(shown);
});

test('the README orders record is what the handler builds for the README batch', async () => {
  const shown = JSON.parse(blockAfter('record:orders')) as Record<string, unknown>;
  const body = /BODY='(\[[\s\S]*?\])'/.exec(readme)![1];
  const request = fromApiGatewayEvent(apiGatewayEvent(body, {
    headers: { 'Content-Type': 'application/json' },
    requestTimeEpoch: Date.parse(String(shown.receivedAt)),
  }), 0);
  const config = ingestConfig((s) => WebhookAuth.hmac({ secret: s, signatureHeader: 'X-Orders-Signature' }), {
    source: 'Orders',
    metadata: { id: { jsonPointer: '/orderId' }, type: { jsonPointer: '/kind' }, timestamp: { jsonPointer: '/at' } },
    partitionKey: { jsonPointer: '/account' },
  });
  const { records } = await buildRecords(config, request, parseBody(request, 10), String(shown.correlationId));
  expect(records.map((r) => r.partitionKey)).toEqual(['acct-7', 'acct-7']);
  expect(JSON.parse(records[0].data.toString('utf8'))).toEqual(shown);
  expect(readme).toContain(`partition key \`${records[0].partitionKey}\``);
});
