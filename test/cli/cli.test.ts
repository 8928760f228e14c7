import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayClientCert } from '../../cli/client-cert';
import { localClientCertificate } from '../../cli/local/client-certs';
import { runCli } from '../support/cli';
import { closedPort } from '../support/ports';

const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/** Runs the bundled command, the package's bin, with `env` over the test's environment. */
const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli(args, { env, timeoutMs: 30_000 });

let dir: string;
let bodyFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cli-'));
  bodyFile = join(dir, 'body.json');
  writeFileSync(bodyFile, '{"id":"evt_1"}');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('help and version', () => {
  test.each(['local', 'tail', 'sign', 'send'])('%s --help and -h print the command\'s usage and exit 0', async (command) => {
    // WHEN help is asked for, even after other options
    const results = await Promise.all(['--help', '-h'].map((flag) => cli([command, '--port', '1', flag])));

    // THEN that command's usage is printed, and nothing else runs
    for (const { stdout, stderr, code } of results) {
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toMatch(new RegExp(`^Usage: cdk-webhook-ingress ${command}\\b`));
      expect(stdout).toMatch(/-h, --help/);
    }
  });

  test('--version, -v and version print the package version and exit 0', async () => {
    const results = await Promise.all([['--version'], ['-v'], ['version']].map((args) => cli(args)));
    expect(results.map((r) => [r.code, r.stdout.trim()])).toEqual([[0, VERSION], [0, VERSION], [0, VERSION]]);
  });

  test('help lists every command and its options; help <command> one', async () => {
    const all = await cli(['help']);
    expect(all.code).toBe(0);
    for (const command of ['local', 'tail', 'sign', 'send']) expect(all.stdout).toContain(`Usage: cdk-webhook-ingress ${command}`);
    const one = await cli(['help', 'tail']);
    expect(one.stdout).toMatch(/^Usage: cdk-webhook-ingress tail <stream>/);
    expect(one.stdout).not.toContain('Usage: cdk-webhook-ingress sign');
  });

  test('fails when an option is unknown, pointing at the command\'s help', async () => {
    const { stderr, code } = await cli(['sign', '--bogus']);
    expect(code).toBe(2);
    expect(stderr).toBe("cdk-webhook-ingress sign: Unknown option '--bogus'\nRun 'cdk-webhook-ingress sign --help' for usage.\n");
  });
});

describe('errors with a next step', () => {
  test('fails when tail finds nothing listening: start local, or pass --endpoint', async () => {
    // GIVEN no runner on the default port, nor on another
    const port = await closedPort();
    const atDefault = await cli(['tail', 'SomeStream']);
    const atOther = await cli(['tail', 'SomeStream', '--endpoint', `http://127.0.0.1:${port}`]);

    // THEN one line each says so and what to do
    for (const [result, where] of [[atDefault, 'http://127.0.0.1:4567'], [atOther, `http://127.0.0.1:${port}`]] as const) {
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`cdk-webhook-ingress tail: nothing is listening at ${where} (connection refused): start 'cdk-webhook-ingress local' first (its Kinesis listens on port 4567), or pass --endpoint <url> (--aws for a stream in AWS)\n`);
    }
  });

  test('fails when send finds nothing listening: start local, not "fetch failed"', async () => {
    const port = await closedPort();
    const { stderr, code } = await cli(['send', `http://127.0.0.1:${port}/stripe`, '--scheme', 'stripe', '--secret-env', 'S', '--body', bodyFile], { S: 'whsec_x' });
    expect(code).toBe(1);
    expect(stderr).toBe(`cdk-webhook-ingress send: nothing is listening at http://127.0.0.1:${port} (connection refused): start 'cdk-webhook-ingress local' first (it prints the URL it serves), or check the URL\n`);
    expect(stderr).not.toMatch(/fetch failed/);
  });

  test('fails when send has no URL, or not an http one', async () => {
    const none = await cli(['send', '--scheme', 'stripe', '--secret-env', 'S', '--body', bodyFile], { S: 'whsec_x' });
    expect(none.code).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe('cdk-webhook-ingress send: the URL to post to is missing: send <url> --scheme <name> ... (local prints its URL, such as http://127.0.0.1:3000/<path>)');
    const bad = await cli(['send', '127.0.0.1:3000/stripe', '--body', bodyFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe("cdk-webhook-ingress send: send needs an http:// or https:// URL, got '127.0.0.1:3000/stripe'");
  });

  test('fails when the body file is missing, in one line without a raw ENOENT', async () => {
    const missing = join(dir, 'nope.json');
    for (const command of [['sign', '--scheme', 'github'], ['send', 'http://127.0.0.1:1/x', '--scheme', 'github']]) {
      const { stderr, code } = await cli([...command, '--secret-env', 'S', '--body', missing], { S: 'x' });
      expect(code).toBe(2);
      expect(stderr.split('\n')[0]).toBe(`cdk-webhook-ingress ${command[0]}: cannot read the body file '${missing}': no such file`);
      expect(stderr).not.toMatch(/ENOENT/);
    }
  });

  test('fails when tail --aws has no region, saying how to give one', async () => {
    const { stderr, code } = await cli(['tail', 'SomeStream', '--aws'], {
      AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_PROFILE: undefined,
      AWS_CONFIG_FILE: join(dir, 'no-config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    });
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe('cdk-webhook-ingress tail: --aws needs a region: pass --region <name>, or set AWS_REGION (or AWS_PROFILE, for a profile with a region)');
  });

  test('fails when the secrets file or the client certificate is missing or not what it should be', async () => {
    const local = await cli(['local', '--cdk-out', dir, '--secrets-file', join(dir, 'nope.json')]);
    expect(local.code).toBe(2);
    expect(local.stderr.split('\n')[0]).toBe(`cdk-webhook-ingress local: cannot read the secrets file '${join(dir, 'nope.json')}': no such file`);
    const cert = await cli(['send', 'http://127.0.0.1:1/x', '--body', bodyFile, '--client-cert', bodyFile]);
    expect(cert.code).toBe(2);
    expect(cert.stderr.split('\n')[0]).toBe(`cdk-webhook-ingress send: --client-cert ${bodyFile} holds no certificate: give a PEM or DER certificate, or the JSON of an MtlsClient's secret`);
  });
});

describe('send: schemes named as the constructs, tokens and client certificates', () => {
  let server: Server;
  let url: string;
  let received: IncomingHttpHeaders[];

  beforeAll(async () => {
    received = [];
    server = createServer((req, res) => {
      received.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":1}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => { received = []; });

  test('--scheme standardWebhooks, as WebhookAuth.standardWebhooks, and its alias standard', async () => {
    for (const scheme of ['standardWebhooks', 'standard']) {
      const { code } = await cli(['send', url, '--scheme', scheme, '--secret-env', 'S', '--body', bodyFile], { S: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });
      expect(code).toBe(0);
    }
    expect(received.map((h) => [String(h['webhook-id']).startsWith('msg_'), /^v1,[A-Za-z0-9+/]+=*$/.test(String(h['webhook-signature']))])).toEqual([[true, true], [true, true]]);
  });

  test('--scheme bearerToken and jwt send the token from the environment, and never print it', async () => {
    const bearer = await cli(['send', url, '--scheme', 'bearerToken', '--secret-env', 'TOKEN', '--body', bodyFile], { TOKEN: 'tok-123' });
    const custom = await cli(['send', url, '--scheme', 'bearerToken', '--token-header', 'X-Api-Token', '--token-scheme', '', '--secret-env', 'TOKEN', '--body', bodyFile], { TOKEN: 'tok-456' });
    const jwt = await cli(['send', url, '--scheme', 'jwt', '--secret-env', 'TOKEN', '--body', bodyFile], { TOKEN: 'eyJ.a.b' });
    expect([bearer.code, custom.code, jwt.code]).toEqual([0, 0, 0]);
    expect(received.map((h) => h.authorization ?? h['x-api-token'])).toEqual(['Bearer tok-123', 'tok-456', 'Bearer eyJ.a.b']);
    expect(`${bearer.stdout}${bearer.stderr}${custom.stdout}${jwt.stdout}`).not.toMatch(/tok-123|tok-456|eyJ\.a\.b/);
  });

  test('fails when sign is asked to print a token', async () => {
    const { stderr, code } = await cli(['sign', '--scheme', 'bearerToken', '--secret-env', 'TOKEN', '--body', bodyFile], { TOKEN: 'tok-123' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/a bearerToken token is the secret itself: use send --scheme bearerToken/);
    expect(stderr).not.toContain('tok-123');
  });

  test('--client-cert sends the certificate in a Client-Cert header, which reads back as API Gateway reports it', async () => {
    // GIVEN a certificate file, and the same certificate inside an MtlsClient secret's JSON
    const pem = await localClientCertificate({ serialNumber: '5f00aa', commonName: 'Billing', organization: 'Example Corp', notAfter: new Date(Date.now() + 86_400_000) });
    writeFileSync(join(dir, 'client.pem'), pem);
    writeFileSync(join(dir, 'client-secret.json'), JSON.stringify({ certificate: pem, privateKey: 'not read', serialNumber: '5f00aa' }));

    // WHEN sent unsigned with each
    for (const file of ['client.pem', 'client-secret.json']) {
      const { code } = await cli(['send', url, '--body', bodyFile, '--client-cert', join(dir, file)]);
      expect(code).toBe(0);
    }

    // THEN both carry it, RFC 9440 style, and the runner's reading gives API Gateway's fields
    expect(received).toHaveLength(2);
    expect(received[0]['client-cert']).toBe(received[1]['client-cert']);
    const { cert, notAfterMs } = gatewayClientCert(String(received[0]['client-cert']));
    expect(cert).toMatchObject({ subjectDN: 'CN=Billing,O=Example Corp', issuerDN: 'CN=Billing,O=Example Corp', serialNumber: '5f:00:aa' });
    expect(cert.clientCertPem).toBe(pem.trim().concat('\n'));
    expect(notAfterMs).toBeGreaterThan(Date.now());
    expect(() => gatewayClientCert('not a certificate')).toThrow(/the client-cert header must be ':<base64 DER>:'/);
    expect(() => gatewayClientCert(':AAAA:')).toThrow(/holds no X.509 certificate/);
  });
});
