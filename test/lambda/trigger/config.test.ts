import { ConfigError } from '../../../lambda/common/config-document';
import { parseStateMachineArn, parseTriggerConfig, type TriggerConfig } from '../../../lambda/trigger/config';
import { WebhookAuth } from '../../../lib';
import { anyAuthConfig } from '../../support/presets';

const SM_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:exports';

const valid = (): TriggerConfig => ({
  version: 1,
  source: 'planasonix',
  target: { arn: SM_ARN, stateMachineArn: SM_ARN },
  auth: anyAuthConfig((s) => WebhookAuth.planasonix(s)),
  secretCacheTtlSeconds: 60,
  parameters: [
    { name: 'exportId', from: { jsonPath: '$.export_id' }, required: true, type: 'integer' },
    { name: 'firstUri', from: { jsonPath: "$.items[0]['uri']" }, required: false },
    { name: 'requestedBy', from: { header: 'x-requested-by' }, required: false, type: 'string' },
    { name: 'pipeline', from: { value: 'nightly' }, required: true, type: 'string' },
    { name: 'note', from: { value: null }, required: false },
  ],
  validation: 'strict',
  includeBody: false,
  idempotencyHeaders: ['idempotency-key', 'x-planasonix-delivery'],
  maxBodyBytes: 262144,
  retryAfterSeconds: 5,
});
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const withChange = (change: (doc: Doc) => void) => {
  const doc = JSON.parse(JSON.stringify(valid())) as Doc;
  change(doc);
  return JSON.stringify(doc);
};

describe('parseTriggerConfig', () => {
  test('accepts a complete document', () => {
    expect(parseTriggerConfig(JSON.stringify(valid()))).toEqual(valid());
  });

  test('accepts a version or an alias as the target, Ed25519 and JWT auth, and no parameters', () => {
    for (const arn of [`${SM_ARN}:7`, `${SM_ARN}:prod`]) {
      expect(parseTriggerConfig(withChange((d) => { d.target.arn = arn; })).target.arn).toBe(arn);
    }
    const ed25519 = anyAuthConfig(() => WebhookAuth.standardWebhooksPublicKey({ publicKeys: [`whpk_${Buffer.alloc(32, 7).toString('base64')}`] }));
    expect(parseTriggerConfig(withChange((d) => { d.auth = ed25519; })).auth.kind).toBe('ed25519');
    expect(parseTriggerConfig(withChange((d) => { d.parameters = []; d.idempotencyHeaders = []; })).parameters).toEqual([]);
  });

  test.each([
    ['the variable is not set', undefined, /not set/],
    ['not JSON', '{', /not JSON/],
    ['another version', withChange((d) => { d.version = 2; }), /version 2 is not supported; this handler reads trigger version 1/],
    ['no source', withChange((d) => { delete d.source; }), /config.source must be a non-empty string/],
    ['no target', withChange((d) => { delete d.target; }), /target must be an object/],
    ['a target that is not a state machine ARN', withChange((d) => { d.target.stateMachineArn = 'arn:aws:lambda:us-east-1:111111111111:function:f'; }), /target.stateMachineArn must be a state machine ARN/],
    ['a target of another state machine', withChange((d) => { d.target.arn = `${SM_ARN}2`; }), /target.arn must be target.stateMachineArn, or it followed by :<version> or :<alias>/],
    ['a bad auth', withChange((d) => { d.auth.algorithm = 'md5'; }), /auth.algorithm must be one of sha1, sha256, sha512/],
    ['a tolerance for an unsigned timestamp', withChange((d) => { d.auth.signedContent = '{body}'; }), /need a signed \{timestamp\}/],
    ['parameters that are not a list', withChange((d) => { d.parameters = {}; }), /parameters must be a list/],
    ['a parameter with no name', withChange((d) => { delete d.parameters[0].name; }), /parameters\[0\].name must be a non-empty string/],
    ['two parameters with one name', withChange((d) => { d.parameters[1].name = 'exportId'; }), /parameters\[1\].name 'exportId' is used twice/],
    ['a parameter with no required flag', withChange((d) => { delete d.parameters[0].required; }), /parameters\[0\].required must be true or false/],
    ['an unknown type', withChange((d) => { d.parameters[0].type = 'date'; }), /parameters\[0\].type must be one of string, number, integer, boolean, object, array/],
    ['two sources', withChange((d) => { d.parameters[0].from.header = 'x-a'; }), /parameters\[0\].from must have exactly one of jsonPath, header or value/],
    ['no source at all', withChange((d) => { d.parameters[0].from = {}; }), /exactly one of jsonPath, header or value/],
    ['a wildcard', withChange((d) => { d.parameters[1].from.jsonPath = '$.items[*].uri'; }), /parameters\[1\].from.jsonPath '\$.items\[\*\].uri' is not supported: wildcards are not supported \(at offset 8\)/],
    ['a filter', withChange((d) => { d.parameters[1].from.jsonPath = '$.items[?(@.uri)]'; }), /filter expressions are not supported/],
    ['a path not starting at $', withChange((d) => { d.parameters[1].from.jsonPath = 'items[0]'; }), /a path must start with \$/],
    ['an upper-case header', withChange((d) => { d.parameters[2].from.header = 'X-Requested-By'; }), /parameters\[2\].from.header must be a lower-case header name/],
    ['a typed header', withChange((d) => { d.parameters[2].type = 'integer'; }), /parameters\[2\].type must be string or absent/],
    ['a static value of the wrong type', withChange((d) => { d.parameters[3].from.value = 7; }), /parameters\[3\].from.value is not of type string/],
    ['a required static null', withChange((d) => { d.parameters[4].required = true; }), /parameters\[4\] is required but its static value is null/],
    ['an unknown validation mode', withChange((d) => { d.validation = 'quarantine'; }), /validation must be one of strict, lenient/],
    ['includeBody as a string', withChange((d) => { d.includeBody = 'yes'; }), /config.includeBody must be true or false/],
    ['an upper-case idempotency header', withChange((d) => { d.idempotencyHeaders = ['Idempotency-Key']; }), /idempotencyHeaders must be a list of lower-case header names/],
    ['no retryAfterSeconds', withChange((d) => { delete d.retryAfterSeconds; }), /config.retryAfterSeconds must be a positive integer/],
    ['a zero maxBodyBytes', withChange((d) => { d.maxBodyBytes = 0; }), /config.maxBodyBytes must be a positive integer/],
    ['bad headerAliases', withChange((d) => { d.headerAliases = { 'webhook-id': 7 }; }), /headerAliases must map lower-case header names/],
  ])('fails at cold start when %s', (_name, json, message) => {
    expect(() => parseTriggerConfig(json)).toThrow(ConfigError);
    expect(() => parseTriggerConfig(json)).toThrow(message);
  });
});

describe('parseStateMachineArn', () => {
  test.each([
    [SM_ARN, { partition: 'aws', region: 'us-east-1', account: '111111111111', name: 'exports' }],
    ['arn:aws-us-gov:states:us-gov-west-1:222222222222:stateMachine:Orders-v2_x', { partition: 'aws-us-gov', region: 'us-gov-west-1', account: '222222222222', name: 'Orders-v2_x' }],
    [`${SM_ARN}:prod`, undefined],
    ['arn:aws:states:us-east-1:111111111111:stateMachine:has space', undefined],
    ['arn:aws:states:us-east-1:111111111111:stateMachine:' + 'n'.repeat(81), undefined],
    ['arn:aws:states:us-east-1:111111111111:execution:exports:run', undefined],
  ])('%s', (arn, parts) => {
    expect(parseStateMachineArn(arn)).toEqual(parts);
  });
});
