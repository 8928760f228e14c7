import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { buildExampleApp } from '../../bin/example-app';
import { readAssembly } from '../../cli/local/assembly';
import { clientFor } from '../../cli/local/kinesis';
import { tailStream, type TailedRecord } from '../../cli/tail';
import { signHmac } from '../../lambda/shared/signing';
import { PLANASONIX_SCHEME, STRIPE_SCHEME } from '../../lambda/shared/signature-schemes';

const CLI = join(__dirname, '..', '..', 'assets', 'cli', 'index.js');
const STRIPE_SECRET = 'whsec_local_runner_test';
const PLANASONIX_SECRET = 'planasonix-local-secret';

/** The runner's output, as it arrives, and a wait for a line that matches. */
class Output {
  text = '';
  private waiters: (() => void)[] = [];
  constructor(child: ChildProcessWithoutNullStreams) {
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        this.text += chunk.toString();
        for (const wake of this.waiters.splice(0)) wake();
      });
    }
  }
  async match(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = pattern.exec(this.text);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${pattern} in the runner's output:\n${this.text}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }
}

let outdir: string;

beforeAll(() => {
  // The example app, synthesized, with construct paths in the template as `cdk synth` writes them.
  outdir = mkdtempSync(join(tmpdir(), 'local-runner-'));
  const app = new App({ outdir, context: { 'aws:cdk:enable-path-metadata': true } });
  buildExampleApp(app);
  app.synth();
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('cdk-webhook-ingress local', () => {
  let work: string;
  let runner: ChildProcessWithoutNullStreams;
  let output: Output;
  let url: string;
  let kinesisEndpoint: string;
  let exitCode: Promise<number | null>;

  beforeAll(async () => {
    // GIVEN local values for two of the example app's secrets
    work = mkdtempSync(join(tmpdir(), 'local-runner-work-'));
    const secretsFile = join(work, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify({ 'WebhookIngressExample/StripeSigningSecret': STRIPE_SECRET }));

    // WHEN the runner starts on free ports (one secret from the file, one from the environment)
    const planasonixId = readAssembly(outdir).secrets.find((s) => s.keys[0].startsWith('PlanasonixSigningSecret'))?.keys[0];
    runner = spawn(process.execPath, [CLI, 'local', '--cdk-out', outdir, '--port', '0', '--kinesis-port', '0', '--secrets-file', secretsFile], {
      env: { ...process.env, [`CDK_WEBHOOK_INGRESS_SECRET_${planasonixId}`]: PLANASONIX_SECRET },
    });
    output = new Output(runner);
    exitCode = new Promise((resolve) => runner.on('exit', (code) => resolve(code)));
    url = (await output.match(/serving on (http:\/\/127\.0\.0\.1:\d+)/))[1];
    kinesisEndpoint = (await output.match(/kinesis: (http:\/\/127\.0\.0\.1:\d+)/))[1];
  });

  afterAll(async () => {
    if (runner.exitCode === null) runner.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  test('reads every stream source and trigger path of the assembly', () => {
    const app = readAssembly(outdir);
    expect(app.routes.map((r) => `${r.kind} ${r.path}`).sort()).toEqual([
      'stream /github', 'stream /orders', 'stream /segment', 'stream /stripe', 'stream /svix', 'trigger /exports',
    ]);
    expect(app.streams.map((s) => s.name)).toContain('WebhookIngressExample-StripeStream550807C9');
    // The drain function is no route: only functions behind a POST method are served.
    expect(app.routes.some((r) => r.functionId.includes('Drain'))).toBe(false);
    expect(output.text).toMatch(/secret WebhookIngressExample\/GitHubWebhookSecret has no local value/);
    expect(output.text).not.toMatch(/secret WebhookIngressExample\/StripeSigningSecret has no local value/);
  });

  test('a signed request lands in the embedded stream, as tail reads it back', async () => {
    // GIVEN a Stripe event signed with the local secret
    const body = JSON.stringify({ id: 'evt_local_1', type: 'invoice.paid', created: 1_700_000_000, data: { object: { id: 'in_1' } } });
    const headers = signHmac(STRIPE_SCHEME, STRIPE_SECRET, body, { timestamp: Math.floor(Date.now() / 1000) });

    // WHEN it is posted to the runner
    const response = await fetch(`${url}/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

    // THEN it is acknowledged, and `tail`'s code reads the envelope from the stream
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 1, ids: ['evt_local_1'] });
    const records: TailedRecord[] = [];
    const client = clientFor(kinesisEndpoint);
    await tailStream(client, { stream: 'WebhookIngressExample-StripeStream550807C9', fromStart: true, limit: 1, pollMs: 50, onRecord: (r) => records.push(r) });
    client.destroy();
    expect(records).toHaveLength(1);
    expect(records[0].partitionKey).toBe('evt_local_1');
    expect(records[0].data).toMatchObject({ id: 'evt_local_1', type: 'invoice.paid', source: 'Stripe', payload: { id: 'evt_local_1' } });
  });

  test('the tail command prints the record as a JSON line', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'tail', 'WebhookIngressExample-StripeStream550807C9', '--endpoint', kinesisEndpoint, '--from-start', '--limit', '1']);
    const line = JSON.parse(stdout.trim()) as TailedRecord;
    expect(line).toMatchObject({ stream: 'WebhookIngressExample-StripeStream550807C9', partitionKey: 'evt_local_1', data: { id: 'evt_local_1' } });
  });

  test('a wrong signature is refused with 401 and writes nothing', async () => {
    const body = JSON.stringify({ id: 'evt_forged', type: 'invoice.paid', created: 1_700_000_000 });
    const headers = signHmac(STRIPE_SCHEME, 'whsec_wrong', body, { timestamp: Math.floor(Date.now() / 1000) });
    const response = await fetch(`${url}/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect(response.status).toBe(401);
    const records: TailedRecord[] = [];
    const client = clientFor(kinesisEndpoint);
    const stop = AbortSignal.timeout(1_000);
    await tailStream(client, { stream: 'WebhookIngressExample-StripeStream550807C9', fromStart: true, pollMs: 50, signal: stop, onRecord: (r) => records.push(r) });
    client.destroy();
    expect(records.map((r) => r.partitionKey)).toEqual(['evt_local_1']);
  });

  test('a trigger request records a run with its correlation id and input', async () => {
    // GIVEN a Planasonix-signed export request with a delivery id
    const body = JSON.stringify({ export_id: 'exp-42', location: 's3://exports/42.csv' });
    const headers = signHmac(PLANASONIX_SCHEME, PLANASONIX_SECRET, body, { timestamp: Math.floor(Date.now() / 1000) });

    // WHEN it is posted twice, as a retried delivery is
    const send = () => fetch(`${url}/exports`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-planasonix-delivery': 'delivery-42', ...headers }, body });
    const first = await send();
    const second = await send();

    // THEN one run is recorded, listed and printed, named by the correlation id
    expect(first.status).toBe(202);
    const answer = await first.json() as { correlationId: string; executionArn: string };
    expect(answer.correlationId).toBe('delivery-42');
    expect((await second.json() as { executionArn: string }).executionArn).toBe(answer.executionArn);
    const runs = await (await fetch(`${url}/_local/runs`)).json() as { name: string; path: string; input: string; executionArn: string }[];
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ name: 'delivery-42', path: '/exports', executionArn: answer.executionArn });
    expect(JSON.parse(runs[0].input)).toMatchObject({ parameters: { exportId: 'exp-42', location: 's3://exports/42.csv' }, correlationId: 'delivery-42' });
    await output.match(/run started {2}\/exports {2}delivery-42/);
  });

  test("sign's curl command, run by a shell, is accepted", async () => {
    // GIVEN the README's way to test a deployed source: sign --format curl | sh
    writeFileSync(join(work, 'event.json'), JSON.stringify({ id: 'evt_curl', type: 'invoice.paid', created: 1_700_000_000 }));
    const { stdout } = await promisify(execFile)('bash', ['-c', `"${process.execPath}" "${CLI}" sign --scheme stripe --secret-env STRIPE_SECRET --body event.json --url "${url}/stripe" --format curl | sh`], {
      cwd: work,
      env: { ...process.env, STRIPE_SECRET },
    });
    // THEN curl's answer is the runner's 202
    expect(JSON.parse(stdout)).toMatchObject({ accepted: 1, ids: ['evt_curl'] });
  });

  test('an unknown path is 404 and lists the served paths', async () => {
    const response = await fetch(`${url}/nope`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect((await response.json() as { message: string }).message).toMatch(/\/stripe/);
  });

  test('shuts down cleanly on SIGINT', async () => {
    // WHEN the runner is interrupted
    runner.kill('SIGINT');

    // THEN it exits 0 with its summary, and nothing listens any more
    expect(await exitCode).toBe(0);
    expect(output.text).toMatch(/stopped; 1 run\(s\) recorded\n {2}\/exports delivery-42/);
    await expect(fetch(`${url}/stripe`, { method: 'POST', body: '{}' })).rejects.toThrow();
    await expect(fetch(kinesisEndpoint, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});

describe("the README's local loop", () => {
  test('its four commands start the runner, sign, send, and show the record', async () => {
    // GIVEN the README's block: set-up lines, then the four commands
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const block = /<!-- local:loop -->\n```bash\n([\s\S]*?)```/.exec(readme)![1];
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const setup = lines.filter((l) => !l.startsWith('npx '));
    const [local, sign, send, tail] = lines.filter((l) => l.startsWith('npx cdk-webhook-ingress ')).map((l) => l.replace('npx cdk-webhook-ingress', `"${process.execPath}" "${CLI}"`));
    expect([local, sign, send, tail].map((c) => c.split(' ')[2])).toEqual(['local', 'sign', 'send', 'tail']);

    // WHEN they run in a shell, the runner on free ports, in the background as in its own terminal
    const script = [
      'set -euo pipefail',
      ...setup,
      `${local.replace('--cdk-out cdk.out', `--cdk-out "${outdir}"`)} --port 0 --kinesis-port 0 > local.log 2>&1 &`,
      'for i in $(seq 1 150); do grep -q "runs: GET" local.log && break; sleep 0.2; done',
      'URL=$(grep -o "serving on http://[0-9.:]*" local.log | cut -d" " -f3)',
      'KINESIS=$(grep -o "kinesis: http://[0-9.:]*" local.log | cut -d" " -f2)',
      `echo "--- sign"; ${sign}`,
      `echo "--- send"; ${send.replace('http://127.0.0.1:3000', '$URL')}`,
      `echo "--- tail"; ${tail} --endpoint "$KINESIS"`,
      'kill -INT %1; wait %1',
    ].join('\n');
    const cwd = mkdtempSync(join(tmpdir(), 'readme-loop-'));
    try {
      const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd });
      // THEN sign printed a Stripe signature, send was accepted, and tail shows the envelope
      const [, signed, sent, tailed] = stdout.split(/^--- \w+$/m);
      expect(signed).toMatch(/^stripe-signature: t=\d+,v1=[0-9a-f]{64}$/m);
      expect(sent).toMatch(/^HTTP 202$/m);
      expect(sent).toContain('"ids":["evt_1"]');
      expect(JSON.parse(tailed.trim())).toMatchObject({ partitionKey: 'evt_1', data: { id: 'evt_1', type: 'invoice.paid', source: 'Stripe' } });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
