import { ConfigError } from '../../../lambda/common/config-document';
import { parseIngestConfig } from '../../../lambda/ingest/config';
import { WebhookAuth } from '../../../lib';
import { ingestConfig } from '../../support/presets';

const valid = () => ingestConfig((s) => WebhookAuth.stripe(s)) as unknown as Record<string, unknown>;
const withChange = (change: (doc: Record<string, unknown>) => void) => {
  const doc = JSON.parse(JSON.stringify(valid())) as Record<string, unknown>;
  change(doc);
  return JSON.stringify(doc);
};

describe('parseIngestConfig', () => {
  test('accepts the document a preset produces, with the write deadline its backpressure policy sets', () => {
    expect(parseIngestConfig(JSON.stringify(valid()))).toEqual({ ...valid(), writeDeadlineMs: 20_000 });
  });

  test.each([
    ['the variable is not set', undefined, /not set/],
    ['not JSON', '{', /not JSON/],
    ['another version', withChange((d) => { d.version = 2; }), /version 2 is not supported; this handler reads version 1/],
    ['no stream', withChange((d) => { delete d.streamName; }), /config.streamName must be a non-empty string/],
    ['an unknown algorithm', withChange((d) => { (d.auth as Record<string, unknown>).algorithm = 'md5'; }), /auth.algorithm must be one of sha1, sha256, sha512/],
    ['a signed timestamp with no tolerance', withChange((d) => { delete (d.auth as Record<string, unknown>).toleranceSeconds; }), /toleranceSeconds must be a positive integer/],
    ['a tolerance for an unsigned timestamp', withChange((d) => { (d.auth as Record<string, unknown>).signedContent = '{body}'; }), /need a signed \{timestamp\}/],
    ['an upper-case allowlisted header', withChange((d) => { d.headerAllowlist = ['User-Agent']; }), /lower-case header names/],
    ['an unknown backpressure policy', withChange((d) => { (d.backpressure as Record<string, unknown>).kind = 'drop'; }), /backpressure.kind must be one of rejectWith429/],
    ['a partition key with no source', withChange((d) => { d.partitionKey = {}; }), /partitionKey must name a header or a JSON pointer/],
  ])('fails at cold start when %s', (_name, json, message) => {
    expect(() => parseIngestConfig(json)).toThrow(ConfigError);
    expect(() => parseIngestConfig(json)).toThrow(message);
  });
});

describe('parseIngestConfig: twilio', () => {
  const twilio = (auth: Record<string, unknown>) => JSON.stringify({ ...valid(), auth: { kind: 'twilio', secretArn: 'arn:aws:secretsmanager:us-east-1:1:secret:t', ...auth } });

  test.each([
    [{}],
    [{ url: 'https://hooks.example.com/twilio' }],
    [{ url: 'https://hooks.example.com:8443/prod/hooks/twilio' }],
    [{ url: 'https://hooks.example.com' }],
    [{ algorithm: 'HMAC_SHA1' }],
    [{ algorithm: 'HMAC_SHA256', url: 'https://a1b2.execute-api.us-east-1.amazonaws.com/prod/sms' }],
  ])('accepts %p', (auth) => {
    expect(parseIngestConfig(twilio(auth)).auth).toMatchObject(auth);
  });

  test.each([
    [{ url: 'http://hooks.example.com/twilio' }, /auth.url must be an https URL/],
    [{ url: 'https://hooks.example.com/twilio?x=1' }, /auth.url must be an https URL/],
    [{ url: 'https://hooks.example.com/twilio#x' }, /auth.url must be an https URL/],
    [{ url: 'https://user:pw@hooks.example.com/twilio' }, /auth.url must be an https URL/],
    [{ url: 'https://hooks.example.com:99999/twilio' }, /auth.url must be an https URL/],
    [{ url: 'https://hooks example.com/twilio' }, /auth.url must be an https URL/],
    [{ url: 'https://a%zz.com/twilio' }, /auth.url must be an https URL/],
    [{ url: 'https://[::1]/twilio' }, /auth.url must be an https URL/],
    [{ url: 'https:///twilio' }, /auth.url must be an https URL/],
    [{ url: 42 }, /auth.url must be an https URL/],
    [{ algorithm: 'HMAC_SHA512' }, /auth.algorithm must be one of HMAC_SHA1, HMAC_SHA256/],
    [{ algorithm: 'sha256' }, /auth.algorithm must be one of HMAC_SHA1, HMAC_SHA256/],
  ])('fails at cold start when auth is %p', (auth, message) => {
    expect(() => parseIngestConfig(twilio(auth))).toThrow(ConfigError);
    expect(() => parseIngestConfig(twilio(auth))).toThrow(message);
  });
});
