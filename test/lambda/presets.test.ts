import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import Twilio from 'twilio';
import { authenticate } from '../../lambda/common/authenticate';
import { MissingCredentialsError, SignatureMismatchError, TimestampOutsideToleranceError, WebhookError } from '../../lambda/common/errors';
import { fromApiGatewayEvent, withHeaderAliases } from '../../lambda/common/http';
import { githubSignature, planasonixSignature, segmentSignature, shopifySignature, signTwilio, slackSignature, standardWebhooksSignature, stripeSignature, twilioSignature } from '../../lambda/common/signing';
import { TwilioSignatureAlgorithm, WebhookAuth } from '../../lib';
import { anyAuthConfig } from '../support/presets';
import { apiGatewayEvent } from '../support/signers';

type Scheme = Parameters<typeof anyAuthConfig>[0];

interface Delivery {
  readonly body: string | Buffer;
  readonly headers: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly requestPath?: string;
  /** API Gateway's requestContext.domainName. */
  readonly domainName?: string;
}

/** Authenticates a delivery the way the ingest handler does, aliases included. */
async function check(scheme: Scheme, delivery: Delivery, secret: string, nowS: number) {
  const auth = anyAuthConfig(scheme);
  const binding = scheme(undefined as never)._bind('test');
  const event = apiGatewayEvent(delivery.body, { headers: delivery.headers, query: delivery.query, requestPath: delivery.requestPath, domainName: delivery.domainName });
  const request = withHeaderAliases(fromApiGatewayEvent(event, nowS * 1000), binding.headerAliases);
  return authenticate(auth, request, nowS * 1000, { secrets: { get: async () => [secret] } });
}

async function rejection(promise: Promise<unknown>): Promise<WebhookError> {
  const outcome = await promise.then(() => undefined, (e: unknown) => e);
  expect(outcome).toBeInstanceOf(WebhookError);
  return outcome as WebhookError;
}

/** Replaces one character with a different one (never just a change of case). */
const mutateText = (text: string) => fc.tuple(fc.nat({ max: text.length - 1 }), fc.constantFrom(...'0123456789abcdefxyzAZ+/=,.: ')).filter(
  ([i, c]) => text[i].toLowerCase() !== c.toLowerCase(),
).map(([i, c]) => text.slice(0, i) + c + text.slice(i + 1));

/** Flips one bit of one byte of the body. */
const mutateBody = (body: string | Buffer) => fc.tuple(fc.nat({ max: Buffer.byteLength(body) - 1 }), fc.integer({ min: 0, max: 7 })).map(([i, bit]) => {
  const bytes = Buffer.from(body);
  bytes[i] ^= 1 << bit;
  return bytes;
});

/** A property: every single mutation of a valid delivery's body or signed headers is refused. */
async function everyMutationIsRefused(scheme: Scheme, valid: Delivery, secret: string, nowS: number, signedHeaders: string[]) {
  await expect(check(scheme, valid, secret, nowS)).resolves.toBeDefined();
  const mutations = fc.oneof(
    mutateBody(valid.body).map((body) => ({ ...valid, body })),
    ...signedHeaders.map((name) => mutateText(valid.headers[name]).map((value) => ({ ...valid, headers: { ...valid.headers, [name]: value } }))),
  );
  await fc.assert(fc.asyncProperty(mutations, async (mutated) => (await rejection(check(scheme, mutated, secret, nowS))).statusCode === 401), { numRuns: 200, seed: 42 });
}

const NOW = 1_767_225_600;

describe('Slack', () => {
  const slack: Scheme = (s) => WebhookAuth.slack(s);

  test("Slack's published example verifies", async () => {
    // From "Verifying requests from Slack": signing secret, timestamp, body and signature as published.
    const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const headers = {
      'X-Slack-Request-Timestamp': '1531420618',
      'X-Slack-Signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      'Content-Type': 'application/x-www-form-urlencoded',
    };
    await expect(check(slack, { body, headers }, '8f742231b10e8888abcd99yyyzzz85a5', 1531420618 + 10))
      .resolves.toEqual({ signedTimestamp: 1531420618 });
  });

  test('the timestamp is checked both ways', async () => {
    const body = '{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}';
    for (const [t, ok] of [[NOW - 301, false], [NOW + 301, false], [NOW - 299, true], [NOW + 299, true]] as const) {
      const delivery = { body, headers: { 'x-slack-request-timestamp': String(t), 'x-slack-signature': slackSignature('s', body, t) } };
      if (ok) await expect(check(slack, delivery, 's', NOW)).resolves.toEqual({ signedTimestamp: t });
      else expect(await rejection(check(slack, delivery, 's', NOW))).toBeInstanceOf(TimestampOutsideToleranceError);
    }
  });

  test('any mutation of a signed request is refused', async () => {
    const body = '{"type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"message","text":"hi"}}';
    const headers = { 'x-slack-request-timestamp': String(NOW), 'x-slack-signature': slackSignature('slack-secret', body, NOW) };
    await everyMutationIsRefused(slack, { body, headers }, 'slack-secret', NOW, ['x-slack-signature', 'x-slack-request-timestamp']);
  });
});

describe('Standard Webhooks and Svix', () => {
  const standard: Scheme = (s) => WebhookAuth.standardWebhooks(s);
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const published = {
    body: '{"test": 2432232314}',
    headers: { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' },
  };

  test("the specification's published example verifies", async () => {
    await expect(check(standard, published, secret, 1614265330)).resolves.toEqual({ signedTimestamp: 1614265330 });
  });

  test('the svix-* header names work the same', async () => {
    const headers = Object.fromEntries(Object.entries(published.headers).map(([k, v]) => [k.replace('webhook-', 'svix-'), v]));
    await expect(check(standard, { ...published, headers }, secret, 1614265330)).resolves.toEqual({ signedTimestamp: 1614265330 });
  });

  test('a secret without padding or without the whsec_ prefix is the same key', async () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64'); // 32 bytes: padded base64
    expect(key.endsWith('=')).toBe(true);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(NOW), 'webhook-signature': standardWebhooksSignature(`whsec_${key}`, 'msg_1', NOW, '{}') };
    for (const stored of [`whsec_${key}`, `whsec_${key.replace(/=+$/, '')}`, key]) {
      await expect(check(standard, { body: '{}', headers }, stored, NOW)).resolves.toBeDefined();
    }
  });

  test('several space-separated signatures: any v1 may match, v1a entries are ignored', async () => {
    const good = standardWebhooksSignature(secret, 'msg_2', NOW, '{"a":1}');
    const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(NOW), 'webhook-signature': `v1a,${'A'.repeat(86)}== v1,${'B'.repeat(43)}= ${good}` };
    await expect(check(standard, { body: '{"a":1}', headers }, secret, NOW)).resolves.toBeDefined();
    const onlyV1a = { ...headers, 'webhook-signature': `v1a,${'A'.repeat(86)}==` };
    expect(await rejection(check(standard, { body: '{"a":1}', headers: onlyV1a }, secret, NOW))).toBeInstanceOf(MissingCredentialsError);
  });

  test('any mutation of a signed request is refused', async () => {
    const body = '{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"id":"in_1"}}';
    const headers = { 'webhook-id': 'msg_2pXq', 'webhook-timestamp': String(NOW), 'webhook-signature': standardWebhooksSignature(secret, 'msg_2pXq', NOW, body) };
    await everyMutationIsRefused(standard, { body, headers }, secret, NOW, ['webhook-id', 'webhook-timestamp', 'webhook-signature']);
  });

  describe('v1a: Ed25519 with a published public key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const whpk = `whpk_${publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64')}`;
    const v1a = (id: string, t: number, body: string) => `v1a,${sign(null, Buffer.from(`${id}.${t}.${body}`), privateKey).toString('base64')}`;
    const scheme: Scheme = () => WebhookAuth.standardWebhooksPublicKey({ publicKeys: [whpk] });

    test('a v1a signature verifies with the public key, next to v1 entries it ignores', async () => {
      const headers = { 'webhook-id': 'msg_3', 'webhook-timestamp': String(NOW), 'webhook-signature': `v1,${'C'.repeat(43)}= ${v1a('msg_3', NOW, '{"x":1}')}` };
      await expect(check(scheme, { body: '{"x":1}', headers }, 'unused', NOW)).resolves.toEqual({ signedTimestamp: NOW });
    });

    test('any mutation of a signed request is refused', async () => {
      const body = '{"type":"user.created","data":{"id":"u_1"}}';
      const headers = { 'webhook-id': 'msg_4', 'webhook-timestamp': String(NOW), 'webhook-signature': v1a('msg_4', NOW, body) };
      await everyMutationIsRefused(scheme, { body, headers }, 'unused', NOW, ['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    });

    test('fails when signed by another key', async () => {
      const other = generateKeyPairSync('ed25519').privateKey;
      const sig = `v1a,${sign(null, Buffer.from(`msg_5.${NOW}.{}`), other).toString('base64')}`;
      const headers = { 'webhook-id': 'msg_5', 'webhook-timestamp': String(NOW), 'webhook-signature': sig };
      expect(await rejection(check(scheme, { body: '{}', headers }, 'unused', NOW))).toBeInstanceOf(SignatureMismatchError);
    });
  });
});

describe('Twilio', () => {
  const twilio: Scheme = (s) => WebhookAuth.twilio(s);

  test("Twilio's published example verifies, with and without the default port", async () => {
    // From Twilio's webhook security docs: auth token 12345, this URL and these parameters.
    const params: [string, string][] = [['CallSid', 'CA1234567890ABCDE'], ['Caller', '+14158675310'], ['Digits', '1234'], ['From', '+14158675310'], ['To', '+18005551212']];
    expect(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params)).toBe('GvWf1cFY/Q7PnoempGyD5oXAezc=');
    const body = new URLSearchParams(params).toString();
    const delivery = (signature: string) => ({
      body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature },
      query: { foo: '1', bar: '2' },
      domainName: 'mycompany.com',
      requestPath: '/myapp.php',
    });
    await expect(check(twilio, delivery('GvWf1cFY/Q7PnoempGyD5oXAezc='), '12345', NOW)).resolves.toEqual({});
    const withPort = twilioSignature('12345', 'https://mycompany.com:443/myapp.php?foo=1&bar=2', params);
    await expect(check(twilio, delivery(withPort), '12345', NOW)).resolves.toEqual({});
  });

  test('a JSON body is covered by bodySHA256 in the signed URL', async () => {
    const body = '{"MessageSid":"SM1","MessageStatus":"delivered"}';
    const hash = createHash('sha256').update(body).digest('hex');
    const url = `https://hooks.example.com/prod/twilio?bodySHA256=${hash}`;
    const headers = { 'Content-Type': 'application/json', 'X-Twilio-Signature': twilioSignature('tok', url) };
    const delivery = { body, headers, query: { bodySHA256: hash }, domainName: 'hooks.example.com', requestPath: '/prod/twilio' };
    await expect(check(twilio, delivery, 'tok', NOW)).resolves.toEqual({});
    expect(await rejection(check(twilio, { ...delivery, body: body.replace('delivered', 'failed') }, 'tok', NOW))).toBeInstanceOf(SignatureMismatchError);
  });

  test('any change to a parameter, the URL or the signature is refused', async () => {
    const params: [string, string][] = [['MessageSid', 'SM9'], ['From', '+14155550100'], ['Body', 'Hello there']];
    const url = 'https://hooks.example.com/prod/sms';
    const valid = {
      body: new URLSearchParams(params).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': twilioSignature('tok', url, params) },
      domainName: 'hooks.example.com',
      requestPath: '/prod/sms',
    };
    await expect(check(twilio, valid, 'tok', NOW)).resolves.toEqual({});
    const mutations = fc.oneof(
      fc.tuple(fc.nat({ max: params.length - 1 }), fc.string({ minLength: 1, maxLength: 5 })).filter(([i, v]) => params[i][1] !== v)
        .map(([i, v]) => ({ ...valid, body: new URLSearchParams(params.map(([k, old], j): [string, string] => [k, j === i ? v : old])).toString() })),
      fc.string({ minLength: 1, maxLength: 5 }).map((extra) => ({ ...valid, body: `${valid.body}&Extra=${encodeURIComponent(extra)}` })),
      mutateText(valid.headers['X-Twilio-Signature']).map((sig) => ({ ...valid, headers: { ...valid.headers, 'X-Twilio-Signature': sig } })),
      fc.constantFrom('/prod/sms2', '/dev/sms', '/prod/SMS').map((requestPath) => ({ ...valid, requestPath })),
      fc.constantFrom('other.example.com', 'hooks.example.co', 'hooks.example.com.evil.example').map((domainName) => ({ ...valid, domainName })),
      fc.dictionary(fc.constantFrom('a', 'note', 'bodySHA256x'), fc.string({ maxLength: 4 }), { minKeys: 1 }).map((query) => ({ ...valid, query })),
    );
    await fc.assert(fc.asyncProperty(mutations, async (mutated) => (await rejection(check(twilio, mutated, 'tok', NOW))).statusCode === 401), { numRuns: 200, seed: 7 });
  });

  test('nothing a sender or a broken event puts in the Host, domain name, path, query or settings header throws anything but a WebhookError', async () => {
    const configs = [anyAuthConfig((s) => WebhookAuth.twilio(s)), anyAuthConfig((s) => WebhookAuth.twilio(s, { algorithm: TwilioSignatureAlgorithm.HMAC_SHA256 }))];
    const text = fc.string({ unit: fc.oneof(fc.constantFrom(...' %#?/:@[]\\\u0000\u00e9\ud800'.split('')), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 12 });
    await fc.assert(fc.asyncProperty(
      fc.record({ host: text, domainName: fc.option(text), requestPath: fc.option(text), query: fc.dictionary(text, text, { maxKeys: 3 }), settings: fc.option(text), signature: text }),
      async ({ host, domainName, requestPath, query, settings, signature }) => {
        // GIVEN any such request
        const event = apiGatewayEvent('Body=hi', {
          headers: { Host: host, 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature, ...(settings === null ? {} : { 'X-Twilio-Webhooks-Signature-Settings': settings }) },
          query,
          ...(domainName === null ? {} : { domainName }),
          ...(requestPath === null ? {} : { requestPath }),
        });
        if (requestPath === null) (event.requestContext as { path?: string }).path = undefined;
        const request = fromApiGatewayEvent(event, NOW * 1000);
        // WHEN it is authenticated, pinned or not
        for (const config of configs) {
          const outcome = await authenticate(config, request, NOW * 1000, { secrets: { get: async () => ['tok'] } }).then(() => undefined, (e: unknown) => e);
          // THEN it is refused with a typed 4xx
          expect(outcome).toBeInstanceOf(WebhookError);
          expect((outcome as WebhookError).statusCode).toBeLessThan(500);
        }
      },
    ), { numRuns: 150, seed: 23 });
  });

  describe("checked against Twilio's own library (twilio 6.2.0)", () => {
    /** Printable ASCII and a few non-ASCII characters, the kind a webhook URL's query carries. */
    const queryText = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -._~!\'()*$,;:@/?+=&%#"<>[]{}|^`\u00e9\u20ac'.split('')), maxLength: 8 });
    /** How a user may write a value in the URL configured at Twilio; each decodes to the same value. */
    const spell = (value: string, style: number) => {
      switch (style) {
        case 0: return encodeURIComponent(value); // %20, ~!'()* as is
        case 1: return new URLSearchParams([['', value]]).toString().slice(1); // +, ~!'() encoded
        case 2: return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`); // RFC 3986
        default: return encodeURIComponent(value).replace(/%20/g, '+'); // querystring with +
      }
    };
    const urls = fc.record({
      port: fc.constantFrom('', ':443', ':8443'),
      path: fc.constantFrom('/prod/sms', '/sms', '/prod/hooks/twilio'),
      query: fc.array(fc.tuple(fc.constantFrom('note', 'to', 'x y', 'q~'), queryText), { maxLength: 3 }),
      style: fc.nat({ max: 3 }),
      params: fc.dictionary(fc.constantFrom('Body', 'From', 'MessageSid', 'To'), queryText),
    });

    test('every URL Twilio signs, with a port or not and with any query spelling, verifies; a change of the query does not', async () => {
      await fc.assert(fc.asyncProperty(urls, async ({ port, path, query, style, params }) => {
        // GIVEN a webhook URL as configured at Twilio, and the signature Twilio's library computes for it
        const distinct = [...new Map(query.map(([k, v]) => [k, v])).entries()]; // API Gateway groups by name
        const search = distinct.length === 0 ? '' : `?${distinct.map(([k, v]) => `${spell(k, style)}=${spell(v, style)}`).join('&')}`;
        const url = `https://hooks.example.com${port}${path}${search}`;
        const signature = Twilio.getExpectedTwilioSignature('tok', url, params);
        expect(Twilio.validateRequest('tok', signature, url, params)).toBe(true);
        // WHEN it arrives through API Gateway, which decodes the query
        const delivery = {
          body: new URLSearchParams(params).toString(),
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': signature },
          query: Object.fromEntries(new URLSearchParams(search)),
          domainName: `hooks.example.com${port}`,
          requestPath: path,
        };
        // THEN it verifies, and a query Twilio did not sign does not
        await expect(check(twilio, delivery, 'tok', NOW)).resolves.toEqual({});
        const changed = { ...delivery.query, extra: 'x' };
        expect((await rejection(check(twilio, { ...delivery, query: changed }, 'tok', NOW))).statusCode).toBe(401);
      }), { numRuns: 150, seed: 13 });
    });

    test("this library's signer agrees with Twilio's validators, for forms and for JSON bodies", () => {
      fc.assert(fc.property(urls, ({ port, path, params }) => {
        const url = `https://hooks.example.com${port}${path}?note=a%20b`;
        const pairs = Object.entries(params);
        // A form: the URL plus the sorted parameters.
        const form = signTwilio('tok', url, new URLSearchParams(pairs).toString(), pairs);
        expect(form.url).toBe(url);
        expect(form.headers['x-twilio-signature']).toBe(Twilio.getExpectedTwilioSignature('tok', url, params));
        expect(Twilio.validateRequest('tok', form.headers['x-twilio-signature'], url, params)).toBe(true);
        // JSON: bodySHA256 appended to the URL as written, the URL alone signed.
        const body = JSON.stringify(params);
        const json = signTwilio('tok', url, body, undefined);
        expect(json.url.startsWith(`${url}&bodySHA256=`)).toBe(true);
        expect(Twilio.validateRequestWithBody('tok', json.headers['x-twilio-signature'], json.url, body)).toBe(true);
      }), { numRuns: 100, seed: 17 });
    });
  });
});

describe.each([
  ['Segment', ((s) => WebhookAuth.segment(s)) as Scheme, 'X-Signature', (secret: string, body: string) => segmentSignature(secret, body)],
  ['Shopify', ((s) => WebhookAuth.shopify(s)) as Scheme, 'X-Shopify-Hmac-Sha256', (secret: string, body: string) => shopifySignature(secret, body)],
  ['GitHub', ((s) => WebhookAuth.github(s)) as Scheme, 'X-Hub-Signature-256', (secret: string, body: string) => githubSignature(secret, body)],
])('%s', (_name, scheme, headerName, signer) => {
  const body = '{"id":820982911946154508,"email":"jon@example.com","type":"track","messageId":"ajs-1"}';

  test('a request signed by its scheme verifies, and the wrong secret does not', async () => {
    await expect(check(scheme, { body, headers: { [headerName]: signer('shh', body) } }, 'shh', NOW)).resolves.toEqual({});
    expect(await rejection(check(scheme, { body, headers: { [headerName]: signer('other', body) } }, 'shh', NOW))).toBeInstanceOf(SignatureMismatchError);
  });

  test('any mutation of a signed request is refused', async () => {
    await everyMutationIsRefused(scheme, { body, headers: { [headerName]: signer('shh', body) } }, 'shh', NOW, [headerName]);
  });
});

describe('Stripe', () => {
  test('any mutation of a signed request is refused', async () => {
    const body = '{"id":"evt_1","type":"invoice.paid","created":1767225600}';
    await everyMutationIsRefused((s) => WebhookAuth.stripe(s), { body, headers: { 'Stripe-Signature': stripeSignature('whsec_x', body, NOW) } }, 'whsec_x', NOW, ['Stripe-Signature']);
  });
});

describe('Planasonix', () => {
  const planasonix: Scheme = (s) => WebhookAuth.planasonix(s);

  test('HMAC-SHA256 over "<timestamp>.<body>" with a one-minute window', async () => {
    const body = '{"export_id":"exp_1","location":"s3://bucket/key"}';
    const signed = (t: number) => ({ body, headers: { 'X-Planasonix-Timestamp': String(t), 'X-Planasonix-Signature': planasonixSignature('pk', body, t) } });
    await expect(check(planasonix, signed(NOW - 59), 'pk', NOW)).resolves.toEqual({ signedTimestamp: NOW - 59 });
    expect(await rejection(check(planasonix, signed(NOW - 61), 'pk', NOW))).toBeInstanceOf(TimestampOutsideToleranceError);
  });

  test('any mutation of a signed request is refused', async () => {
    const body = '{"export_id":"exp_2"}';
    const headers = { 'X-Planasonix-Timestamp': String(NOW), 'X-Planasonix-Signature': planasonixSignature('pk', body, NOW) };
    await everyMutationIsRefused(planasonix, { body, headers }, 'pk', NOW, ['X-Planasonix-Signature', 'X-Planasonix-Timestamp']);
  });
});
