import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate } from '../../lambda/common/authenticate';
import type { AuthConfig } from '../../lambda/common/auth-config';
import { fromApiGatewayEvent } from '../../lambda/common/http';
import Twilio from 'twilio';
import { SCHEME_ALIASES, SCHEME_NAMES } from '../../cli/sign';
import { HmacAlgorithm, SignatureEncoding, TwilioSignatureAlgorithm, WebhookAuth } from '../../lib';
import { CLI, runCli } from '../support/cli';
import { anyAuthConfig } from '../support/presets';
import { apiGatewayEvent } from '../support/signers';

/** Runs the bundled command, the package's bin, with the secret in the environment. */
const cli = (args: string[], secret?: string) => runCli(args, { env: { WEBHOOK_SECRET: secret ?? '' } });

describe('cdk-webhook-ingress sign', () => {
  let dir: string;
  let bodyFile: string;
  const body = JSON.stringify({ id: 'evt_1', type: 'order.created', note: 'caf\u00e9' });
  const formBody = 'CallSid=CA123&From=%2B15551234567&Body=hi+there';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sign-'));
    bodyFile = join(dir, 'body.json');
    writeFileSync(bodyFile, body);
    writeFileSync(join(dir, 'form.txt'), formBody);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Each scheme, its secret, and the verifier configuration the library's own preset produces.
  const cases: [string, string, AuthConfig, string[]][] = [
    ['stripe', 'whsec_cli_stripe', anyAuthConfig((s) => WebhookAuth.stripe(s)), []],
    ['github', 'gh-secret', anyAuthConfig((s) => WebhookAuth.github(s)), []],
    ['segment', 'segment-secret', anyAuthConfig((s) => WebhookAuth.segment(s)), []],
    ['shopify', 'shopify-secret', anyAuthConfig((s) => WebhookAuth.shopify(s)), []],
    ['slack', 'slack-secret', anyAuthConfig((s) => WebhookAuth.slack(s)), []],
    ['standardWebhooks', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', anyAuthConfig((s) => WebhookAuth.standardWebhooks(s)), []],
    ['standard', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', anyAuthConfig((s) => WebhookAuth.standardWebhooks(s)), []],
    ['planasonix', 'planasonix-secret', anyAuthConfig((s) => WebhookAuth.planasonix(s)), []],
    ['twilio', 'twilio-token', anyAuthConfig((s) => WebhookAuth.twilio(s)), ['--url', 'https://hooks.example.com/twilio?x=1']],
    ['hmac', 'generic-secret', anyAuthConfig((s) => WebhookAuth.hmac({
      secret: s,
      signatureHeader: 'X-Acme-Signature',
      algorithm: HmacAlgorithm.SHA512,
      encoding: SignatureEncoding.BASE64,
      signaturePrefix: 'v1=',
      signedContent: '{timestamp}:{header:x-acme-id}:{body}',
      timestampHeader: 'X-Acme-Time',
    })), ['--signature-header', 'X-Acme-Signature', '--algorithm', 'sha512', '--encoding', 'base64', '--signature-prefix', 'v1=',
      '--signed-content', '{timestamp}:{header:x-acme-id}:{body}', '--timestamp-header', 'X-Acme-Time', '--header', 'X-Acme-Id: a-1']],
  ];

  /** The request the signed output describes, as the handler would see it behind API Gateway. */
  function requestFrom(signed: { url?: string; headers: Record<string, string> }, sentBody: string) {
    const url = signed.url === undefined ? undefined : new URL(signed.url);
    // API Gateway reports the domain it served and the path; it decodes the query.
    return fromApiGatewayEvent(apiGatewayEvent(sentBody, {
      headers: { ...signed.headers, ...(url === undefined ? {} : { host: url.host }) },
      domainName: url?.host,
      requestPath: url?.pathname,
      query: url === undefined ? undefined : Object.fromEntries(url.searchParams),
    }), Date.now());
  }

  test.each(cases)('the %s signature verifies with the library\'s verifier', async (scheme, secret, config, extra) => {
    // GIVEN a body file and the secret in the environment
    // WHEN the command signs it
    const { stdout, code } = await cli(['sign', '--scheme', scheme, '--secret-env', 'WEBHOOK_SECRET', '--body', bodyFile, '--format', 'json', ...extra], secret);
    expect(code).toBe(0);
    const signed = JSON.parse(stdout) as { url?: string; headers: Record<string, string> };

    // THEN the handler's authentication accepts it, and refuses it for a changed body or another secret
    const secrets = (value: string) => ({ secrets: { get: async () => [value] } });
    const now = Date.now();
    await expect(authenticate(config, requestFrom(signed, body), now, secrets(secret))).resolves.toBeDefined();
    await expect(authenticate(config, requestFrom(signed, body.replace('evt_1', 'evt_2')), now, secrets(secret))).rejects.toThrow(/signature/i);
    const other = scheme.startsWith('standard') ? 'whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB' : `${secret}-other`;
    await expect(authenticate(config, requestFrom(signed, body), now, secrets(other))).rejects.toThrow(/signature/i);
  });

  test('a Twilio form body is signed with its sorted parameters', async () => {
    const { stdout, code } = await cli(['sign', '--scheme', 'twilio', '--secret-env', 'WEBHOOK_SECRET', '--body', join(dir, 'form.txt'),
      '--content-type', 'application/x-www-form-urlencoded', '--url', 'https://hooks.example.com/twilio', '--format', 'json'], 'tok');
    expect(code).toBe(0);
    const signed = JSON.parse(stdout) as { url: string; headers: Record<string, string> };
    expect(signed.url).toBe('https://hooks.example.com/twilio'); // no bodySHA256 for a form
    await expect(authenticate(anyAuthConfig((s) => WebhookAuth.twilio(s)), requestFrom(signed, formBody), Date.now(), { secrets: { get: async () => ['tok'] } })).resolves.toBeDefined();
  });

  test('a Twilio URL is signed as written, its query with %20 included, and verifies behind API Gateway', async () => {
    // GIVEN a webhook URL whose query Twilio would sign as configured
    const url = "https://hooks.example.com/twilio?note=a%20b&name=O'Brien";
    // WHEN the command signs a JSON body for it
    const { stdout, code } = await cli(['sign', '--scheme', 'twilio', '--secret-env', 'WEBHOOK_SECRET', '--body', bodyFile, '--url', url, '--format', 'json'], 'tok');
    expect(code).toBe(0);
    const signed = JSON.parse(stdout) as { url: string; headers: Record<string, string> };
    // THEN bodySHA256 is appended to the URL as written, Twilio's own library agrees, and the handler accepts it
    expect(signed.url.startsWith(`${url}&bodySHA256=`)).toBe(true);
    expect(Twilio.validateRequestWithBody('tok', signed.headers['x-twilio-signature'], signed.url, body)).toBe(true);
    await expect(authenticate(anyAuthConfig((s) => WebhookAuth.twilio(s)), requestFrom(signed, body), Date.now(), { secrets: { get: async () => ['tok'] } })).resolves.toBeDefined();
  });

  test('signs in Twilio\'s HMAC-SHA256 mode with --algorithm, which a source pinned to it accepts', async () => {
    // GIVEN a source pinned to HMAC_SHA256
    const pinned = anyAuthConfig((s) => WebhookAuth.twilio(s, { algorithm: TwilioSignatureAlgorithm.HMAC_SHA256 }));
    const sign = (algorithm: string) => cli(['sign', '--scheme', 'twilio', '--secret-env', 'WEBHOOK_SECRET', '--body', join(dir, 'form.txt'),
      '--content-type', 'application/x-www-form-urlencoded', '--url', 'https://hooks.example.com/twilio', '--algorithm', algorithm, '--format', 'json'], 'shared-key');
    // WHEN the command signs as a Webhook Setting with HMAC_SHA256 does
    const { stdout, code } = await sign('HMAC_SHA256');
    expect(code).toBe(0);
    const signed = JSON.parse(stdout) as { url: string; headers: Record<string, string> };
    // THEN it announces the algorithm, and the pinned source accepts it, but not a SHA-1 signature
    expect(signed.headers['x-twilio-webhooks-signature-settings']).toBe('algorithm=HMAC_SHA256');
    const secrets = { secrets: { get: async () => ['shared-key'] } };
    await expect(authenticate(pinned, requestFrom(signed, formBody), Date.now(), secrets)).resolves.toBeDefined();
    const sha1 = JSON.parse((await sign('sha1')).stdout) as { url: string; headers: Record<string, string> };
    expect(sha1.headers['x-twilio-webhooks-signature-settings']).toBe('algorithm=HMAC_SHA1');
    await expect(authenticate(pinned, requestFrom(sha1, formBody), Date.now(), secrets)).rejects.toThrow(/accepts only HMAC_SHA256/);
    // An algorithm Twilio does not sign with is a usage error.
    const bad = await sign('sha512');
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/--algorithm for --scheme twilio must be HMAC_SHA1 or HMAC_SHA256, got sha512/)]);
  });

  test('prints the headers, or a curl command that sends the body file', async () => {
    const headers = await cli(['sign', '--scheme', 'github', '--secret-env', 'WEBHOOK_SECRET', '--body', bodyFile, '--id', 'delivery-1'], 'gh-secret');
    expect(headers.stdout).toMatch(/^x-hub-signature-256: sha256=[0-9a-f]{64}$/m);
    expect(headers.stdout).toMatch(/^x-github-delivery: delivery-1$/m);
    expect(headers.stdout).toMatch(/^content-type: application\/json$/m);

    const curl = await cli(['sign', '--scheme', 'github', '--secret-env', 'WEBHOOK_SECRET', '--body', bodyFile, '--format', 'curl', '--url', 'https://example.com/github'], 'gh-secret');
    expect(curl.stdout).toContain("curl -sS -X POST 'https://example.com/github'");
    expect(curl.stdout).toContain(`--data-binary '@${bodyFile}'`);
  });

  test('reads the body from stdin', async () => {
    const child = execFile(process.execPath, [CLI, 'sign', '--scheme', 'segment', '--secret-env', 'WEBHOOK_SECRET', '--format', 'json'], { env: { ...process.env, WEBHOOK_SECRET: 'segment-secret' } });
    let stdout = '';
    child.stdout?.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stdin?.end(body);
    await new Promise((resolve) => child.on('close', resolve));
    const signed = JSON.parse(stdout) as { headers: Record<string, string> };
    await expect(authenticate(anyAuthConfig((s) => WebhookAuth.segment(s)), requestFrom(signed, body), Date.now(), { secrets: { get: async () => ['segment-secret'] } })).resolves.toBeDefined();
  });

  test('fails when the secret is not given, or given on the command line', async () => {
    const none = await cli(['sign', '--scheme', 'github', '--body', bodyFile]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--secret-env <name> or --secret-file <file>; never on the command line/);
    const argv = await cli(['sign', '--scheme', 'github', '--secret', 'oops', '--body', bodyFile]);
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/Unknown option '--secret'/);
  });

  test("every scheme name is a WebhookAuth factory's name", () => {
    // The names users type are the constructs' names: no second spelling to learn.
    const factories = Object.getOwnPropertyNames(WebhookAuth).filter((name) => typeof (WebhookAuth as unknown as Record<string, unknown>)[name] === 'function');
    for (const scheme of SCHEME_NAMES) expect(factories).toContain(scheme);
    expect(Object.values(SCHEME_ALIASES).every((scheme) => SCHEME_NAMES.includes(scheme))).toBe(true);
  });

  test('fails when the scheme is unknown, or twilio has no URL', async () => {
    const unknown = await cli(['sign', '--scheme', 'paypal', '--secret-env', 'WEBHOOK_SECRET', '--body', bodyFile], 's');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--scheme must be one of stripe, github, segment, shopify, slack, twilio, standardWebhooks, planasonix, hmac; got 'paypal'/);
    const twilio = await cli(['sign', '--scheme', 'twilio', '--secret-env', 'WEBHOOK_SECRET', '--body', bodyFile], 's');
    expect(twilio.stderr).toMatch(/--scheme twilio signs the URL/);
  });
});
