import { App, Duration, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CONFIG_ENV_VAR, parseIngestConfig } from '../../lambda/shared/config';
import { BackpressurePolicy, WebhookAuth, WebhookStreamSource, type WebhookStreamSourceProps } from '../../lib';
import { resolveCfn } from '../support/cfn';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:stripe/webhook-AbCdEf';

function newStack(): Stack {
  // Strict: the synthesized template is validated against the CloudFormation schema.
  const app = new App({ context: { '@aws-cdk/core:strictCfnValidateErrors': true } });
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

function stripeSource(stack: Stack, props: Partial<WebhookStreamSourceProps> = {}): WebhookStreamSource {
  const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'StripeSecret', SECRET_ARN);
  return new WebhookStreamSource(stack, 'Stripe', { auth: WebhookAuth.stripe(secret), path: 'stripe', ...props });
}

function policyStatements(template: Template): unknown[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'));
  expect(policies).toHaveLength(1);
  return (policies[0] as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement;
}

describe('WebhookStreamSource', () => {
  test('creates a regional REST API with a POST path that passes every media type as binary', () => {
    const stack = newStack();
    stripeSource(stack);
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      BinaryMediaTypes: ['*/*'],
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'stripe' });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      AuthorizationType: 'NONE',
      RequestParameters: { 'method.request.header.Stripe-Signature': true },
      RequestValidatorId: Match.anyValue(),
      Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
    });
    template.resourceCountIs('AWS::ApiGateway::Method', 1);
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestParameters: true });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_PARAMETERS',
      StatusCode: '401',
    });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  test('creates an on-demand stream encrypted at rest', () => {
    const stack = newStack();
    stripeSource(stack);
    Template.fromStack(stack).hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
  });

  test('creates a Node.js 22 arm64 function that gets its configuration as one versioned document', () => {
    const stack = newStack();
    const source = stripeSource(stack, { sourceName: 'stripe-payments', allowedEventTypes: ['invoice.paid'] });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 28,
      LoggingConfig: { LogFormat: 'JSON' },
    });

    // The document the handler reads parses and validates with the handler's own code.
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    const streamId = stack.getLogicalId(source.stream.node.defaultChild as kinesis.CfnStream);
    const json = resolveCfn(fn.Properties.Environment.Variables[CONFIG_ENV_VAR], (id) => (id === streamId ? 'the-stream' : `unresolved:${id}`));
    const config = parseIngestConfig(json as string);
    expect(config).toMatchObject({
      version: 1,
      source: 'stripe-payments',
      streamName: 'the-stream',
      auth: { secretArn: SECRET_ARN, signatureHeader: 'stripe-signature', toleranceSeconds: 300, signedContent: '{timestamp}.{body}' },
      metadata: { id: { jsonPointer: '/id' }, type: { jsonPointer: '/type' }, timestamp: { jsonPointer: '/created' } },
      allowedEventTypes: ['invoice.paid'],
      maxBodyBytes: 1024 * 1024,
      backpressure: { kind: 'rejectWith429', retryAfterSeconds: 30, retryBudgetMs: 5000, maxAttempts: 6 },
    });
  });

  test('grants exactly: write its logs, put records on its stream, read its secret', () => {
    const stack = newStack();
    stripeSource(stack);
    const template = Template.fromStack(stack);

    expect(policyStatements(template)).toEqual([
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeIngestLogs/), 'Arn'] } },
      { Action: 'kinesis:PutRecords', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeStream/), 'Arn'] } },
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: SECRET_ARN },
    ]);
    // No managed policies: AWSLambdaBasicExecutionRole would allow writing to any log group.
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  test('uses a stream passed in, and may use its customer-managed key for writing only', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    const stream = kinesis.Stream.fromStreamAttributes(stack, 'Existing', {
      streamArn: 'arn:aws:kinesis:eu-west-1:111111111111:stream/events',
      encryptionKey: key,
    });
    const source = stripeSource(stack, { stream });
    const template = Template.fromStack(stack);

    expect(source.stream).toBe(stream);
    template.resourceCountIs('AWS::Kinesis::Stream', 0);
    const statements = policyStatements(template);
    expect(statements).toContainEqual({ Action: 'kinesis:PutRecords', Effect: 'Allow', Resource: 'arn:aws:kinesis:eu-west-1:111111111111:stream/events' });
    expect(statements).toContainEqual({ Action: 'kms:GenerateDataKey', Effect: 'Allow', Resource: key.keyArn });
    expect(statements).toHaveLength(4);
  });

  test('a secret imported by name is granted with the suffix wildcard Secrets Manager needs', () => {
    const stack = newStack();
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'ByName', 'github/webhook');
    new WebhookStreamSource(stack, 'GitHub', { auth: WebhookAuth.github(secret) });
    const statements = policyStatements(Template.fromStack(stack));
    expect(statements).toContainEqual(expect.objectContaining({
      Action: 'secretsmanager:GetSecretValue',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:eu-west-1:111111111111:secret:github/webhook-??????']] },
    }));
  });

  test('exposes the webhook URL of its path', () => {
    const stack = newStack();
    const source = stripeSource(stack);
    expect(stack.resolve(source.webhookUrl)).toEqual({
      'Fn::Join': ['', ['https://', { Ref: expect.stringMatching(/^StripeApi/) }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: expect.stringMatching(/^StripeApiDeploymentStage/) }, '/stripe']],
    });
  });

  describe('validation', () => {
    test('fails when the tolerance is outside 1 s to 1 h', () => {
      const stack = newStack();
      const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'S', SECRET_ARN);
      expect(() => new WebhookStreamSource(stack, 'Stripe', { auth: WebhookAuth.stripe(secret, { tolerance: Duration.hours(2) }) }))
        .toThrow(/WebhookStreamSource 'Test\/Stripe': tolerance must be a whole number of seconds between 1 second and 1 hour, got 2 hours/);
      expect(() => new WebhookStreamSource(stack, 'Stripe2', { auth: WebhookAuth.stripe(secret, { tolerance: Duration.millis(500) }) }))
        .toThrow(/'Test\/Stripe2': tolerance/);
    });

    test('fails when the path is not URL-safe', () => {
      expect(() => stripeSource(newStack(), { path: '/stripe/{proxy+}' })).toThrow(/path must be one or more URL-safe segments.*got '\/stripe\/\{proxy\+\}'/);
    });

    test('fails when maxBodySize is over 4 MiB', () => {
      expect(() => stripeSource(newStack(), { maxBodySize: Size.mebibytes(5) })).toThrow(/maxBodySize must be between 1 byte and 4 MiB.*got 5242880 bytes/);
    });

    test('fails when maxBatchEvents is not a whole number from 1 to 50000', () => {
      expect(() => stripeSource(newStack(), { maxBatchEvents: 0 })).toThrow(/maxBatchEvents must be a whole number between 1 and 50000, got 0/);
    });

    test('fails when a forwarded header carries credentials or the signature', () => {
      expect(() => stripeSource(newStack(), { forwardedHeaders: ['User-Agent', 'Authorization', 'Stripe-Signature'] }))
        .toThrow(/forwardedHeaders must not include credentials or signatures, got 'authorization', 'stripe-signature'/);
    });

    test('fails when allowedEventTypes is empty', () => {
      expect(() => stripeSource(newStack(), { allowedEventTypes: [] })).toThrow(/allowedEventTypes is empty/);
    });

    test('fails with the construct path when the backpressure policy is invalid', () => {
      expect(() => stripeSource(newStack(), { backpressure: BackpressurePolicy.rejectWith429({ retryBudget: Duration.seconds(30) }) }))
        .toThrow(/WebhookStreamSource 'Test\/Stripe': retryBudget must be between/);
    });
  });
});
