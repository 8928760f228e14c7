/**
 * Twilio, end to end through the bundled ingest asset (`assets/ingest/index.js`), as Lambda runs
 * it: the configuration a `WebhookAuth.twilio(...)` binding produces, kinesalite for the stream,
 * the Secrets Manager stand-in for the auth token, and signatures made by Twilio's own library.
 */
import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import twilio from 'twilio';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { type IngestConfig } from '../../lambda/ingest/config';
import * as lib from '../../lib';
import { WebhookAuth } from '../../lib';
import { assetDir, bundledPeers, type BundledHandler as Handler } from '../support/bundled-source';
import { decode } from '../support/kinesalite';
import { capturingOutput } from '../support/output';
import { ingestConfig, SECRET_ARN } from '../support/presets';
import { apiGatewayEvent } from '../support/signers';

const TOKEN = 'twilio-auth-token-0123456789abcdef';
/** The execute-api domain API Gateway reports in requestContext.domainName, and the path with its stage. */
const DOMAIN = 'a1b2c3d4e5.execute-api.us-east-1.amazonaws.com';
const PATH = '/prod/sms';
const DEPLOYED_URL = `https://${DOMAIN}${PATH}`;
/** A message Twilio posts, as form parameters. */
const PARAMS: Record<string, string> = { MessageSid: 'SM5a1e', From: '+14155550100', To: '+14155550199', Body: 'Meet at 5?' };
const FORM = new URLSearchParams(PARAMS).toString();

/** The options `WebhookAuth.twilio` takes once the fix is in; read loosely so this file also runs against older code. */
type TwilioOptions = { url?: string; algorithm?: string };
const twilioAuth = (options?: TwilioOptions) => (s: Parameters<typeof WebhookAuth.twilio>[0]) =>
  (WebhookAuth.twilio as (secret: typeof s, options?: TwilioOptions) => ReturnType<typeof WebhookAuth.twilio>)(s, options);

describe('Twilio through the bundled ingest asset', () => {
  const peers = bundledPeers({ [SECRET_ARN]: TOKEN });

  /** Loads the bundled ingest handler with a Twilio source's configuration, on a stream of its own. */
  async function deploy(options?: TwilioOptions): Promise<{ handler: Handler; streamName: string }> {
    const streamName = await peers.newStream('twilio-bundle');
    const config: IngestConfig = ingestConfig(twilioAuth(options), { streamName, source: 'Twilio' });
    const handler = peers.load(assetDir('ingest'), {
      [CONFIG_ENV_VAR]: JSON.stringify(config),
      AWS_LAMBDA_FUNCTION_NAME: 'TwilioIngest',
      POWERTOOLS_SERVICE_NAME: 'Twilio',
    }, ['POWERTOOLS_DEV']);
    return { handler, streamName };
  }

  /** A form delivery as API Gateway hands it over; the Host header is whatever the sender wrote. */
  function delivery(signature: string, options: { host?: string; query?: Record<string, string>; headers?: Record<string, string> } = {}) {
    return apiGatewayEvent(FORM, {
      path: '/sms',
      requestPath: PATH,
      domainName: DOMAIN,
      query: options.query,
      requestTimeEpoch: Date.now(),
      headers: {
        Host: options.host ?? DOMAIN,
        'Content-Type': 'application/x-www-form-urlencoded',
        'X-Twilio-Signature': signature,
        'I-Twilio-Idempotency-Token': `tok-${Math.random().toString(16).slice(2)}`,
        ...options.headers,
      },
    });
  }

  async function send(handler: Handler, event: APIGatewayProxyEvent) {
    const { result, output } = await capturingOutput(() => handler(event));
    return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown>, output };
  }

  describe('the signed URL is the deployment\'s, never the Host header', () => {
    // The auth token is account-wide: Twilio signs every webhook of the account with it.
    const OTHER_APP = 'https://other-app.example.com/sms/inbound';
    const forOtherApp = twilio.getExpectedTwilioSignature(TOKEN, OTHER_APP, PARAMS);

    test('fails when a signature Twilio made for another webhook of the account is sent with a Host that points at it', async () => {
      // GIVEN a source that takes its URL from API Gateway, and a genuine Twilio signature for another app's URL
      const { handler, streamName } = await deploy();
      expect(twilio.validateRequest(TOKEN, forOtherApp, OTHER_APP, PARAMS)).toBe(true);
      // WHEN an attacker replays it here with a Host that makes the old URL rebuild land on that URL
      for (const host of ['other-app.example.com/sms/inbound#', 'other-app.example.com/sms/inbound?', 'other-app.example.com']) {
        const answer = await send(handler, delivery(forOtherApp, { host }));
        // THEN it is refused, and nothing is written
        expect([host, answer.status, answer.body.error]).toEqual([host, 401, 'SignatureMismatch']);
      }
      expect(await peers.kinesis.readAll(streamName)).toHaveLength(0);
    });

    test('accepts the signature Twilio made for this deployment\'s URL, whatever the Host says', async () => {
      // GIVEN a signature made by Twilio's library for the URL API Gateway serves
      const { handler, streamName } = await deploy();
      const signature = twilio.getExpectedTwilioSignature(TOKEN, DEPLOYED_URL, PARAMS);
      // WHEN it arrives with the usual Host, and with a Host that says something else
      const plain = await send(handler, delivery(signature));
      const spoofed = await send(handler, delivery(signature, { host: 'other-app.example.com' }));
      // THEN both are accepted: the Host header plays no part
      expect([plain.status, spoofed.status]).toEqual([202, 202]);
      expect((await peers.kinesis.readAll(streamName)).map((r) => decode<{ payload: unknown }>(r).payload)).toEqual([PARAMS, PARAMS]);
    });

    test('with a configured url, only a signature over that URL is accepted', async () => {
      // GIVEN a source whose public URL is configured (a proxy in front of API Gateway)
      const publicUrl = 'https://hooks.example.com/twilio/sms';
      const { handler } = await deploy({ url: publicUrl });
      const sign = (url: string) => twilio.getExpectedTwilioSignature(TOKEN, url, PARAMS);
      // WHEN Twilio's signature for that URL, for API Gateway's own URL, or for another app arrives
      const answers: number[] = [];
      for (const signature of [sign(publicUrl), sign(DEPLOYED_URL), forOtherApp]) answers.push((await send(handler, delivery(signature, { host: 'hooks.example.com' }))).status);
      // THEN only the configured URL's verifies
      expect(answers).toEqual([202, 401, 401]);
    });
  });

  describe('a malformed Host never trips the error alarms', () => {
    test.each([
      ['a.com:99999'],
      ['abc 123.example.com'],
      ['a%zz.com'],
      ['[::1'],
      ['other-app.example.com/sms/inbound#'],
      ['https://x'],
      [''],
    ])('fails when Host is %p: 401, no 500, no ERROR line and no stack', async (host) => {
      // GIVEN the bundled handler
      const { handler } = await deploy();
      // WHEN a request with that Host and any X-Twilio-Signature arrives
      for (const signature of ['AAAA', 'not base64 at all', twilio.getExpectedTwilioSignature(TOKEN, `https://${host}${PATH}`, PARAMS)]) {
        const answer = await send(handler, delivery(signature, { host }));
        // THEN it is a 401 with a JSON error, logged as a warning at most
        expect(answer.status).toBe(401);
        expect(answer.body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
        expect(answer.output).not.toMatch(/"level":"ERROR"|"stack"/);
      }
    });

    test('fails when API Gateway\'s own domain name is unusable: 401, never 500', async () => {
      // GIVEN the bundled handler, and events whose requestContext has no usable domain name
      const { handler } = await deploy();
      const signature = twilio.getExpectedTwilioSignature(TOKEN, DEPLOYED_URL, PARAMS);
      for (const domainName of [undefined, '', 'a.com:99999', 'abc 123.example.com', '[::1']) {
        const event = delivery(signature);
        (event.requestContext as { domainName?: string }).domainName = domainName;
        // WHEN it arrives
        const answer = await send(handler, event);
        // THEN it is refused as unauthenticated, without an ERROR line
        expect([domainName, answer.status]).toEqual([domainName, 401]);
        expect(answer.output).not.toMatch(/"level":"ERROR"|"stack"/);
      }
    });
  });

  describe('query strings verify whichever way Twilio wrote them', () => {
    test.each([
      ['note=a%20b', { note: 'a b' }],
      ['note=a+b', { note: 'a b' }],
      ["name=O'Brien&tag=~x", { name: "O'Brien", tag: '~x' }],
      ['name=O%27Brien&tag=%7Ex', { name: "O'Brien", tag: '~x' }],
      ['q=(a)!*', { q: '(a)!*' }],
      ['q=%28a%29%21*', { q: '(a)!*' }],
      ['next=https://example.com/a?b', { next: 'https://example.com/a?b' }],
      ['next=https%3A%2F%2Fexample.com%2Fa%3Fb', { next: 'https://example.com/a?b' }],
      ['plus=%2B1%20555', { plus: '+1 555' }],
      ['city=K%C3%B6ln', { city: 'Köln' }],
    ])('a webhook URL configured with ?%s, signed by Twilio\'s library, is accepted', async (configured, decoded) => {
      // GIVEN the URL as configured at Twilio, and Twilio's signature over it
      const { handler } = await deploy();
      const url = `${DEPLOYED_URL}?${configured}`;
      const signature = twilio.getExpectedTwilioSignature(TOKEN, url, PARAMS);
      expect(twilio.validateRequest(TOKEN, signature, url, PARAMS)).toBe(true);
      // WHEN API Gateway hands over the query decoded, as it does
      const answer = await send(handler, delivery(signature, { query: decoded }));
      // THEN it verifies
      expect(answer.status).toBe(202);
    });

    test('fails when the query differs from the one signed', async () => {
      const { handler } = await deploy();
      const signature = twilio.getExpectedTwilioSignature(TOKEN, `${DEPLOYED_URL}?note=a%20b`, PARAMS);
      const queries: Record<string, string>[] = [{ note: 'a  b' }, { note: 'a+b' }, { note: 'ab' }, { note: 'a b', extra: '1' }, {}];
      for (const query of queries) {
        expect((await send(handler, delivery(signature, { query }))).status).toBe(401);
      }
    });
  });

  describe('HMAC-SHA256, as a Twilio Webhook Setting signs', () => {
    /** Twilio's signed string (URL plus sorted parameters), HMAC-SHA256 in base64: only the hash changes. */
    const sha256 = (url: string) => createHmac('sha256', TOKEN)
      .update(Object.keys(PARAMS).sort().reduce((acc, key) => acc + key + PARAMS[key], url)).digest('base64');
    const SETTINGS = 'X-Twilio-Webhooks-Signature-Settings';
    const algorithm = (name: string) => ({ [SETTINGS]: `key=KS0123456789abcdef0123456789abcdef,algorithm=${name}` });
    const SHA1_SIGNATURE = twilio.getExpectedTwilioSignature(TOKEN, DEPLOYED_URL, PARAMS);

    test('unpinned: SHA-1 without the settings header, SHA-256 when it announces HMAC_SHA256', async () => {
      const { handler } = await deploy();
      const status = async (signature: string, headers?: Record<string, string>) => (await send(handler, delivery(signature, { headers }))).status;
      expect(await status(SHA1_SIGNATURE)).toBe(202);
      expect(await status(sha256(DEPLOYED_URL), algorithm('HMAC_SHA256'))).toBe(202);
      expect(await status(SHA1_SIGNATURE, algorithm('HMAC_SHA1'))).toBe(202);
      // The signature must be of the algorithm announced.
      expect(await status(sha256(DEPLOYED_URL))).toBe(401);
      expect(await status(SHA1_SIGNATURE, algorithm('HMAC_SHA256'))).toBe(401);
    });

    test('fails when the settings header names an algorithm Twilio does not sign with, or several', async () => {
      const { handler } = await deploy();
      for (const headers of [algorithm('HMAC_SHA512'), algorithm('hmac-sha256'), algorithm(''), { [SETTINGS]: 'key=KS1' }, { [SETTINGS]: 'algorithm=HMAC_SHA1,algorithm=HMAC_SHA256' }]) {
        const answer = await send(handler, delivery(sha256(DEPLOYED_URL), { headers }));
        expect([headers, answer.status, answer.body.error]).toEqual([headers, 401, 'SignatureAlgorithm']);
        expect(answer.output).not.toMatch(/"level":"ERROR"/);
      }
    });

    test('pinned to HMAC_SHA256: a request announcing another algorithm, or none, is refused', async () => {
      const { handler } = await deploy({ algorithm: 'HMAC_SHA256' });
      const answer = async (signature: string, headers?: Record<string, string>) => send(handler, delivery(signature, { headers }));
      expect((await answer(sha256(DEPLOYED_URL), algorithm('HMAC_SHA256'))).status).toBe(202);
      // A downgrade: the same request stripped of its settings header, signed with SHA-1 (which Twilio also makes for this URL).
      expect(await answer(SHA1_SIGNATURE)).toMatchObject({ status: 401, body: { error: 'SignatureAlgorithm' } });
      expect(await answer(SHA1_SIGNATURE, algorithm('HMAC_SHA1'))).toMatchObject({ status: 401, body: { error: 'SignatureAlgorithm' } });
    });

    test('pinned to HMAC_SHA1: a request announcing HMAC_SHA256 is refused', async () => {
      const { handler } = await deploy({ algorithm: 'HMAC_SHA1' });
      expect((await send(handler, delivery(SHA1_SIGNATURE))).status).toBe(202);
      expect((await send(handler, delivery(sha256(DEPLOYED_URL), { headers: algorithm('HMAC_SHA256') }))).status).toBe(401);
    });
  });

  test('the construct library exports the algorithm choice as an enum', () => {
    expect((lib as Record<string, unknown>).TwilioSignatureAlgorithm).toEqual({ HMAC_SHA1: 'HMAC_SHA1', HMAC_SHA256: 'HMAC_SHA256' });
  });
});
