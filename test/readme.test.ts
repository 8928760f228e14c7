import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ts from 'typescript';
import { buildRecords } from '../lambda/ingest/envelope';
import { fromApiGatewayEvent } from '../lambda/common/http';
import { parseBody } from '../lambda/common/parse';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { WebhookAuth } from '../lib';
import { ingestConfig } from './support/presets';
import { blockAfter as readmeBlockAfter, freshStack as freshReadmeStack, READER_VALUES, readReadme, snippetNames } from './support/readme';
import { apiGatewayEvent } from './support/signers';

const root = join(__dirname, '..');
const readme = readReadme(root);

/** The fenced block that follows an HTML comment marker in the README. */
const blockAfter = (marker: string): string => readmeBlockAfter(readme, marker);

const normalize = (code: string) => code.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('\n');

const snippets = snippetNames(readme);

test('the README shows the example app', () => {
  expect(snippets).toEqual(expect.arrayContaining(['gateway', 'sender', 'mtls', 'stripe', 'consumer', 'github', 'orders', 'pipeline', 'trigger']));
});

test('every TypeScript block of the README is a checked snippet', () => {
  // GIVEN every ts block, and the marker line right above it
  const blocks = [...readme.matchAll(/(?:^|\n)([^\n]*)\n```ts\n/g)].map((m) => m[1]);
  // THEN each is the app's stack, or a snippet of the example app (checked below)
  expect(blocks.length).toBe(snippets.length + 1);
  for (const marker of blocks) expect(marker).toMatch(/^<!-- snippet:(app \(the stack the snippets go in\)|[a-z-]+ \(from bin\/example-app.ts\)) -->$/);
});

test('the schema the Stripe snippet pins is shown in the README, as the example app has it', () => {
  const shown = JSON.parse(blockAfter('schema:stripe-checkout-session-completed.json')) as unknown;
  expect(shown).toEqual(JSON.parse(readFileSync(join(root, 'bin', 'schemas', 'stripe-checkout-session-completed.json'), 'utf8')));
  expect(blockAfter('snippet:stripe')).toContain("path.join(__dirname, 'schemas', 'stripe-checkout-session-completed.json')");
});

describe('the README\'s snippets in a fresh app', () => {
  const yours = READER_VALUES;
  const freshStack = (): string => freshReadmeStack(readme);

  test('what a snippet takes from the reader, it says so where it uses it', () => {
    for (const name of Object.keys(yours)) {
      const users = snippets.filter((snippet) => new RegExp(`\\b${name}\\b`).test(blockAfter(`snippet:${snippet} (`)));
      expect(users.length).toBeGreaterThan(0);
      for (const snippet of users) expect(blockAfter(`snippet:${snippet} (`)).toMatch(new RegExp(`^// .*\\b${name}\\b.*: your`, 'm'));
    }
  });

  test('type-check as one stack, importing the package by its name', () => {
    // GIVEN the stack a reader builds from the README, in a file of a fresh app
    const file = join(root, 'readme-fresh-app.ts');
    const source = freshStack();
    const options: ts.CompilerOptions = {
      strict: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
      baseUrl: root,
      // The package, as `npm install cdk-webhook-ingress` would resolve it.
      paths: { 'cdk-webhook-ingress': ['lib/index.ts'] },
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === file || fileExists(name);
    // WHEN it is compiled
    const program = ts.createProgram([file], options, host);
    const sourceFile = program.getSourceFile(file)!;
    const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)]
      .map((d) => `${d.start === undefined ? '' : `line ${sourceFile.getLineAndCharacterOfPosition(d.start).line + 1}: `}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    // THEN nothing is missing or mistyped
    expect(diagnostics).toEqual([]);
  }, 180_000);

  test('synthesize, with the schema file the README shows beside the stack', () => {
    // GIVEN the stack, as JavaScript, in a folder with the schema next to it
    const dir = mkdtempSync(join(tmpdir(), 'readme-app-'));
    mkdirSync(join(dir, 'schemas'));
    writeFileSync(join(dir, 'schemas', 'stripe-checkout-session-completed.json'), blockAfter('schema:stripe-checkout-session-completed.json'));
    const js = ts.transpileModule(freshStack(), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    const module = { exports: {} as Record<string, unknown> };
    const load = (id: string): unknown => (id === 'cdk-webhook-ingress' ? require('../lib') : require(id));
    new Function('require', 'module', 'exports', '__dirname', '__filename', js)(load, module, module.exports, dir, join(dir, 'webhooks-stack.js'));
    const WebhooksStack = module.exports.WebhooksStack as new (scope: App, id: string, props?: object) => Stack;
    // WHEN it is synthesized, the template checked against the CloudFormation schema
    const app = new App({ context: { '@aws-cdk/core:strictCfnValidateErrors': true }, outdir: join(dir, 'cdk.out') });
    const stack = new WebhooksStack(app, 'Webhooks', { env: { account: '111111111111', region: 'eu-west-1' } });
    app.synth();
    // THEN every source and trigger is there, each with its URL among the outputs
    const outputs = Object.keys(Template.fromStack(stack).toJSON().Outputs as Record<string, unknown>);
    expect(outputs).toEqual(expect.arrayContaining([
      'StripeWebhookUrl', 'GitHubWebhookUrl', 'SvixWebhookUrl', 'OrdersWebhookUrl', 'SegmentWebhookUrl', 'ExportTriggerUrl', 'InventoryWebhookUrl',
    ]));
  }, 180_000);
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
