import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Validations } from 'aws-cdk-lib';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { parseRotationConfig, SECRET_FORMATS } from '../../lambda/rotation/config';
import { ROTATION_EVENT_DETAIL_TYPE, ROTATION_EVENT_SOURCE } from '../../lambda/rotation/handler';
import { SigningSecretFormat, WebhookSigningSecret, type WebhookSigningSecretProps } from '../../lib';
import { resolveCfn } from '../../cli/local/cfn';
import { acknowledgements } from '../support/nag';

function newApp(): App {
  return new App({ context: { '@aws-cdk/core:strictCfnValidateErrors': true } });
}

function newStack(app = newApp()): Stack {
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function rotationStatements(template: Template): Statement[] {
  return Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(([id]) => id.startsWith('SigningRotation'))
    .flatMap(([, p]) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
}

function rotationConfig(template: Template): ReturnType<typeof parseRotationConfig> {
  const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('SigningRotation'))?.[1] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return parseRotationConfig(resolveCfn(fn.Properties.Environment.Variables[CONFIG_ENV_VAR], (id) => `ref:${id}`) as string);
}

describe('WebhookSigningSecret', () => {
  test('rotates every 30 days by default, and right after the first deployment', () => {
    const stack = newStack();
    new WebhookSigningSecret(stack, 'Signing');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: Match.stringLikeRegexp('^SigningSecret') },
      RotationLambdaARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SigningRotation'), 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: true,
    });
    // The function reads a configuration the rotation handler accepts.
    expect(rotationConfig(template)).toEqual({ version: 1, format: 'hex', bytes: 32 });
  });

  test('the rotation function may rotate this one secret and put events on the bus, nothing else', () => {
    const stack = newStack();
    new WebhookSigningSecret(stack, 'Other');
    new WebhookSigningSecret(stack, 'Signing', { format: SigningSecretFormat.STANDARD_WEBHOOKS, bytes: 24, automaticallyAfter: Duration.days(7) });
    const template = Template.fromStack(stack);
    const statements = rotationStatements(template);
    const secretStatements = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('secretsmanager:')));
    const secretActions = secretStatements.flatMap((s) => [s.Action].flat()).sort();
    expect(secretActions).toEqual(expect.arrayContaining(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage']));
    for (const s of secretStatements) {
      // GetRandomPassword, which RotationSchedule grants, reads no secret and has no resource in IAM.
      const expected = [s.Action].flat().includes('secretsmanager:GetRandomPassword') ? '*' : { Ref: expect.stringMatching(/^SigningSecret/) };
      expect(s.Resource).toEqual(expected);
    }
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'events:PutEvents', Resource: expect.objectContaining({ 'Fn::Join': expect.anything() }) }));
    expect(JSON.stringify(statements)).not.toMatch(/OtherSecret/);
    expect(rotationStatements(template).some((s) => s.Resource === '*' && [s.Action].flat().some((a) => a !== 'secretsmanager:GetRandomPassword' && !a.startsWith('xray:')))).toBe(false);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: Match.stringLikeRegexp('^SigningSecret') },
      RotationRules: { ScheduleExpression: 'rate(7 days)' },
    });
    expect(rotationConfig(template)).toEqual({ version: 1, format: 'whsec', bytes: 24 });
  });

  test('an optional rotation window becomes RotationRules.Duration', () => {
    const stack = newStack();
    new WebhookSigningSecret(stack, 'Signing', { automaticallyAfter: Duration.days(14), rotationWindow: Duration.hours(3) });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(14 days)', Duration: '3h' },
    });
  });

  test('onSecretPending matches the pending events of this secret only, on its bus', () => {
    const stack = newStack();
    const bus = new events.EventBus(stack, 'Partners');
    const signing = new WebhookSigningSecret(stack, 'Signing', { eventBus: bus });
    const queue = new sqs.Queue(stack, 'Senders', { enforceSSL: true });
    signing.onSecretPending('Pending', { target: new targets.SqsQueue(queue) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: Match.stringLikeRegexp('^Partners') },
      EventPattern: {
        'source': [ROTATION_EVENT_SOURCE],
        'detail-type': [ROTATION_EVENT_DETAIL_TYPE],
        'detail': { secretArn: [{ Ref: Match.stringLikeRegexp('^SigningSecret') }] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Senders'), 'Arn'] } })],
    });
  });

  test('a custom event bus is named in the configuration and is the one granted', () => {
    const stack = newStack();
    const bus = new events.EventBus(stack, 'Partners');
    new WebhookSigningSecret(stack, 'Signing', { eventBus: bus, format: SigningSecretFormat.TOKEN });
    const template = Template.fromStack(stack);
    expect(rotationConfig(template)).toEqual({ version: 1, format: 'token', bytes: 32, eventBusName: expect.stringMatching(/^ref:Partners/) });
    expect(rotationStatements(template)).toContainEqual(expect.objectContaining({ Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Partners/), 'Arn'] } }));
  });

  test('a customer managed key encrypts the secret, and the rotation function may use it', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new WebhookSigningSecret(stack, 'Signing', { encryptionKey: key });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } });
    const [keyResource] = Object.values(template.findResources('AWS::KMS::Key')) as { Properties: { KeyPolicy: { Statement: { Action: string | string[]; Principal: unknown }[] } } }[];
    const forRotation = keyResource.Properties.KeyPolicy.Statement.filter((s) => JSON.stringify(s.Principal).includes('SigningRotationRole'));
    const actions = forRotation.flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*']));
  });

  test('the secret senders hold is retained by default, on stack deletion and on replacement', () => {
    const stack = newStack();
    new WebhookSigningSecret(stack, 'Signing');
    Template.fromStack(stack).hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('removalPolicy DESTROY deletes it with the stack', () => {
    const stack = newStack();
    new WebhookSigningSecret(stack, 'Signing', { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(stack).hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  test('the construct allows exactly the byte counts the rotation handler generates', () => {
    for (const format of Object.values(SigningSecretFormat)) {
      const { minBytes, maxBytes } = SECRET_FORMATS[format];
      expect(() => new WebhookSigningSecret(newStack(), 'Ok', { format, bytes: minBytes })).not.toThrow();
      expect(() => new WebhookSigningSecret(newStack(), 'Ok', { format, bytes: maxBytes })).not.toThrow();
      expect(() => new WebhookSigningSecret(newStack(), 'Low', { format, bytes: minBytes - 1 })).toThrow(/bytes must be a whole number/);
      expect(() => new WebhookSigningSecret(newStack(), 'High', { format, bytes: maxBytes + 1 })).toThrow(/bytes must be a whole number/);
    }
  });

  test.each<[string, Partial<WebhookSigningSecretProps>, RegExp]>([
    ['a fractional byte count', { bytes: 31.5 }, /WebhookSigningSecret 'Test\/Signing': bytes must be a whole number from 16 to 64 for hex, got 31.5; pick a size in that range/],
    ['a schedule under 4 hours', { automaticallyAfter: Duration.hours(3) }, /automaticallyAfter must be between 4 hours and 1000 days, as Secrets Manager allows, got 3 hours/],
    ['a window of 90 minutes', { rotationWindow: Duration.minutes(90) }, /rotationWindow must be a whole number of hours from 1 to 24, got 1 hour 30 minutes/],
    ['a window of 25 hours', { rotationWindow: Duration.hours(25) }, /rotationWindow must be a whole number of hours from 1 to 24/],
    ['a window longer than the schedule', { automaticallyAfter: Duration.hours(4), rotationWindow: Duration.hours(5) }, /rotationWindow \(5 hours\) cannot be longer than automaticallyAfter \(4 hours\)/],
    ['a schedule over 1000 days', { automaticallyAfter: Duration.days(1001) }, /automaticallyAfter must be between 4 hours and 1000 days/],
    ['a SNAPSHOT removal policy', { removalPolicy: RemovalPolicy.SNAPSHOT }, /WebhookSigningSecret 'Test\/Signing': removalPolicy cannot be RemovalPolicy.SNAPSHOT: a Secrets Manager secret has no snapshot. Use RemovalPolicy.RETAIN \(the default\) or RemovalPolicy.DESTROY/],
  ])('rejects %s at synth', (_name, props, message) => {
    expect(() => new WebhookSigningSecret(newStack(), 'Signing', props)).toThrow(message);
  });

  test('cdk-nag finds nothing left unacknowledged', () => {
    const app = newApp();
    const stack = newStack(app);
    new WebhookSigningSecret(stack, 'Signing');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
    const acks = acknowledgements(app);
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(40);
    expect(acks.map((a) => `${a.path} ${a.id}`).sort()).toEqual(['Test/Signing/Rotation AwsSolutions-L1', 'Test/Signing/RotationRole AwsSolutions-IAM5[Resource::*]']);
  });
});
