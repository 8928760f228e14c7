import { createHmac } from 'node:crypto';
import { MalformedPayloadError, MissingCredentialsError, SignatureMismatchError, TimestampOutsideToleranceError, WebhookError } from '../../../lambda/common/errors';
import { fromApiGatewayEvent, type WebhookRequest } from '../../../lambda/common/http';
import { twilioAlgorithm, twilioUrlCandidates, verifyHmac } from '../../../lambda/common/verify';
import { HmacAlgorithm, SignatureEncoding } from '../../../lib';
import { githubAuth, hmacAuth, stripeAuth } from '../../support/presets';
import { apiGatewayEvent, githubSignature, stripeSignature, stripeV1 } from '../../support/signers';

const NOW_MS = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const NOW_S = NOW_MS / 1000;
const STRIPE_SECRET = 'whsec_test_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH';

function request(body: string | Buffer, headers: Record<string, string>): WebhookRequest {
  return fromApiGatewayEvent(apiGatewayEvent(body, { headers }), NOW_MS);
}

function flipByte(value: Buffer, index: number): Buffer {
  const copy = Buffer.from(value);
  copy[index] ^= 0x01;
  return copy;
}

function expect401(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(WebhookError);
  expect((caught as WebhookError).statusCode).toBe(401);
}

describe('GitHub (X-Hub-Signature-256)', () => {
  test("GitHub's published example verifies", () => {
    // GIVEN the secret, payload and signature from GitHub's "Validating webhook deliveries" page
    const req = request('Hello, World!', {
      'X-Hub-Signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    });
    // WHEN / THEN
    expect(verifyHmac(githubAuth(), req, ["It's a Secret to Everybody"], NOW_MS)).toEqual({});
  });

  test('fails when the body differs from what was signed', () => {
    const req = request('Hello, World?', {
      'X-Hub-Signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    });
    expect(() => verifyHmac(githubAuth(), req, ["It's a Secret to Everybody"], NOW_MS)).toThrow(SignatureMismatchError);
  });

  test('fails when the header is missing, or lacks the sha256= prefix', () => {
    const body = '{"zen":"Design for failure."}';
    const sig = githubSignature('s3cret', body);
    expect(() => verifyHmac(githubAuth(), request(body, {}), ['s3cret'], NOW_MS)).toThrow(MissingCredentialsError);
    expect(() => verifyHmac(githubAuth(), request(body, { 'x-hub-signature-256': sig.slice('sha256='.length) }), ['s3cret'], NOW_MS))
      .toThrow(SignatureMismatchError);
  });

  test('fails when the signature header is sent twice', () => {
    const body = '{}';
    const event = apiGatewayEvent(body);
    event.multiValueHeaders = { 'X-Hub-Signature-256': [githubSignature('s3cret', body), githubSignature('other', body)] };
    expect(() => verifyHmac(githubAuth(), fromApiGatewayEvent(event, NOW_MS), ['s3cret'], NOW_MS)).toThrow(MalformedPayloadError);
  });
});

describe('Stripe (Stripe-Signature)', () => {
  const body = Buffer.from('{\n  "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",\n  "object": "event",\n  "created": 1767225590,\n  "type": "invoice.paid"\n}');

  test('a header with several v1 values verifies when any one matches', () => {
    // GIVEN a header as Stripe sends it while an endpoint secret is being rolled: two v1 values
    // (the old secret's first), plus a v0 test-mode signature that must be ignored
    const t = NOW_S - 10;
    const header = `t=${t},v1=${stripeV1('whsec_old_secret', body, t)},v1=${stripeV1(STRIPE_SECRET, body, t)},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39`;
    // WHEN / THEN
    expect(verifyHmac(stripeAuth(), request(body, { 'Stripe-Signature': header }), [STRIPE_SECRET], NOW_MS))
      .toEqual({ signedTimestamp: t });
  });

  test('any of several active secrets verifies (rotation)', () => {
    const header = stripeSignature(STRIPE_SECRET, body, NOW_S);
    expect(verifyHmac(stripeAuth(), request(body, { 'stripe-signature': header }), ['whsec_next', STRIPE_SECRET], NOW_MS))
      .toEqual({ signedTimestamp: NOW_S });
  });

  test('a list of secrets refilled in place verifies with its new secrets, not the keys of the old ones', () => {
    // GIVEN one list object, first holding another secret, then (changed in place) the right one
    const header = stripeSignature(STRIPE_SECRET, body, NOW_S);
    const secrets = ['whsec_other'];
    expect(() => verifyHmac(stripeAuth(), request(body, { 'stripe-signature': header }), secrets, NOW_MS)).toThrow(SignatureMismatchError);
    secrets[0] = STRIPE_SECRET;
    // WHEN / THEN the request verifies; and after going back, it fails again
    expect(verifyHmac(stripeAuth(), request(body, { 'stripe-signature': header }), secrets, NOW_MS)).toEqual({ signedTimestamp: NOW_S });
    secrets[0] = 'whsec_other';
    expect(() => verifyHmac(stripeAuth(), request(body, { 'stripe-signature': header }), secrets, NOW_MS)).toThrow(SignatureMismatchError);
  });

  test('fails when no v1 signature matches', () => {
    const header = `t=${NOW_S},v1=${stripeV1('whsec_other', body, NOW_S)},v1=${'0'.repeat(64)}`;
    expect(() => verifyHmac(stripeAuth(), request(body, { 'stripe-signature': header }), [STRIPE_SECRET], NOW_MS))
      .toThrow(SignatureMismatchError);
  });

  test('fails when the header has no v1 signature', () => {
    const header = `t=${NOW_S},v0=${stripeV1(STRIPE_SECRET, body, NOW_S)}`;
    expect(() => verifyHmac(stripeAuth(), request(body, { 'stripe-signature': header }), [STRIPE_SECRET], NOW_MS))
      .toThrow(/no v1 signature/);
  });

  test('any single flipped byte in the body gives 401', () => {
    const header = stripeSignature(STRIPE_SECRET, body, NOW_S);
    for (let i = 0; i < body.length; i++) {
      expect401(() => verifyHmac(stripeAuth(), request(flipByte(body, i), { 'stripe-signature': header }), [STRIPE_SECRET], NOW_MS));
    }
  });

  test('any single flipped byte in the signature header, timestamp included, gives 401', () => {
    const header = Buffer.from(stripeSignature(STRIPE_SECRET, body, NOW_S));
    for (let i = 0; i < header.length; i++) {
      const mutated = flipByte(header, i).toString('latin1');
      expect401(() => verifyHmac(stripeAuth(), request(body, { 'stripe-signature': mutated }), [STRIPE_SECRET], NOW_MS));
    }
  });

  test('a correctly signed but stale or future timestamp gives 401', () => {
    for (const t of [NOW_S - 301, NOW_S + 301, NOW_S - 86_400]) {
      const header = stripeSignature(STRIPE_SECRET, body, t);
      expect(() => verifyHmac(stripeAuth(), request(body, { 'stripe-signature': header }), [STRIPE_SECRET], NOW_MS))
        .toThrow(TimestampOutsideToleranceError);
    }
    // Inside the 300 s window on either side it verifies.
    for (const t of [NOW_S - 299, NOW_S + 299]) {
      const header = stripeSignature(STRIPE_SECRET, body, t);
      expect(verifyHmac(stripeAuth(), request(body, { 'stripe-signature': header }), [STRIPE_SECRET], NOW_MS)).toEqual({ signedTimestamp: t });
    }
  });

  test('fails when the JSON is re-serialized: the signature covers the raw bytes', () => {
    const header = stripeSignature(STRIPE_SECRET, body, NOW_S);
    const reserialized = JSON.stringify(JSON.parse(body.toString('utf8')));
    expect(reserialized).not.toEqual(body.toString('utf8'));
    expect(() => verifyHmac(stripeAuth(), request(reserialized, { 'stripe-signature': header }), [STRIPE_SECRET], NOW_MS))
      .toThrow(SignatureMismatchError);
  });

  test('the signed bytes are the body exactly, including non-UTF-8 bytes', () => {
    const binary = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x7d]);
    const header = stripeSignature(STRIPE_SECRET, binary, NOW_S);
    expect(verifyHmac(stripeAuth(), request(binary, { 'stripe-signature': header }), [STRIPE_SECRET], NOW_MS)).toEqual({ signedTimestamp: NOW_S });
  });
});

describe('generic HMAC', () => {
  test('SHA-1, base64, with a prefix, over the body', () => {
    const config = hmacAuth({ signatureHeader: 'X-Signature', algorithm: HmacAlgorithm.SHA1, encoding: SignatureEncoding.BASE64, signaturePrefix: 'sha1=' });
    const body = '{"a":1}';
    const sig = createHmac('sha1', 'k').update(body).digest('base64');
    expect(verifyHmac(config, request(body, { 'x-signature': `sha1=${sig}` }), ['k'], NOW_MS)).toEqual({});
    expect(() => verifyHmac(config, request(body, { 'x-signature': `sha1=${sig.toLowerCase()}` }), ['k'], NOW_MS)).toThrow(SignatureMismatchError);
  });

  test('each part of the signed content is encoded as UTF-8 on its own, even halves of a surrogate pair in adjacent headers', () => {
    // GIVEN two headers whose values end and start with the halves of one astral character
    const config = hmacAuth({ signatureHeader: 'X-Sig', signedContent: '{header:X-A}{header:X-B}.{body}' });
    const body = '{"n":1}';
    const signed = Buffer.concat([Buffer.from('a\ud83d', 'utf8'), Buffer.from('\ude00b', 'utf8'), Buffer.from(`.${body}`, 'utf8')]);
    const sig = createHmac('sha256', 'k').update(signed).digest('hex');
    // WHEN / THEN the signature over the separately encoded parts verifies, and one over the joined pair does not
    expect(verifyHmac(config, request(body, { 'x-sig': sig, 'x-a': 'a\ud83d', 'x-b': '\ude00b' }), ['k'], NOW_MS)).toEqual({});
    const joined = createHmac('sha256', 'k').update(`a\ud83d\ude00b.${body}`, 'utf8').digest('hex');
    expect(() => verifyHmac(config, request(body, { 'x-sig': joined, 'x-a': 'a\ud83d', 'x-b': '\ude00b' }), ['k'], NOW_MS)).toThrow(SignatureMismatchError);
  });

  test('a signed timestamp from a header and another header in the signed content', () => {
    const config = hmacAuth({
      signatureHeader: 'X-Sig',
      signedContent: '{header:X-Tenant}:{timestamp}.{body}',
      timestampHeader: 'X-Ts',
    });
    const body = '[{"n":1}]';
    const sig = createHmac('sha256', 'k').update(`acme:${NOW_S}.${body}`).digest('hex');
    const headers = { 'x-sig': sig, 'x-ts': String(NOW_S), 'x-tenant': 'acme' };
    expect(verifyHmac(config, request(body, headers), ['k'], NOW_MS)).toEqual({ signedTimestamp: NOW_S });
    expect(() => verifyHmac(config, request(body, { ...headers, 'x-tenant': 'evil' }), ['k'], NOW_MS)).toThrow(SignatureMismatchError);
    expect(() => verifyHmac(config, request(body, { 'x-sig': sig, 'x-ts': String(NOW_S) }), ['k'], NOW_MS)).toThrow(/missing x-tenant/);
    expect(() => verifyHmac(config, request(body, { ...headers, 'x-ts': `${NOW_S}.0` }), ['k'], NOW_MS)).toThrow(SignatureMismatchError);
  });

  test('fails when the signature is not valid hex', () => {
    const config = hmacAuth({ signatureHeader: 'X-Sig' });
    expect(() => verifyHmac(config, request('{}', { 'x-sig': 'zz'.repeat(32) }), ['k'], NOW_MS)).toThrow(SignatureMismatchError);
  });
});

describe('a base64 signature', () => {
  const config = hmacAuth({ signatureHeader: 'X-Sig', encoding: SignatureEncoding.BASE64 });
  const body = '{"id":"evt_1"}';
  const signature = createHmac('sha256', 'k').update(body).digest('base64');

  test('verifies with its padding, without it, and refuses another spelling of the same bytes', () => {
    // GIVEN a SHA-256 HMAC: 32 bytes, 43 characters and one `=`; the 43rd carries 2 unused bits
    expect(signature).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const verify = (sent: string) => verifyHmac(config, request(body, { 'X-Sig': sent }), ['k'], NOW_MS);
    // THEN the canonical encoding verifies, padded or not
    expect(verify(signature)).toEqual({});
    expect(verify(signature.slice(0, -1))).toEqual({});
    // AND a last character with an unused bit set decodes to the same bytes, yet is refused
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(signature[42]);
    const other = `${signature.slice(0, 42)}${alphabet[last ^ 1]}=`;
    expect(Buffer.from(other, 'base64').equals(Buffer.from(signature, 'base64'))).toBe(true);
    expect(() => verify(other)).toThrow(SignatureMismatchError);
  });
});

describe('Twilio: the URLs and the algorithm tried', () => {
  test('a decoded query is rebuilt in each common spelling, each with and without the default port, and no more', () => {
    // GIVEN a query API Gateway decoded, with a space and characters encoders disagree on
    const candidates = twilioUrlCandidates('https://hooks.example.com/sms', [['note', "a b~'!()*"]]);
    // THEN the spellings Twilio may have signed are among the candidates
    expect(candidates).toEqual(expect.arrayContaining([
      "https://hooks.example.com/sms?note=a%20b~'!()*", // encodeURIComponent, querystring
      'https://hooks.example.com/sms?note=a+b%7E%27%21%28%29*', // URLSearchParams
      'https://hooks.example.com/sms?note=a%20b~%27%21%28%29%2A', // RFC 3986
      'https://hooks.example.com/sms?note=a%20b~%27!()*', // new URL() over a hand-written URL
      "https://hooks.example.com:443/sms?note=a+b~'!()*",
    ]));
    // AND the work per request is bounded: at most 10 spellings, twice
    expect(candidates.length).toBeLessThanOrEqual(20);
    expect(new Set(candidates).size).toBe(candidates.length);
    // A plain query has one spelling; a URL with a port is also tried without it.
    expect(twilioUrlCandidates('https://hooks.example.com:8443/sms', [['a', '1']])).toEqual(['https://hooks.example.com/sms?a=1', 'https://hooks.example.com:8443/sms?a=1']);
    expect(twilioUrlCandidates('https://hooks.example.com/sms', [])).toEqual(['https://hooks.example.com/sms', 'https://hooks.example.com:443/sms']);
    // Unreserved names and values (a bodySHA256 hash) are one spelling, pairs in the order received.
    expect(twilioUrlCandidates('https://h.example.com/t', [['bodySHA256', 'ab01'], ['a', 'x.y_z-1']]))
      .toEqual(['https://h.example.com/t?bodySHA256=ab01&a=x.y_z-1', 'https://h.example.com:443/t?bodySHA256=ab01&a=x.y_z-1']);
  });

  test('the algorithm is HMAC_SHA1 unless the settings header names HMAC_SHA256; a pin refuses any other', () => {
    const withSettings = (value?: string) => request('', value === undefined ? {} : { 'X-Twilio-Webhooks-Signature-Settings': value });
    expect(twilioAlgorithm(withSettings())).toBe('HMAC_SHA1');
    expect(twilioAlgorithm(withSettings('key=KS1,algorithm=HMAC_SHA256'))).toBe('HMAC_SHA256');
    expect(twilioAlgorithm(withSettings(' algorithm = HMAC_SHA1 , key=KS1'))).toBe('HMAC_SHA1');
    expect(twilioAlgorithm(withSettings('algorithm=HMAC_SHA256'), 'HMAC_SHA256')).toBe('HMAC_SHA256');
    for (const [value, pinned] of [['algorithm=MD5'], ['algorithm=hmac_sha256'], ['key=KS1'], [''], ['algorithm=HMAC_SHA1,algorithm=HMAC_SHA1'], [undefined, 'HMAC_SHA256'], ['algorithm=HMAC_SHA256', 'HMAC_SHA1']] as const) {
      expect(() => twilioAlgorithm(withSettings(value), pinned)).toThrow(expect.objectContaining({ statusCode: 401, name: 'SignatureAlgorithmError' }));
    }
    // The message never quotes what the sender wrote.
    expect(() => twilioAlgorithm(withSettings('algorithm=<script>'))).toThrow(/^x-twilio-webhooks-signature-settings names an algorithm Twilio does not sign with; expected HMAC_SHA1 or HMAC_SHA256$/);
  });
});
