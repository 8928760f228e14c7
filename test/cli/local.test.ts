import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { generateKeyPairSync, sign as signBytes, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { readAssembly } from '../../cli/local/assembly';
import { localClientCertificate } from '../../cli/local/client-certs';
import { clientFor } from '../../cli/local/kinesis';
import { tailStream, type TailedRecord } from '../../cli/tail';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { PLANASONIX_SCHEME, STRIPE_SCHEME } from '../../lambda/common/signature-schemes';
import { signHmac } from '../../lambda/common/signing';
import { WebhookAuth, WebhookStreamSource } from '../../lib';
import { CLI, runCli as cli } from '../support/cli';
import { LocalDynamoDb } from '../support/dynalite';
import { JwksServer, selfSignedCertificate, type TlsIdentity } from '../support/jwks-server';
import { synthesizeEveryKindOfSource } from '../support/local-app';

const ROOT = join(__dirname, '..', '..');
const JWT_ISSUER = 'https://idp.local.test/';

/** The local value of each secret (none is a real one). */
const SECRETS = {
  stripe: 'whsec_local_runner_test',
  github: 'github-local-secret',
  svix: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  segment: 'segment-local-secret',
  orders: 'orders-local-key',
  planasonix: 'planasonix-local-secret',
  partner: 'partner-token-local',
};

/** A process's output, as it arrives, and a wait for a line that matches. */
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
  async match(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = pattern.exec(this.text);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${pattern} in the output:\n${this.text}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }
}

/** True when nothing listens on the port: binding it succeeds. */
async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** A JWT signed by hand with the test IdP's key: `base64url(header).base64url(payload).base64url(signature)`. */
function signJwt(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'RS256', typ: 'JWT', kid })}.${part(claims)}`;
  return `${input}.${signBytes('sha256', Buffer.from(input), key).toString('base64url')}`;
}

let outdir: string;
let tls: TlsIdentity;
let jwks: JwksServer;
let idpKey: KeyObject;
let dynamo: LocalDynamoDb;

beforeAll(async () => {
  // GIVEN an identity provider's JWKS on HTTPS (a private CA), a DynamoDB for GitHub's dedup
  // table, and the app with every kind of source, synthesized with construct paths as `cdk synth` does
  tls = selfSignedCertificate();
  jwks = await JwksServer.start(tls);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  idpKey = privateKey;
  jwks.jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'idp-1', alg: 'RS256', use: 'sig' }] };
  dynamo = await LocalDynamoDb.start();
  outdir = mkdtempSync(join(tmpdir(), 'local-runner-'));
  synthesizeEveryKindOfSource({ outdir, jwtIssuer: JWT_ISSUER, jwksUri: jwks.jwksUri });
});

afterAll(async () => {
  await jwks.stop();
  await dynamo.stop();
  rmSync(outdir, { recursive: true, force: true });
});

describe('cdk-webhook-ingress local', () => {
  let work: string;
  let runner: ChildProcessWithoutNullStreams;
  let output: Output;
  let url: string;
  let kinesisEndpoint: string;
  let exitCode: Promise<number | null>;

  beforeAll(async () => {
    // GIVEN local values for every secret but one: one from the environment, the others from a file
    work = mkdtempSync(join(tmpdir(), 'local-runner-work-'));
    const secretsFile = join(work, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify({
      'WebhookIngressExample/StripeSigningSecret': SECRETS.stripe,
      'WebhookIngressExample/GitHubWebhookSecret': SECRETS.github,
      'WebhookIngressExample/SvixSigningSecret': SECRETS.svix,
      'WebhookIngressExample/SegmentSharedSecret': SECRETS.segment,
      'WebhookIngressExample/OrdersSigningSecret/Secret': SECRETS.orders,
      'LocalExtras/PartnerToken': SECRETS.partner,
    }));
    writeFileSync(join(work, 'idp-ca.pem'), tls.cert);
    const app = readAssembly(outdir);
    const planasonixId = app.secrets.find((s) => s.keys[0].startsWith('PlanasonixSigningSecret'))?.keys[0];
    const github = JSON.parse(app.routes.find((r) => r.path === '/github')!.environment[CONFIG_ENV_VAR]) as { dedup: { tableName: string } };
    await dynamo.createDedupTable(github.dedup.tableName);

    // WHEN the runner starts on free ports, with the DynamoDB endpoint, trusting the IdP's CA
    runner = spawn(process.execPath, [
      CLI, 'local', '--cdk-out', outdir, '--port', '0', '--kinesis-port', '0', '--secrets-file', secretsFile,
      '--endpoint', `dynamodb=${dynamo.endpoint}`, '--client-certs', join(work, 'certs'),
    ], {
      env: { ...process.env, [`CDK_WEBHOOK_INGRESS_SECRET_${planasonixId}`]: SECRETS.planasonix, NODE_EXTRA_CA_CERTS: join(work, 'idp-ca.pem') },
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
      'stream /github', 'stream /internal', 'stream /inventory', 'stream /orders', 'stream /partner', 'stream /segment',
      'stream /stripe', 'stream /svix', 'stream /unset', 'trigger /exports',
    ]);
    expect(app.streams.map((s) => s.name)).toContain('WebhookIngressExample-StripeStream550807C9');
    // The drain function is no route: only functions behind a POST method are served.
    expect(app.routes.some((r) => r.functionId.includes('Drain'))).toBe(false);
    expect(output.text).toMatch(/secret LocalExtras\/UnsetSecret has no local value: set "LocalExtras\/UnsetSecret" in --secrets-file, or the environment variable CDK_WEBHOOK_INGRESS_SECRET_UnsetSecret[0-9A-F]{8}/);
    expect(output.text).not.toMatch(/secret WebhookIngressExample\/StripeSigningSecret has no local value/);
    expect(output.text).toMatch(/mTLS client WebhookIngressExample\/InternalGateway\/MtlsClients\/InventoryService: local serial [0-9a-f]{32}; send --client-cert .*InventoryService\.pem/);
  });

  test('a signed request lands in the embedded stream, as tail reads it back', async () => {
    // GIVEN a Stripe event signed with the local secret
    const body = JSON.stringify({ id: 'evt_local_1', type: 'invoice.paid', created: 1_700_000_000, data: { object: { id: 'in_1' } } });
    const headers = signHmac(STRIPE_SCHEME, SECRETS.stripe, body, { timestamp: Math.floor(Date.now() / 1000) });

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
    const headers = signHmac(PLANASONIX_SCHEME, SECRETS.planasonix, body, { timestamp: Math.floor(Date.now() / 1000) });

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
      env: { ...process.env, STRIPE_SECRET: SECRETS.stripe },
    });
    // THEN curl's answer is the runner's 202
    expect(JSON.parse(stdout)).toMatchObject({ accepted: 1, ids: ['evt_curl'] });
  });

  test('an unknown path is 404 and lists the served paths', async () => {
    const response = await fetch(`${url}/nope`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect((await response.json() as { message: string }).message).toMatch(/\/stripe/);
  });

  test('every kind of source accepts a request that send makes as its sender would', async () => {
    // GIVEN one body per source, and a token from the IdP
    const now = Math.floor(Date.now() / 1000);
    const at = new Date().toISOString();
    const bodies: Record<string, unknown> = {
      stripe: { id: 'evt_every', type: 'invoice.paid', created: now },
      github: { ref: 'refs/heads/main' },
      svix: { type: 'invoice.paid', timestamp: at, data: {} },
      segment: { type: 'track', messageId: 'msg-every', timestamp: at, event: 'Signed Up' },
      orders: { orderId: 'ord-every', kind: 'order.created', at, account: 'acct-1' },
      exports: { export_id: 'exp-every', location: 's3://exports/every.csv' },
      inventory: { sku: 'sku-1', quantity: 3 },
      partner: { id: 'p-1' },
      internal: { id: 'i-1' },
    };
    for (const [name, body] of Object.entries(bodies)) writeFileSync(join(work, `${name}.json`), JSON.stringify(body));
    const jwt = signJwt(idpKey, 'idp-1', { iss: JWT_ISSUER, aud: 'webhooks', sub: 'billing-service', iat: now, exp: now + 300 });
    const certificate = (await output.match(/send --client-cert (\S+InventoryService\.pem)/))[1];
    const requests: [string, string[], Record<string, string>][] = [
      ['stripe', ['--scheme', 'stripe', '--secret-env', 'SECRET'], { SECRET: SECRETS.stripe }],
      ['github', ['--scheme', 'github', '--secret-env', 'SECRET', '--header', 'X-GitHub-Event: push', '--id', 'gh-every'], { SECRET: SECRETS.github }],
      ['svix', ['--scheme', 'standardWebhooks', '--secret-env', 'SECRET'], { SECRET: SECRETS.svix }],
      ['segment', ['--scheme', 'segment', '--secret-env', 'SECRET'], { SECRET: SECRETS.segment }],
      ['orders', ['--scheme', 'hmac', '--secret-env', 'SECRET', '--signature-header', 'X-Orders-Signature', '--signature-prefix', 'v1=',
        '--signed-content', '{timestamp}.{body}', '--timestamp-header', 'X-Orders-Timestamp'], { SECRET: SECRETS.orders }],
      ['exports', ['--scheme', 'planasonix', '--secret-env', 'SECRET', '--id', 'delivery-every'], { SECRET: SECRETS.planasonix }],
      ['inventory', ['--client-cert', certificate], {}],
      ['partner', ['--scheme', 'bearerToken', '--secret-env', 'SECRET'], { SECRET: SECRETS.partner }],
      ['internal', ['--scheme', 'jwt', '--secret-env', 'SECRET'], { SECRET: jwt }],
    ];

    // WHEN send posts each to its path
    const answers = await Promise.all(requests.map(async ([path, args, env]) => {
      const result = await cli(['send', `${url}/${path}`, '--body', join(work, `${path}.json`), ...args], { env });
      return [path, result.stdout.split('\n')[0], result.code, result.stdout] as const;
    }));

    // THEN each is accepted
    for (const [path, status, code, stdout] of answers) expect({ path, status, code, stdout }).toEqual({ path, status: 'HTTP 202', code: 0, stdout: expect.any(String) });
    const runs = await (await fetch(`${url}/_local/runs`)).json() as { name: string }[];
    expect(runs.map((r) => r.name)).toContain('delivery-every');
  });

  test('fails when an mTLS request presents no certificate, one of another serial or an expired one, and says what to send', async () => {
    // GIVEN a certificate with the right subject but another serial
    writeFileSync(join(work, 'stock.json'), JSON.stringify({ sku: 'sku-2', quantity: 1 }));
    writeFileSync(join(work, 'other.pem'), await localClientCertificate({ serialNumber: '1234abcd', commonName: 'InventoryService', organization: 'Example Corp', notAfter: new Date(Date.now() + 86_400_000) }));

    // ... and the right serial, expired
    const serial = (await output.match(/InventoryService: local serial ([0-9a-f]+)/))[1];
    writeFileSync(join(work, 'expired.pem'), await localClientCertificate({ serialNumber: serial, commonName: 'InventoryService', notAfter: new Date(Date.now() - 60_000), now: new Date(Date.now() - 3_600_000) }));

    // WHEN each is sent
    const [none, other, expired] = await Promise.all([[], ['--client-cert', join(work, 'other.pem')], ['--client-cert', join(work, 'expired.pem')]]
      .map((args) => cli(['send', `${url}/inventory`, '--body', join(work, 'stock.json'), ...args])));

    // THEN all are forbidden, as on the deployed domain, and the runner says how to present one
    expect(none.stdout).toMatch(/^HTTP 403$/m);
    expect(other.stdout).toMatch(/^HTTP 403\n.*revoked or was not issued for this path/m);
    expect(expired.stdout).toMatch(/^HTTP 403\n\{"message":"Forbidden"\}$/m);
    await output.match(/403 {2}POST \/inventory {2}the client certificate is not valid now/);
    await output.match(/403 {2}POST \/inventory {2}\d+ ms {2}\(no client certificate: send --client-cert <file>, which local prints for each MtlsClient\)/);
  });

  test('fails when a secret has no local value: the answer names the key to set', async () => {
    // WHEN a request reaches the source whose secret has no local value
    const response = await fetch(`${url}/unset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

    // THEN it is 503, and the body and the console name the key and the variable, not Secrets Manager
    expect(response.status).toBe(503);
    const { message } = await response.json() as { message: string };
    expect(message).toMatch(/^secret LocalExtras\/UnsetSecret has no local value: set "LocalExtras\/UnsetSecret" in --secrets-file, or the environment variable CDK_WEBHOOK_INGRESS_SECRET_UnsetSecret[0-9A-F]{8}, and restart local$/);
    expect(message).not.toMatch(/Secrets Manager/);
    await output.match(/503 {2}POST \/unset {2}secret LocalExtras\/UnsetSecret has no local value: set "LocalExtras\/UnsetSecret"/);
    // No secret value is ever printed.
    for (const value of Object.values(SECRETS)) expect(output.text).not.toContain(value);
  });

  test('shuts down cleanly on SIGINT', async () => {
    // WHEN the runner is interrupted
    runner.kill('SIGINT');

    // THEN it exits 0 with its summary, and nothing listens any more
    expect(await exitCode).toBe(0);
    expect(output.text).toMatch(/stopped \(SIGINT\); 2 run\(s\) recorded\n {2}\/exports delivery-42\n {2}\/exports delivery-every/);
    await expect(fetch(`${url}/stripe`, { method: 'POST', body: '{}' })).rejects.toThrow();
    await expect(fetch(kinesisEndpoint, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});

describe('stopping local', () => {
  let small: string;
  let work: string;
  /** Every process group a test started (negative ids), to stop whatever a failed test left running. */
  const pids: number[] = [];

  beforeAll(() => {
    // GIVEN a one-source app
    small = mkdtempSync(join(tmpdir(), 'local-small-'));
    const app = new App({ outdir: small });
    const stack = new Stack(app, 'Small');
    new WebhookStreamSource(stack, 'Stripe', { auth: WebhookAuth.stripe(new secretsmanager.Secret(stack, 'Secret')), path: 'stripe' });
    app.synth();
    work = mkdtempSync(join(tmpdir(), 'local-stop-'));
  });

  afterAll(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(small, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** Starts a command that runs `local`, and waits until it serves; returns its ports and the runner's pid. */
  async function started(command: string, args: string[], cwd?: string) {
    const child = spawn(command, [...args, 'local', '--cdk-out', small, '--port', '0', '--kinesis-port', '0'], {
      cwd,
      detached: true, // a group of its own, which afterAll can stop whole
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
    });
    pids.push(-(child.pid as number));
    const output = new Output(child);
    const [, pid, port] = await output.match(/local \(pid (\d+)\): serving on http:\/\/127\.0\.0\.1:(\d+)/, 30_000);
    const kinesisPort = (await output.match(/kinesis: http:\/\/127\.0\.0\.1:(\d+)/))[1];
    return { child, output, pid: Number(pid), ports: [Number(port), Number(kinesisPort)] };
  }

  test('SIGTERM stops the runner: it exits 0 and frees its ports', async () => {
    // GIVEN the built CLI, serving
    const { child, output, pid, ports } = await started(process.execPath, [CLI]);
    expect(pid).toBe(child.pid);
    expect(await Promise.all(ports.map(portIsFree))).toEqual([false, false]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    // WHEN it is sent SIGTERM
    child.kill('SIGTERM');

    // THEN it stops its hosts, its Kinesis and its server, and exits
    expect(await exited).toBe(0);
    expect(output.text).toMatch(/stopped \(SIGTERM\); 0 run\(s\) recorded/);
    expect(await Promise.all(ports.map(portIsFree))).toEqual([true, true]);
  });

  test('stopping the npx wrapper stops the runner and frees its ports', async () => {
    // GIVEN a project with the package installed (linked), and `npx cdk-webhook-ingress local` serving
    const project = join(work, 'project');
    mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    symlinkSync(ROOT, join(project, 'node_modules', 'cdk-webhook-ingress'), 'dir');
    symlinkSync(join('..', 'cdk-webhook-ingress', 'assets', 'cli', 'index.js'), join(project, 'node_modules', '.bin', 'cdk-webhook-ingress'));
    chmodSync(CLI, 0o755); // as npm makes a bin executable on install
    const { child, output, pid, ports } = await started('npx', ['--no-install', 'cdk-webhook-ingress'], project);
    expect(pid).not.toBe(child.pid); // npx runs it in a child process of its own

    // WHEN the wrapper (not the runner) is sent SIGTERM, as a supervisor or a test harness does
    child.kill('SIGTERM');

    // THEN the runner notices, stops, and frees its ports
    expect(await eventually(() => !isAlive(pid))).toBe(true);
    expect(await Promise.all(ports.map(portIsFree))).toEqual([true, true]);
    expect(output.text).toMatch(/stopped \(the parent process exited\)/);
  });
});

describe("the README's local loop", () => {
  test('its four commands start the runner, sign, send, and show the record', async () => {
    // GIVEN the README's block: set-up lines, then the four commands
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
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
      'for i in $(seq 1 300); do grep -q "runs: GET" local.log && break; sleep 0.2; done',
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
