import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAssembly, synthesize } from '../../cli/local/assembly';
import { CONFIG_ENV_VAR } from '../../lambda/shared/config';

describe('local runner: reading an app', () => {
  const root = join(__dirname, '..', '..');

  test("synthesizes the app of a folder's cdk.json, as the CDK CLI does, and finds its paths", () => {
    // GIVEN this repository, whose cdk.json runs the example app
    // WHEN it is synthesized without the CDK CLI
    const outdir = synthesize(root);
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
      const exports = app.routes.find((r) => r.path === '/exports')!;
      expect(exports.kind).toBe('trigger');
      expect(app.stateMachineArns).toEqual([expect.stringMatching(/^arn:aws:states:us-east-1:000000000000:stateMachine:ExportPipeline/)]);
      // The GitHub source's spill queue and dedup table have no stand-in, and are reported.
      expect(app.unemulated).toEqual(expect.arrayContaining(['AWS::SQS::Queue', 'AWS::DynamoDB::Table']));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('fails when the folder has no cdk.json, or the app command fails', () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-app-'));
    try {
      expect(() => synthesize(empty)).toThrow(/no cdk\.json in .*: pass --cdk-out <dir>/);
      writeFileSync(join(empty, 'cdk.json'), JSON.stringify({ app: 'node -e "process.exit(3)"' }));
      expect(() => synthesize(empty)).toThrow(/Command failed/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('fails when the folder is not a cloud assembly', () => {
    expect(() => readAssembly(tmpdir())).toThrow(/is not a cloud assembly: no manifest\.json/);
  });
});
