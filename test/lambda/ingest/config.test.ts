import { ConfigError } from '../../../lambda/common/config-document';
import { App, Size, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { headerAllowlistProblem, keepFractionProblem, multipartFileSizeProblem, parseIngestConfig } from '../../../lambda/ingest/config';
import { BackpressurePolicy, ClaimCheck, WebhookAuth, WebhookStreamSource } from '../../../lib';
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

describe('one rule, checked at synth and at cold start with the same reason', () => {
  const stack = () => new Stack(new App(), 'Test');
  const secret = (s: Stack) => secretsmanager.Secret.fromSecretCompleteArn(s, 'Secret', 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:stripe-AbCdEf');
  const coldStart = (change: (doc: Record<string, unknown>) => void) => () => parseIngestConfig(withChange(change));
  const escape = (text: string) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

  test('keepFraction of 1 is refused by the policy and by the parse', () => {
    // GIVEN the reason the shared rule gives
    const reason = keepFractionProblem(1)!;
    expect(reason).toBeDefined();
    // THEN the construct names the prop and the value, the parse names the document's field
    expect(() => BackpressurePolicy.sampleOrShed({ keepFraction: 1, lossBudget: 0.1 })._bind('Owner')).toThrow(escape(`Owner: keepFraction ${reason}, got 1`));
    expect(coldStart((d) => { d.backpressure = { kind: 'sampleOrShed', keepFraction: 1, pressureWindowMs: 30_000, maxAttempts: 3, retryBudgetMs: 2_000 }; }))
      .toThrow(escape(`backpressure.keepFraction ${reason}`));
  });

  test('a multipart file limit above the body limit is refused by the source and by the parse', () => {
    const reason = multipartFileSizeProblem(2 * 1024 * 1024, 1024 * 1024)!;
    expect(reason).toBeDefined();
    expect(() => {
      const s = stack();
      new WebhookStreamSource(s, 'Stripe', { auth: WebhookAuth.stripe(secret(s)), claimCheck: ClaimCheck.s3(), multipart: { maxFileSize: Size.mebibytes(2) } });
    }).toThrow(escape(`multipart maxFileSize ${reason}`));
    expect(coldStart((d) => {
      d.maxBodyBytes = 1024 * 1024;
      d.claimCheck = { bucket: 'payloads', prefix: '' };
      d.multipart = { maxParts: 2, maxFields: 1, maxFieldBytes: 10, maxFiles: 1, maxFileBytes: 2 * 1024 * 1024, maxTotalFileBytes: 1024 * 1024 };
    })).toThrow(escape(`multipart.maxFileBytes ${reason}`));
  });

  test('a credential header in the allowlist is refused by the source and by the parse', () => {
    const reason = headerAllowlistProblem(['authorization'])!;
    expect(reason).toMatch(/must not include credentials or signatures, got 'authorization'/);
    expect(() => {
      const s = stack();
      new WebhookStreamSource(s, 'Stripe', { auth: WebhookAuth.stripe(secret(s)), forwardedHeaders: ['Authorization'] });
    }).toThrow(escape(`forwardedHeaders ${reason}`));
    expect(coldStart((d) => { d.headerAllowlist = ['authorization']; })).toThrow(escape(`headerAllowlist ${reason}`));
  });

  test('the source\'s own signature header in the allowlist is refused at cold start too', () => {
    expect(coldStart((d) => { d.headerAllowlist = ['user-agent', 'stripe-signature']; })).toThrow(/headerAllowlist must not include credentials or signatures, got 'stripe-signature'/);
    expect(coldStart((d) => {
      d.auth = { kind: 'bearer', secretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:t', header: 'x-token' };
      d.headerAllowlist = ['x-token'];
    })).toThrow(/headerAllowlist must not include credentials or signatures, got 'x-token'/);
  });
});

describe('the write deadline', () => {
  test.each([
    ['rejectWith429', { kind: 'rejectWith429', retryAfterSeconds: 1, maxAttempts: 3, retryBudgetMs: 2_000 }, 20_000],
    ['sampleOrShed', { kind: 'sampleOrShed', keepFraction: 0.5, pressureWindowMs: 30_000, maxAttempts: 3, retryBudgetMs: 2_000 }, 20_000],
    ['queueAndSlowAccept', { kind: 'queueAndSlowAccept', queueUrl: 'https://sqs/q.fifo', queueWindowMs: 60_000, retryAfterSeconds: 1, maxAttempts: 3, retryBudgetMs: 2_000 }, 12_000],
  ])('with %s is %p ms: the queue needs room to take the spill within API Gateway\'s 29 s', (_kind, backpressure, deadlineMs) => {
    expect(parseIngestConfig(withChange((d) => { d.backpressure = backpressure; })).writeDeadlineMs).toBe(deadlineMs);
  });
});
