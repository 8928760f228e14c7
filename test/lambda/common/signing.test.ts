import { createHash, createHmac } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { Webhook as SvixWebhook } from 'svix';
import { signHmac, signTwilio, standardWebhooksSignature, stripeSignature, twilioSignature } from '../../../lambda/common/signing';
import { GITHUB_SCHEME, STANDARD_WEBHOOKS_SCHEME, STRIPE_SCHEME } from '../../../lambda/common/signature-schemes';

// The signers are checked against the vendors' own verification libraries and published vectors
// (Twilio's is in presets.test.ts), so that the verifier and the signer, which share the scheme table, cannot be wrong together.
describe('signing', () => {
  const body = JSON.stringify({ id: 'evt_1', type: 'payment_intent.succeeded', note: 'caf\u00e9 \u2603' });
  const now = Math.floor(Date.now() / 1000);

  test('a Stripe signature passes stripe.webhooks.constructEvent', () => {
    // GIVEN an endpoint secret WHEN we sign THEN Stripe's own library accepts it
    const secret = 'whsec_test_secret';
    const header = stripeSignature(secret, body, now);
    const event = new Stripe('sk_test_unused').webhooks.constructEvent(body, header, secret);
    expect(event.id).toBe('evt_1');
    expect(() => new Stripe('sk_test_unused').webhooks.constructEvent(body, stripeSignature('whsec_other', body, now), secret)).toThrow();
  });

  test('Standard Webhooks and Svix signatures pass their libraries', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const headers = signHmac(STANDARD_WEBHOOKS_SCHEME, secret, body, { timestamp: now, headers: { 'webhook-id': 'msg_1' } });
    const all = { 'webhook-id': 'msg_1', ...headers };
    expect(new StandardWebhook(secret).verify(body, all)).toEqual(JSON.parse(body));
    expect(new SvixWebhook(secret).verify(body, {
      'svix-id': 'msg_1',
      'svix-timestamp': headers['webhook-timestamp'],
      'svix-signature': headers['webhook-signature'],
    })).toEqual(JSON.parse(body));
  });

  test('Standard Webhooks: the specification\'s example vector', () => {
    // https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
    const signature = standardWebhooksSignature(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  test('GitHub: the published example vector', () => {
    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    expect(signHmac(GITHUB_SCHEME, "It's a Secret to Everybody", 'Hello, World!')).toEqual({
      'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    });
  });

  test('Twilio: a JSON body is covered by bodySHA256 and the URL alone is signed', () => {
    const { url, headers } = signTwilio('token', 'https://example.com/hook', body, undefined);
    expect(new URL(url).searchParams.get('bodySHA256')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(headers['x-twilio-signature']).toBe(twilioSignature('token', url));
  });

  test('Twilio: bodySHA256 is appended to the URL as written, whose query keeps its spelling', () => {
    const { url } = signTwilio('token', "https://example.com/hook?note=a%20b&name=O'Brien", body, undefined);
    expect(url).toBe(`https://example.com/hook?note=a%20b&name=O'Brien&bodySHA256=${createHash('sha256').update(body).digest('hex')}`);
  });

  test('Twilio: as a Webhook Setting with HMAC_SHA256 signs, announced in the settings header', () => {
    // GIVEN a form and a URL
    const params: [string, string][] = [['To', '+1'], ['Body', 'hi']];
    // WHEN signed in SHA-256 mode
    const { url, headers } = signTwilio('shared-key', 'https://example.com/hook', 'To=%2B1&Body=hi', params, { algorithm: 'HMAC_SHA256' });
    // THEN the signature is the base64 HMAC-SHA256 of the same string Twilio signs with SHA-1, and the algorithm is announced
    expect(url).toBe('https://example.com/hook');
    expect(headers).toEqual({
      'x-twilio-signature': createHmac('sha256', 'shared-key').update('https://example.com/hookBodyhiTo+1').digest('base64'),
      'x-twilio-webhooks-signature-settings': 'algorithm=HMAC_SHA256',
    });
    expect(signTwilio('k', 'https://example.com/hook', '', params).headers).not.toHaveProperty('x-twilio-webhooks-signature-settings');
  });

  test('fails when a scheme signs a timestamp and none is given', () => {
    expect(() => signHmac(STRIPE_SCHEME, 's', body)).toThrow(/signs a timestamp/);
    expect(() => signHmac(STANDARD_WEBHOOKS_SCHEME, 'whsec_AAAA', body, { timestamp: now })).toThrow(/webhook-id header/);
  });
});
