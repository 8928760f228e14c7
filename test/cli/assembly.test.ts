import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { readAssembly, synthesize } from '../../cli/local/assembly';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { parseIngestConfig } from '../../lambda/ingest/config';
import { WebhookAuth, WebhookGateway, WebhookStreamSource } from '../../lib';

describe('local runner: reading an app', () => {
  const root = join(__dirname, '..', '..');

  test("synthesizes the app of a folder's cdk.json, as the CDK CLI does, and finds its paths", async () => {
    // GIVEN this repository, whose cdk.json runs the example app
    // WHEN it is synthesized without the CDK CLI
    const outdir = await synthesize(root);
    try {
      const app = readAssembly(outdir);

      // THEN every path is found, with its handler's code and a configuration whose references
      // resolve to local names: stream names, and ARNs in the local account
      expect(app.routes.map((r) => r.path).sort()).toEqual(['/exports', '/github', '/orders', '/segment', '/stripe', '/svix']);
      const stripe = app.routes.find((r) => r.path === '/stripe')!;
      expect(stripe.constructPath).toBe('WebhookIngressExample/Stripe/Ingest/Resource');
      const config = JSON.parse(stripe.environment[CONFIG_ENV_VAR]) as { streamName: string; auth: { secretArn: string } };
      expect(config.streamName).toBe('WebhookIngressExample-StripeStream550807C9');
      expect(config.auth.secretArn).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:StripeSigningSecret[0-9A-F]{8}-local$/);
      expect(app.secrets.find((s) => s.arn === config.auth.secretArn)?.keys).toEqual([
        expect.stringMatching(/^StripeSigningSecret/), 'WebhookIngressExample/StripeSigningSecret', 'WebhookIngressExample/StripeSigningSecret/Resource',
      ]);
      expect(stripe.secretArns).toEqual([config.auth.secretArn]);
      const exports = app.routes.find((r) => r.path === '/exports')!;
      expect(exports.kind).toBe('trigger');
      expect(app.stateMachineArns).toEqual([expect.stringMatching(/^arn:aws:states:us-east-1:000000000000:stateMachine:ExportPipeline/)]);
      // The GitHub source's spill queue and dedup table have no stand-in, and are reported.
      expect(app.unemulated).toEqual(expect.arrayContaining(['AWS::SQS::Queue', 'AWS::DynamoDB::Table']));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('fails when the folder has no cdk.json', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-app-'));
    try {
      await expect(synthesize(empty)).rejects.toThrow(/no cdk\.json in .*: run local in your CDK app's folder, or pass --cdk-out <dir>/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("fails when the app does not compile, with the compiler's diagnostics", async () => {
    // GIVEN an app command that fails as tsc (diagnostics on stdout) and ts-node (on stderr) do
    const dir = mkdtempSync(join(tmpdir(), 'broken-app-'));
    const fail = [
      "console.log('bin/app.ts(3,7): error TS2322: Type \\'number\\' is not assignable to type \\'string\\'.')",
      "console.error('TSError: \u2a2f Unable to compile TypeScript')",
      'process.exit(1)',
    ].join(';');
    writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: `node -e "${fail}"` }));
    try {
      // WHEN it is synthesized, THEN the error says so and carries both
      const error = await synthesize(dir).then(() => undefined, (e: Error) => e);
      expect(error?.message).toMatch(/^the app did not synthesize: 'node -e .*' exited with code 1:\n/);
      expect(error?.message).toContain("bin/app.ts(3,7): error TS2322: Type 'number' is not assignable to type 'string'.");
      expect(error?.message).toContain('TSError: \u2a2f Unable to compile TypeScript');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('passes the context the command line gives, over cdk.json\'s, as cdk synth -c does', async () => {
    // GIVEN an app command that keeps the context it was given
    const dir = mkdtempSync(join(tmpdir(), 'context-app-'));
    writeFileSync(join(dir, 'cdk.json'), JSON.stringify({
      app: `node -e "require('fs').writeFileSync('context.json', process.env.CDK_CONTEXT_JSON); process.exit(1)"`,
      context: { domainName: 'from-cdk-json', stage: 'dev' },
    }));
    try {
      // WHEN it is synthesized with context values
      await expect(synthesize(dir, { context: { domainName: 'hooks.example.com', certificateArn: 'arn:aws:acm:x' } })).rejects.toThrow(/did not synthesize/);

      // THEN it saw them, with cdk.json's others and the construct paths the runner reads
      expect(JSON.parse(readFileSync(join(dir, 'context.json'), 'utf8'))).toEqual({
        'aws:cdk:enable-path-metadata': true, domainName: 'hooks.example.com', certificateArn: 'arn:aws:acm:x', stage: 'dev',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fails when the folder is not a cloud assembly', () => {
    expect(() => readAssembly(tmpdir())).toThrow(/is not a cloud assembly: no manifest\.json/);
  });
});

describe('local runner: deploy-time attributes', () => {
  let outdir: string;
  const clientSecretPath = 'Internal/Gateway/MtlsClients/Billing/Secret';

  beforeAll(() => {
    // GIVEN an app with a managed mTLS client, whose serial number only a deployment knows
    outdir = mkdtempSync(join(tmpdir(), 'mtls-app-'));
    const app = new App({ outdir, context: { 'aws:cdk:enable-path-metadata': true } });
    const stack = new Stack(app, 'Internal');
    const gateway = new WebhookGateway(stack, 'Gateway', {
      domain: {
        domainName: 'hooks.example.com',
        certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', 'arn:aws:acm:us-east-1:111111111111:certificate/11111111-2222-3333-4444-555555555555'),
        mtls: { managedCa: { commonName: 'Test CA' } },
      },
    });
    const billing = gateway.addMtlsClient('Billing', { organization: 'Example Corp', validity: Duration.days(90) });
    new WebhookStreamSource(stack, 'Invoices', { auth: WebhookAuth.mtls({ clients: [billing] }), gateway, path: 'invoices' });
    // A JWT source whose issuer is a user pool's provider URL: another deploy-time value.
    const pool = new cognito.UserPool(stack, 'Pool');
    new WebhookStreamSource(stack, 'Staff', { auth: WebhookAuth.jwt({ issuer: pool.userPoolProviderUrl, audience: ['webhooks'] }), path: 'staff' });
    app.synth();
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const serialsOf = (app: ReturnType<typeof readAssembly>) => {
    const config = parseIngestConfig(app.routes.find((r) => r.path === '/invoices')!.environment[CONFIG_ENV_VAR]);
    return config.auth.kind === 'mtls' ? config.auth.allowedSerialNumbers : undefined;
  };

  test("a managed client's serial resolves to a stable local one that the handler's configuration accepts", () => {
    // WHEN the assembly is read twice
    const first = readAssembly(outdir);
    const second = readAssembly(outdir);

    // THEN the configuration validates, and names the client's local serial, the same each time
    const client = first.mtlsClients?.[0];
    expect(client).toMatchObject({
      constructPath: 'Internal/Gateway/MtlsClients/Billing',
      commonName: 'Billing',
      organization: 'Example Corp',
      subject: 'CN=Billing,O=Example Corp',
      serialFrom: 'derived',
    });
    expect(client?.serialNumber).toMatch(/^[1-7][0-9a-f]{31}$/);
    expect(serialsOf(first)).toEqual([client?.serialNumber]);
    expect(serialsOf(second)).toEqual([client?.serialNumber]);
    expect(first.routes.find((r) => r.path === '/invoices')?.authKind).toBe('mtls');
    expect(client?.secretKeys).toEqual([expect.stringMatching(/^GatewayMtlsClientsBillingSecret/), clientSecretPath, `${clientSecretPath}/Resource`]);
  });

  test('a URL attribute of a resource with no stand-in resolves to an https URL, which a JWT configuration needs', () => {
    const staff = readAssembly(outdir).routes.find((r) => r.path === '/staff')!;
    const config = parseIngestConfig(staff.environment[CONFIG_ENV_VAR]);
    expect(config.auth).toMatchObject({ kind: 'jwt', issuer: expect.stringMatching(/^https:\/\/local-pool[0-9a-z]+\.local\.invalid$/) });
    expect(config.auth.kind === 'jwt' && new URL(config.auth.jwksUri).protocol).toBe('https:');
  });

  test("a local value of the client's secret supplies its deployed serial", () => {
    // GIVEN the secret's JSON as Secrets Manager holds it (a serial in API Gateway's colon form)
    const value = JSON.stringify({ certificate: '-----BEGIN CERTIFICATE-----...', serialNumber: '0A:1B:2C:3D', notAfter: '2027-01-01T00:00:00.000Z' });

    // WHEN the assembly is read with it
    const app = readAssembly(outdir, { secretValues: { [clientSecretPath]: value } });

    // THEN its serial, normalized, is the one the source accepts
    expect(app.mtlsClients?.[0]).toMatchObject({ serialNumber: 'a1b2c3d', notAfter: '2027-01-01T00:00:00.000Z', serialFrom: 'secret' });
    expect(serialsOf(app)).toEqual(['a1b2c3d']);
  });

  test("fails when the client's local value is not its secret's JSON", () => {
    expect(() => readAssembly(outdir, { secretValues: { [clientSecretPath]: 'not json' } }))
      .toThrow(/the local value of Internal\/Gateway\/MtlsClients\/Billing\/Secret must be the JSON its secret holds/);
  });
});
