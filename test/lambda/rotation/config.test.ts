import { App, Stack } from 'aws-cdk-lib';
import { parseRotationConfig, secretBytesProblem } from '../../../lambda/rotation/config';
import { SigningSecretFormat, WebhookSigningSecret } from '../../../lib';

describe('parseRotationConfig', () => {
  test('reads the document the construct writes', () => {
    expect(parseRotationConfig(JSON.stringify({ version: 1, format: 'hex', bytes: 32, eventBusName: 'secrets' })))
      .toEqual({ version: 1, format: 'hex', bytes: 32, eventBusName: 'secrets' });
  });

  test('leaves eventBusName out for the default bus', () => {
    expect(parseRotationConfig('{"version":1,"format":"whsec","bytes":24}')).toEqual({ version: 1, format: 'whsec', bytes: 24 });
  });

  test.each([
    [undefined, /WEBHOOK_INGRESS_CONFIG: the variable is not set/],
    ['{', /not JSON/],
    ['[]', /must be a JSON object/],
    ['{"version":2,"format":"whsec","bytes":32}', /version 2 is not supported/],
    ['{"version":1,"format":"base32","bytes":32}', /format must be one of whsec, hex, token, got "base32"/],
    ['{"version":1,"format":"whsec","bytes":16}', /bytes must be a whole number from 24 to 64 for whsec, got 16/],
    ['{"version":1,"format":"token","bytes":65}', /from 16 to 64 for token, got 65/],
    ['{"version":1,"format":"hex","bytes":"32"}', /bytes must be a whole number/],
    ['{"version":1,"format":"hex","bytes":32,"eventBusName":""}', /eventBusName must be a non-empty/],
  ])('fails when the document is %s', (json, message) => {
    expect(() => parseRotationConfig(json)).toThrow(message);
  });
});

describe('one rule, checked at synth and at cold start with the same reason', () => {
  test('too few bytes for the format are refused by the construct and by the parse', () => {
    // GIVEN the reason the shared rule gives for 8 bytes of hex
    const reason = secretBytesProblem('hex', 8)!;
    expect(reason).toBe('must be a whole number from 16 to 64 for hex, got 8');
    // THEN both name it
    expect(() => new WebhookSigningSecret(new Stack(new App(), 'Test'), 'Signing', { format: SigningSecretFormat.HEX, bytes: 8 }))
      .toThrow(`WebhookSigningSecret 'Test/Signing': bytes ${reason}`);
    expect(() => parseRotationConfig('{"version":1,"format":"hex","bytes":8}')).toThrow(`invalid WEBHOOK_INGRESS_CONFIG: bytes ${reason}`);
  });
});
