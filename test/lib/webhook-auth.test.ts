import { App, Duration, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { HmacAlgorithm, SignatureEncoding, TwilioSignatureAlgorithm, WebhookAuth } from '../../lib';

const secret = secretsmanager.Secret.fromSecretCompleteArn(
  new Stack(new App(), 'S'), 'Secret', 'arn:aws:secretsmanager:us-east-1:111111111111:secret:s-AbCdEf');

/** The handler configuration of an HMAC scheme: HMAC-SHA256 in hex unless `fields` say otherwise. */
const hmacConfig = (fields: Record<string, unknown>) => ({ kind: 'hmac', algorithm: 'sha256', encoding: 'hex', ...fields });

describe('WebhookAuth presets', () => {
  test('stripe: t= and v1= in Stripe-Signature over "<t>.<body>", 300 s by default', () => {
    const binding = WebhookAuth.stripe(secret)._bind('X');
    expect(binding.preset).toBe('stripe');
    expect(binding.requiredHeader).toBe('Stripe-Signature');
    expect(binding.secret).toBe(secret);
    expect(binding.config).toEqual(hmacConfig({
      signatureHeader: 'stripe-signature',
      signatureFormat: { kind: 'keyValueList', separator: ',', timestampKey: 't', signatureKey: 'v1' },
      signedContent: '{timestamp}.{body}',
      toleranceSeconds: 300,
    }));
    expect(binding.metadata).toEqual({ id: { jsonPointer: '/id' }, type: { jsonPointer: '/type' }, timestamp: { jsonPointer: '/created' }, account: { jsonPointer: '/account' } });
    expect(WebhookAuth.stripe(secret, { tolerance: Duration.minutes(10) })._bind('X').config).toMatchObject({ toleranceSeconds: 600 });
  });

  test('github: sha256= in X-Hub-Signature-256 over the body; delivery id and event from headers', () => {
    const binding = WebhookAuth.github(secret)._bind('X');
    expect(binding.config).toEqual(hmacConfig({ signatureHeader: 'x-hub-signature-256', signatureFormat: { kind: 'plain', prefix: 'sha256=' }, signedContent: '{body}' }));
    expect(binding.metadata).toEqual({ id: { header: 'x-github-delivery' }, type: { header: 'x-github-event' } });
    expect(binding.forwardedHeaders).toContain('x-github-event');
    expect(binding.requiredHeader).toBe('X-Hub-Signature-256');
  });

  test('hmac: options map to the handler configuration', () => {
    const binding = WebhookAuth.hmac({
      secret,
      signatureHeader: 'X-Signature',
      algorithm: HmacAlgorithm.SHA512,
      encoding: SignatureEncoding.BASE64,
      signaturePrefix: 'v1,',
      signedContent: '{header:X-Id}.{timestamp}.{body}',
      timestampHeader: 'X-Timestamp',
      tolerance: Duration.seconds(30),
    })._bind('X');
    expect(binding.config).toEqual(hmacConfig({
      algorithm: 'sha512',
      encoding: 'base64',
      signatureHeader: 'x-signature',
      signatureFormat: { kind: 'plain', prefix: 'v1,' },
      signedContent: '{header:X-Id}.{timestamp}.{body}',
      timestampHeader: 'x-timestamp',
      toleranceSeconds: 30,
    }));
  });
});

describe('WebhookAuth validation', () => {
  test('fails when the tolerance is outside 1 s to 1 h, naming the owner', () => {
    expect(() => WebhookAuth.stripe(secret, { tolerance: Duration.hours(2) })._bind("WebhookStreamSource 'App/Stripe'"))
      .toThrow("WebhookStreamSource 'App/Stripe': tolerance must be a whole number of seconds between 1 second and 1 hour, got 2 hours");
    expect(() => WebhookAuth.stripe(secret, { tolerance: Duration.millis(1500) })._bind('X')).toThrow(/got 1 second 500 millis/);
  });

  test('fails when signedContent does not include {body}', () => {
    expect(() => WebhookAuth.hmac({ secret, signatureHeader: 'X-Sig', signedContent: '{timestamp}', timestampHeader: 'X-Ts' })._bind('X'))
      .toThrow(/signedContent '\{timestamp\}' must include \{body\}/);
  });

  test('fails when a timestamp header or tolerance is given but the timestamp is not signed', () => {
    expect(() => WebhookAuth.hmac({ secret, signatureHeader: 'X-Sig', timestampHeader: 'X-Ts' })._bind('X'))
      .toThrow(/need \{timestamp\} in signedContent; an unsigned timestamp cannot be trusted/);
    expect(() => WebhookAuth.hmac({ secret, signatureHeader: 'X-Sig', tolerance: Duration.minutes(1) })._bind('X'))
      .toThrow(/need \{timestamp\} in signedContent/);
  });

  test('fails when {timestamp} is signed but no header carries it', () => {
    expect(() => WebhookAuth.hmac({ secret, signatureHeader: 'X-Sig', signedContent: '{timestamp}.{body}' })._bind('X'))
      .toThrow(/timestampHeader must name the header/);
  });

  test('fails on an unknown placeholder or an invalid header name', () => {
    expect(() => WebhookAuth.hmac({ secret, signatureHeader: 'X-Sig', signedContent: '{url}{body}' })._bind('X')).toThrow(/unknown placeholder \{url\}/);
    expect(() => WebhookAuth.hmac({ secret, signatureHeader: 'X Sig' })._bind('X')).toThrow(/signatureHeader 'X Sig' is not a valid HTTP header name/);
  });
});

describe('WebhookAuth.twilio', () => {
  test('binds the public URL and the pinned algorithm for the handler, and neither by default', () => {
    // GIVEN the preset without options, and with a URL and an algorithm
    const plain = WebhookAuth.twilio(secret)._bind('X');
    const pinned = WebhookAuth.twilio(secret, { url: 'https://hooks.example.com/twilio', algorithm: TwilioSignatureAlgorithm.HMAC_SHA256 })._bind('X');
    // THEN the handler gets them as given
    expect(plain.config).toEqual({ kind: 'twilio' });
    expect(pinned.config).toEqual({ kind: 'twilio', url: 'https://hooks.example.com/twilio', algorithm: 'HMAC_SHA256' });
    expect(pinned.requiredHeader).toBe('X-Twilio-Signature');
    expect(WebhookAuth.twilio(secret, { url: 'https://hooks.example.com:8443/prod/sms' })._bind('X').config).toMatchObject({ url: 'https://hooks.example.com:8443/prod/sms' });
  });

  test.each([
    ['http://hooks.example.com/twilio', /url must be https \(API Gateway serves only https\)/],
    ['hooks.example.com/twilio', /url must be https/],
    ['https://user:secret@hooks.example.com/twilio', /url must not hold credentials/],
    ['https://hooks.example.com/twilio?tenant=a', /url must not have a query: the query Twilio sends \(such as bodySHA256\) is read from each request/],
    ['https://hooks.example.com/twilio#frag', /url must not have a fragment/],
    ['https://hooks.example.com:99999/twilio', /url must be the https URL Twilio calls/],
    ['https://hooks example.com/twilio', /url must be the https URL Twilio calls/],
    ['https://hooks.example.com/tw ilio', /url must be the https URL Twilio calls/],
    ['https://hooks.example.com/caf\u00e9', /url must be the https URL Twilio calls/],
    ['https://hooks.example.com/a%zz', /url must be the https URL Twilio calls/],
  ])('fails at synth when url is %p, naming the owner, the value and an example', (url, message) => {
    expect(() => WebhookAuth.twilio(secret, { url })._bind("WebhookStreamSource 'App/Twilio'")).toThrow(message);
    expect(() => WebhookAuth.twilio(secret, { url })._bind("WebhookStreamSource 'App/Twilio'")).toThrow(new RegExp(`^WebhookStreamSource 'App/Twilio': .*such as 'https://hooks.example.com/twilio', got '${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'$`));
  });

  test('fails at synth when the algorithm is not one Twilio signs with', () => {
    expect(() => WebhookAuth.twilio(secret, { algorithm: 'HMAC_SHA512' as TwilioSignatureAlgorithm })._bind('X')).toThrow(/X: algorithm must be TwilioSignatureAlgorithm.HMAC_SHA1 or HMAC_SHA256, got 'HMAC_SHA512'/);
  });
});
