import { App, Duration, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { parseIngestConfig } from '../../lambda/ingest/config';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { BackpressurePolicy, ClaimCheck, Deduplication, PayloadSchema, PayloadValidation, WebhookAuth, WebhookGateway, WebhookStreamSource, WebhookWaf, type WebhookStreamSourceProps } from '../../lib';
import * as fs from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgements } from '../support/nag';
import { resolveCfn } from '../../cli/local/cfn';
import { newStack, STRIPE_SECRET_ARN, stripeSource } from '../support/stacks';

const SECRET_ARN = STRIPE_SECRET_ARN;

/** The statements of the ingest function's policy. */
function policyStatements(template: Template): unknown[] {
  const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => /IngestRoleDefaultPolicy/.test(id)).map(([, p]) => p);
  expect(policies).toHaveLength(1);
  return (policies[0] as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement;
}

/** The auth configuration the handler of a stack's only ingest function reads. */
function ingestAuth(stack: Stack): Record<string, unknown> {
  const fn = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))
    .find((f) => JSON.stringify(f).includes(CONFIG_ENV_VAR)) as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return parseIngestConfig(resolveCfn(fn.Properties.Environment.Variables[CONFIG_ENV_VAR], () => 'x') as string).auth as unknown as Record<string, unknown>;
}

describe('WebhookStreamSource: the URL a Twilio source checks signatures against', () => {
  const certificate = (stack: Stack) => acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab');
  const twilioSource = (stack: Stack, props: Partial<WebhookStreamSourceProps> & { url?: string } = {}) => {
    const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'TwilioSecret', SECRET_ARN);
    const { url, ...rest } = props;
    return new WebhookStreamSource(stack, 'Twilio', { auth: WebhookAuth.twilio(secret, url === undefined ? {} : { url }), path: 'hooks/sms', ...rest });
  };

  test('is the gateway\'s custom domain and the path, when the gateway has a custom domain', () => {
    // GIVEN a gateway with a custom domain, mapped at its root
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway', { domain: { domainName: 'hooks.example.com', certificate: certificate(stack) } });
    // WHEN a Twilio source mounts on it
    const source = twilioSource(stack, { gateway });
    // THEN the handler checks signatures against the URL senders call, the source's webhookUrl
    expect(ingestAuth(stack)).toMatchObject({ kind: 'twilio', url: 'https://hooks.example.com/hooks/sms' });
    expect(source.webhookUrl).toBe('https://hooks.example.com/hooks/sms');
  });

  test('is the configured url, which wins over the custom domain', () => {
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway', { domain: { domainName: 'hooks.example.com', certificate: certificate(stack) } });
    twilioSource(stack, { gateway, url: 'https://edge.example.com/twilio' });
    expect(ingestAuth(stack)).toMatchObject({ url: 'https://edge.example.com/twilio' });
  });

  test('is left to each request (API Gateway\'s domain name and path) without a custom domain, or with a wildcard one', () => {
    // GIVEN a source on its own gateway, and one on a gateway with a wildcard domain
    const plain = newStack();
    twilioSource(plain);
    const wildcard = newStack();
    twilioSource(wildcard, { gateway: new WebhookGateway(wildcard, 'Gateway', { domain: { domainName: '*.hooks.example.com', certificate: certificate(wildcard) } }) });
    // THEN neither names a URL: the execute-api URL holds a stage the function cannot reference, and a wildcard names no one host
    expect(ingestAuth(plain)).not.toHaveProperty('url');
    expect(ingestAuth(wildcard)).not.toHaveProperty('url');
  });

  test('leaves other schemes alone', () => {
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway', { domain: { domainName: 'hooks.example.com', certificate: certificate(stack) } });
    stripeSource(stack, { gateway });
    expect(ingestAuth(stack)).not.toHaveProperty('url');
  });
});

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
      secretCacheTtlSeconds: 60,
      previousSecretGraceSeconds: 86_400,
    });
  });

  test('the previous secret\'s grace period reaches the handler, and the rotation metric is the one it writes', () => {
    const stack = newStack();
    const source = stripeSource(stack, { previousSecretGrace: Duration.hours(2), sourceName: 'stripe-payments' });
    const fn = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(parseIngestConfig(resolveCfn(fn.Properties.Environment.Variables[CONFIG_ENV_VAR], () => 'x') as string).previousSecretGraceSeconds).toBe(7200);
    const metric = source.metricNonCurrentSecretRequests();
    expect([metric.namespace, metric.metricName, metric.dimensions, metric.statistic]).toEqual(['CdkWebhookIngress', 'NonCurrentSecretRequests', { service: 'stripe-payments' }, 'Sum']);
    expect(() => stripeSource(newStack(), { previousSecretGrace: Duration.days(31) })).toThrow(/previousSecretGrace must be a whole number of seconds from 0 to 30 days, got 31 days/);
    expect(() => stripeSource(newStack(), { previousSecretGrace: Duration.seconds(0) })).not.toThrow();
  });

  test('grants exactly: write its logs, put records on its stream, read its secret', () => {
    const stack = newStack();
    stripeSource(stack);
    const template = Template.fromStack(stack);

    expect(policyStatements(template)).toEqual([
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeIngestLogs/), 'Arn'] } },
      { Action: 'kinesis:PutRecords', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeStream/), 'Arn'] } },
      { Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], Effect: 'Allow', Resource: SECRET_ARN },
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

  test('routes: each route stream is granted PutRecords, and its name reaches the handler', () => {
    const stack = newStack();
    const tracks = new kinesis.Stream(stack, 'Tracks', { encryption: kinesis.StreamEncryption.MANAGED });
    stripeSource(stack, { routes: [{ eventTypes: ['track'], stream: tracks }] });
    const template = Template.fromStack(stack);
    expect(policyStatements(template)).toContainEqual({ Action: 'kinesis:PutRecords', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Tracks/), 'Arn'] } });
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(JSON.stringify(fn.Properties.Environment.Variables)).toContain('\\"routes\\":[{\\"eventTypes\\":[\\"track\\"],\\"streamName\\":\\"');
  });

  test('fails when a route lists no event type', () => {
    const stack = newStack();
    const tracks = new kinesis.Stream(stack, 'Tracks');
    expect(() => stripeSource(stack, { routes: [{ eventTypes: [], stream: tracks }] })).toThrow(/routes\[0\].eventTypes is empty/);
  });

  test('a secret imported by name is granted with the suffix wildcard Secrets Manager needs', () => {
    const stack = newStack();
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'ByName', 'github/webhook');
    new WebhookStreamSource(stack, 'GitHub', { auth: WebhookAuth.github(secret) });
    const statements = policyStatements(Template.fromStack(stack));
    expect(statements).toContainEqual(expect.objectContaining({
      Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:eu-west-1:111111111111:secret:github/webhook-??????']] },
    }));
  });

  test('exposes the webhook URL of its path', () => {
    const stack = newStack();
    const source = stripeSource(stack);
    expect(stack.resolve(source.webhookUrl)).toEqual({
      'Fn::Join': ['', ['https://', { Ref: expect.stringMatching(/^StripeGatewayApi/) }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: expect.stringMatching(/^StripeGatewayApiDeploymentStage/) }, '/stripe']],
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

    test('fails when a redact path is not a JSON pointer', () => {
      expect(() => stripeSource(newStack(), { redactPaths: ['/data/object/email', 'data.object.card'] }))
        .toThrow(/redactPaths must be JSON pointers such as '\/data\/object\/customer_email', got 'data.object.card'/);
    });

    test('fails when allowedEventTypes is empty', () => {
      expect(() => stripeSource(newStack(), { allowedEventTypes: [] })).toThrow(/allowedEventTypes is empty/);
    });

    test('fails with the construct path when the backpressure policy is invalid', () => {
      expect(() => stripeSource(newStack(), { backpressure: BackpressurePolicy.rejectWith429({ retryBudget: Duration.seconds(30) }) }))
        .toThrow(/WebhookStreamSource 'Test\/Stripe': retryBudget must be between/);
    });
  });

  describe('on a shared gateway', () => {
    test('several sources mount their own paths on one API, with their own credential header required', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'S', SECRET_ARN);
      const stripe = new WebhookStreamSource(stack, 'Stripe', { auth: WebhookAuth.stripe(secret), gateway, path: 'stripe' });
      new WebhookStreamSource(stack, 'Slack', { auth: WebhookAuth.slack(secret), gateway, path: 'slack' });
      new WebhookStreamSource(stack, 'Internal', { auth: WebhookAuth.bearerToken(secret), gateway, path: 'internal', apiKeyRequired: true });
      const template = Template.fromStack(stack);

      expect(stripe.gateway).toBe(gateway);
      template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
      template.hasResourceProperties('AWS::ApiGateway::Method', { RequestParameters: { 'method.request.header.Stripe-Signature': true }, ApiKeyRequired: false });
      template.hasResourceProperties('AWS::ApiGateway::Method', { RequestParameters: { 'method.request.header.X-Slack-Signature': true } });
      template.hasResourceProperties('AWS::ApiGateway::Method', { RequestParameters: { 'method.request.header.Authorization': true }, ApiKeyRequired: true });
    });

    test('fails when two sources take the same path', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      stripeSource(stack, { gateway, path: 'hooks' });
      const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'S2', SECRET_ARN);
      expect(() => new WebhookStreamSource(stack, 'Other', { auth: WebhookAuth.github(secret), gateway, path: 'hooks' }))
        .toThrow(/WebhookGateway 'Test\/Gateway': path 'hooks' is already mounted by Test\/Gateway\/Api\/Default\/hooks\/POST/);
    });

    test('fails when mTLS authentication has no mTLS domain to rely on', () => {
      const stack = newStack();
      expect(() => new WebhookStreamSource(stack, 'Internal', { auth: WebhookAuth.mtls() }))
        .toThrow(/WebhookStreamSource 'Test\/Internal': WebhookAuth.mtls\(\) needs a gateway with an mTLS custom domain/);
      const plain = new WebhookGateway(stack, 'PlainGateway');
      expect(() => new WebhookStreamSource(stack, 'Internal2', { auth: WebhookAuth.mtls(), gateway: plain }))
        .toThrow(/needs a gateway with an mTLS custom domain/);
    });

    test('mTLS authentication on an mTLS gateway reads no secret', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway', {
        domain: {
          domainName: 'hooks.example.com',
          certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab'),
          mtls: { truststorePath: `${__dirname}/../fixtures/truststore.pem` },
        },
      });
      new WebhookStreamSource(stack, 'Internal', { auth: WebhookAuth.mtls({ allowedSubjects: ['CN=a'] }), gateway, path: 'internal' });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: true });
      const ingestPolicies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('InternalIngestRole'));
      expect(JSON.stringify(ingestPolicies)).not.toContain('secretsmanager');
    });
  });

  describe('its path\'s own throttle', () => {
    /** The POST method settings of the stage, by resource path. */
    function pathThrottles(template: Template): Record<string, { rate: number; burst: number }> {
      const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { MethodSettings: { HttpMethod: string; ResourcePath: string; ThrottlingRateLimit: number; ThrottlingBurstLimit: number }[] } }[];
      return Object.fromEntries(stage.Properties.MethodSettings.map((m) => [`${m.HttpMethod} ${m.ResourcePath}`, { rate: m.ThrottlingRateLimit, burst: m.ThrottlingBurstLimit }]));
    }

    function source(stack: Stack, id: string, props: Partial<WebhookStreamSourceProps>): WebhookStreamSource {
      const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, `${id}Secret`, SECRET_ARN);
      return new WebhookStreamSource(stack, id, { auth: WebhookAuth.stripe(secret), path: id.toLowerCase(), ...props });
    }

    test('defaults from the backpressure policy: what 100 executions serve through the retry budget, or the whole stage for a queue', () => {
      // GIVEN one gateway with the default stage throttle (100 per second, burst 200)
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      // WHEN sources with each policy mount on it, none setting a throttle
      const reject = source(stack, 'Reject', { gateway });
      source(stack, 'Quick', { gateway, backpressure: BackpressurePolicy.rejectWith429({ retryBudget: Duration.seconds(4) }) });
      source(stack, 'Shed', { gateway, backpressure: BackpressurePolicy.sampleOrShed({ keepFraction: 0.5, lossBudget: 0.1 }) });
      source(stack, 'Queue', { gateway, backpressure: BackpressurePolicy.queueAndSlowAccept() });
      // THEN each path has its own method setting: 100 / 5 s, 100 / 4 s, 100 / 2 s with a burst
      // of 100; the queue, whose senders never redeliver, the whole stage throttle
      expect(pathThrottles(Template.fromStack(stack))).toEqual({
        '* /*': { rate: 100, burst: 200 },
        'POST /~1reject': { rate: 20, burst: 100 },
        'POST /~1quick': { rate: 25, burst: 100 },
        'POST /~1shed': { rate: 50, burst: 100 },
        'POST /~1queue': { rate: 100, burst: 200 },
      });
      expect(reject.webhookThrottle).toEqual({ rateLimit: 20, burstLimit: 100 });
    });

    test('a default never goes above a lower stage throttle, and keeps its burst at least its rate', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway', { throttle: { rateLimit: 40, burstLimit: 30 } });
      source(stack, 'Reject', { gateway });
      source(stack, 'Queue', { gateway, backpressure: BackpressurePolicy.queueAndSlowAccept() });
      expect(pathThrottles(Template.fromStack(stack))).toMatchObject({
        'POST /~1reject': { rate: 20, burst: 30 },
        'POST /~1queue': { rate: 30, burst: 30 },
      });
    });

    test('takes the throttle it is given; a field left out gets its default, kept consistent with the other', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      source(stack, 'Given', { gateway, throttle: { rateLimit: 5, burstLimit: 10 } });
      source(stack, 'Rate', { gateway, throttle: { rateLimit: 80 } });
      source(stack, 'Burst', { gateway, throttle: { burstLimit: 8 } });
      expect(pathThrottles(Template.fromStack(stack))).toMatchObject({
        'POST /~1given': { rate: 5, burst: 10 },
        'POST /~1rate': { rate: 80, burst: 100 },
        'POST /~1burst': { rate: 8, burst: 8 },
      });
    });

    test('with a gateway of its own, the stage throttle is raised to fit the path\'s', () => {
      const stack = newStack();
      source(stack, 'Busy', { throttle: { rateLimit: 400, burstLimit: 800 } });
      expect(pathThrottles(Template.fromStack(stack))).toEqual({
        '* /*': { rate: 400, burst: 800 },
        'POST /~1busy': { rate: 400, burst: 800 },
      });
    });

    test('warns when the path\'s throttle is above API Gateway\'s default account-level limits', () => {
      const stack = newStack();
      source(stack, 'Huge', { throttle: { rateLimit: 20_000, burstLimit: 20_000 } });
      Annotations.fromStack(stack).hasWarning('/Test/Huge', Match.stringLikeRegexp("WebhookStreamSource 'Test/Huge': throttle.burstLimit 20000 is above API Gateway's default account-level burstLimit of 5000"));
    });

    test('fails when the throttle is not positive, has a burst below its rate, or is above the gateway\'s stage throttle', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      expect(() => source(stack, 'Zero', { gateway, throttle: { rateLimit: 0 } }))
        .toThrow(/WebhookStreamSource 'Test\/Zero': throttle.rateLimit must be a positive number of requests per second, got 0/);
      expect(() => source(stack, 'Fraction', { gateway, throttle: { rateLimit: 5, burstLimit: 7.5 } }))
        .toThrow(/WebhookStreamSource 'Test\/Fraction': throttle.burstLimit must be a whole number of requests of at least 1, got 7.5/);
      expect(() => source(stack, 'Inverted', { gateway, throttle: { rateLimit: 50, burstLimit: 10 } }))
        .toThrow(/WebhookStreamSource 'Test\/Inverted': throttle.burstLimit \(10\) must be at least throttle.rateLimit \(50\), .*; raise burstLimit to 50 or more/);
      expect(() => source(stack, 'Greedy', { gateway, throttle: { rateLimit: 150, burstLimit: 150 } }))
        .toThrow(/WebhookStreamSource 'Test\/Greedy': throttle.rateLimit 150 is above the gateway's stage throttle of 100, the ceiling of every path; lower it, or raise the gateway's throttle.rateLimit/);
      expect(() => source(stack, 'Bursty', { gateway, throttle: { rateLimit: 50, burstLimit: 250 } }))
        .toThrow(/WebhookStreamSource 'Test\/Bursty': throttle.burstLimit 250 is above the gateway's stage throttle of 200/);
    });

    test('fails when it sets a web ACL limit without a rate-limiting web ACL to put it in, or below AWS WAF\'s minimum', () => {
      const stack = newStack();
      expect(() => source(stack, 'Own', { wafRateLimit: 100 }))
        .toThrow(/WebhookStreamSource 'Test\/Own': wafRateLimit needs a gateway with a rate-limiting web ACL; pass a gateway with waf: WebhookWaf.rateLimit\(\) as 'gateway'/);
      const plain = new WebhookGateway(stack, 'PlainGateway');
      expect(() => source(stack, 'Plain', { gateway: plain, wafRateLimit: 100 }))
        .toThrow(/WebhookStreamSource 'Test\/Plain': wafRateLimit needs a gateway whose web ACL it can add a rule to/);
      const managed = new WebhookGateway(stack, 'ManagedGateway', { waf: WebhookWaf.fromWebAclArn('arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/hooks/a1b2c3d4-5678-90ab-cdef-111111111111') });
      expect(() => source(stack, 'Managed', { gateway: managed, wafRateLimit: 100 }))
        .toThrow(/wafRateLimit needs a gateway whose web ACL it can add a rule to/);
      const limited = new WebhookGateway(stack, 'LimitedGateway', { waf: WebhookWaf.rateLimit() });
      expect(() => source(stack, 'Low', { gateway: limited, wafRateLimit: 9 }))
        .toThrow(/WebhookStreamSource 'Test\/Low': wafRateLimit must be a whole number of requests per evaluation window from 10 \(AWS WAF's minimum\) to 2000000000, got 9/);
    });
  });

  describe('deduplication', () => {
    test('creates a TTL table and grants exactly the item calls the handler makes', () => {
      const stack = newStack();
      const source = stripeSource(stack, { deduplication: Deduplication.byEventId() });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
      expect(source.dedupTable).toBeDefined();
      expect(policyStatements(template)).toContainEqual({
        Action: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        Effect: 'Allow',
        Resource: [{ 'Fn::GetAtt': [expect.stringMatching(/^StripeDedupTable/), 'Arn'] }],
      });
    });

    test('uses a table passed in', () => {
      const stack = newStack();
      const table = dynamodb.Table.fromTableName(stack, 'Shared', 'webhook-dedup');
      stripeSource(stack, { deduplication: Deduplication.byEventId({ table, retention: Duration.days(3), lease: Duration.seconds(30) }) });
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::DynamoDB::Table', 0);
      const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
      expect(JSON.stringify(fn.Properties.Environment.Variables)).toContain('\\"dedup\\":{\\"tableName\\":\\"webhook-dedup\\",\\"ttlSeconds\\":259200,\\"leaseSeconds\\":30}');
    });

    test('fails when the retention or lease is out of range', () => {
      expect(() => stripeSource(newStack(), { deduplication: Deduplication.byEventId({ retention: Duration.minutes(5) }) }))
        .toThrow(/WebhookStreamSource 'Test\/Stripe': deduplication retention must be whole seconds between 1 hour and 35 days, got 5 minutes/);
      expect(() => stripeSource(newStack(), { deduplication: Deduplication.byEventId({ lease: Duration.hours(1) }) }))
        .toThrow(/deduplication lease must be whole seconds between 10 seconds and 15 minutes, got 1 hour/);
    });
  });

  describe('payloads', () => {
    const schema = PayloadSchema.fromObject({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } });

    test('a pinned schema ships compiled beside the handler, and its config reaches the handler', () => {
      const stack = newStack();
      stripeSource(stack, { payloadValidation: PayloadValidation.strict(schema) });
      const assembly = (stack.node.root as App).synth();
      const template = Template.fromStack(stack);
      const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as { Properties: { Code: { S3Key: string }; Environment: { Variables: Record<string, unknown> } } };
      const config = parseIngestConfig(resolveCfn(fn.Properties.Environment.Variables[CONFIG_ENV_VAR], () => 'x') as string);
      expect(config.payloadValidation).toMatchObject({ mode: 'strict', module: 'payload-schemas.js' });
      const manifest = JSON.parse(fs.readFileSync(`${assembly.directory}/${stack.artifactId}.assets.json`, 'utf8')) as { files: Record<string, { source: { path: string } }> };
      const assetDir = `${assembly.directory}/${manifest.files[fn.Properties.Code.S3Key.replace(/\.zip$/, '')].source.path}`;
      // The staged asset is the bundle (index.js, its chunks, the notices) with the compiled schemas beside it.
      const bundle = fs.readdirSync(join(__dirname, '..', '..', 'assets', 'ingest'));
      expect(bundle).toEqual(expect.arrayContaining(['THIRD-PARTY-LICENSES', 'index.js']));
      expect(fs.readdirSync(assetDir).sort()).toEqual([...bundle, 'payload-schemas.js'].sort());
    });

    test('quarantine mode adds a quarantine stream the handler may write, and an alarm on the count', () => {
      const stack = newStack();
      const source = stripeSource(stack, { payloadValidation: PayloadValidation.quarantine(schema) });
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::Kinesis::Stream', 2);
      expect(source.quarantineStream).toBeDefined();
      expect(policyStatements(template)).toContainEqual({ Action: 'kinesis:PutRecords', Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeQuarantineStream/), 'Arn'] } });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'CdkWebhookIngress',
        MetricName: 'QuarantinedEvents',
        Dimensions: [{ Name: 'service', Value: 'Stripe' }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    });

    test('a claim check creates a private bucket and grants PutObject under its prefix only', () => {
      const stack = newStack();
      const source = stripeSource(stack, { claimCheck: ClaimCheck.s3({ prefix: 'stripe/' }) });
      const template = Template.fromStack(stack);
      expect(source.payloadBucket).toBeDefined();
      template.hasResourceProperties('AWS::S3::Bucket', {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      });
      expect(policyStatements(template)).toContainEqual({
        Action: 's3:PutObject',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^StripePayloadBucket/), 'Arn'] }, '/stripe/*']] },
      });
    });

    test('fails when settings cannot work together', () => {
      expect(() => stripeSource(newStack(), { multipart: { maxFiles: 3 } })).toThrow(/multipart needs a claimCheck, where uploaded files go/);
      expect(() => stripeSource(newStack(), { quarantineStream: kinesis.Stream.fromStreamArn(newStack(), 'Q', 'arn:aws:kinesis:eu-west-1:111111111111:stream/q') }))
        .toThrow(/quarantineStream is only used with payloadValidation in quarantine mode/);
      expect(() => stripeSource(newStack(), { claimCheck: ClaimCheck.s3(), multipart: { maxFileSize: Size.mebibytes(2) } }))
        .toThrow(/multipart maxFileSize \(2097152 bytes\) is larger than the body limit \(1048576 bytes\), so it could never be reached; lower it or raise maxBodySize/);
      expect(() => stripeSource(newStack(), { claimCheck: ClaimCheck.s3({ prefix: '../x' }) })).toThrow(/claim check prefix must be/);
    });
  });
});

describe('WebhookStreamSource: the ingest function\'s size, limits and observability', () => {
  /** The stack's only ingest function, as CloudFormation gets it. */
  function ingestFunction(template: Template): Record<string, unknown> {
    const functions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => /Ingest[0-9A-F]{8}$/.test(id));
    expect(functions).toHaveLength(1);
    return (functions[0][1] as { Properties: Record<string, unknown> }).Properties;
  }

  test('defaults: 256 MiB, 28 seconds, no reserved concurrency, no tracing, no Lambda Insights', () => {
    const stack = newStack();
    stripeSource(stack);
    const fn = ingestFunction(Template.fromStack(stack));
    expect(fn).toMatchObject({ MemorySize: 256, Timeout: 28, Architectures: ['arm64'] });
    expect(fn).not.toHaveProperty('ReservedConcurrentExecutions');
    expect(fn).not.toHaveProperty('TracingConfig');
    expect(fn).not.toHaveProperty('Layers');
  });

  test('memorySize, timeout, reservedConcurrentExecutions, tracing and insightsVersion reach the function', () => {
    // GIVEN a source sized and observed by its props
    const stack = newStack();
    stripeSource(stack, {
      memorySize: Size.gibibytes(1),
      timeout: Duration.seconds(26),
      reservedConcurrentExecutions: 50,
      tracing: lambda.Tracing.ACTIVE,
      insightsVersion: lambda.LambdaInsightsVersion.VERSION_1_0_498_0,
    });
    const template = Template.fromStack(stack);
    // THEN the function has them, with the arm64 build of the Insights extension
    expect(ingestFunction(template)).toMatchObject({
      MemorySize: 1024,
      Timeout: 26,
      ReservedConcurrentExecutions: 50,
      TracingConfig: { Mode: 'Active' },
      Layers: [expect.stringMatching(/^arn:aws:lambda:eu-west-1:\d+:layer:LambdaInsightsExtension-Arm64:\d+$/)],
    });
    // AND its role may send traces, and carries the managed policy Lambda Insights needs, nothing more
    expect(policyStatements(template)).toContainEqual({ Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' });
    template.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy']] }],
    });
  });

  test('with tracing and Lambda Insights on, cdk-nag finds nothing unacknowledged, and says why for each', () => {
    const app = new App({ context: { '@aws-cdk/core:strictCfnValidateErrors': true }, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    const stack = new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
    const source = stripeSource(stack, { tracing: lambda.Tracing.ACTIVE, insightsVersion: lambda.LambdaInsightsVersion.VERSION_1_0_498_0 });
    Validations.of(source.gateway.api).acknowledge({ id: 'AwsSolutions-APIG3', reason: 'This test does not pay for a web ACL; every request is authenticated by its signature.' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
    const acks = acknowledgements(app).filter((a) => a.path === 'Test/Stripe/IngestRole');
    expect(acks.map((a) => a.id).sort()).toEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy]',
      'AwsSolutions-IAM5[Resource::*]',
    ]);
    for (const ack of acks) expect(ack.reason).toMatch(/asked for with the (tracing|insightsVersion) prop/);
  });

  test('a reserved concurrency lowers the default path throttle to what it serves, and a higher burst given warns', () => {
    // GIVEN 10 reserved executions, with the default policy's 5 s retry budget
    const stack = newStack();
    const source = stripeSource(stack, { reservedConcurrentExecutions: 10 });
    // THEN the path takes a burst of at most 10, and 10 / 5 s a second
    expect(source.webhookThrottle).toEqual({ rateLimit: 2, burstLimit: 10 });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('reservedConcurrentExecutions'));
    // AND a throttle given with a larger burst is warned about, with the fix
    const given = newStack();
    stripeSource(given, { reservedConcurrentExecutions: 10, throttle: { rateLimit: 5, burstLimit: 50 } });
    Annotations.fromStack(given).hasWarning('/Test/Stripe', Match.stringLikeRegexp(
      "WebhookStreamSource 'Test/Stripe': throttle.burstLimit 50 is above reservedConcurrentExecutions 10: requests beyond the function's reserved executions get API Gateway's 500 instead of a 429. Lower throttle.burstLimit to 10, or raise reservedConcurrentExecutions"));
    // AND with queueAndSlowAccept the whole stage's throttle is capped at the reservation too
    const queued = newStack();
    expect(stripeSource(queued, { reservedConcurrentExecutions: 30, backpressure: BackpressurePolicy.queueAndSlowAccept() }).webhookThrottle).toEqual({ rateLimit: 30, burstLimit: 30 });
  });

  test('with queueAndSlowAccept, the least timeout leaves room for the spill', () => {
    const queue = { backpressure: BackpressurePolicy.queueAndSlowAccept() };
    expect(() => stripeSource(newStack(), { ...queue, timeout: Duration.seconds(27) })).not.toThrow();
    expect(() => stripeSource(newStack(), { ...queue, timeout: Duration.seconds(26) }))
      .toThrow(/timeout must be a whole number of seconds from 27 to 28, got 26 seconds: at least the handler's own deadline \(with queueAndSlowAccept, the write to the stream stops at 12 s and the spill to the queue 5 s later, each with one call in flight\)/);
  });

  test.each<[string, Partial<WebhookStreamSourceProps>, RegExp]>([
    ['a timeout under the handler\'s deadline', { timeout: Duration.seconds(10) },
      /WebhookStreamSource 'Test\/Stripe': timeout must be a whole number of seconds from 26 to 28, got 10 seconds: at least the handler's own deadline \(no write to the stream starts 20 s into a request, plus the call in flight\), so that it answers a slow request itself before Lambda ends it and API Gateway answers 502; at most 28, under API Gateway's 29-second integration timeout. Remove timeout to keep 28 seconds/],
    ['a timeout API Gateway would not wait for', { timeout: Duration.seconds(29) }, /timeout must be a whole number of seconds from 26 to 28, got 29 seconds/],
    ['a timeout in fractions of a second', { timeout: Duration.millis(26_500) }, /timeout must be a whole number of seconds from 26 to 28, got 26 seconds 500 millis/],
    ['memory under Lambda\'s least', { memorySize: Size.mebibytes(64) }, /WebhookStreamSource 'Test\/Stripe': memorySize must be a whole number of mebibytes from 128 MiB to 10240 MiB, as Lambda allows, got 65536 KiB; use Size.mebibytes\(n\)/],
    ['memory over Lambda\'s most', { memorySize: Size.gibibytes(11) }, /memorySize must be a whole number of mebibytes from 128 MiB to 10240 MiB/],
    ['memory in fractions of a mebibyte', { memorySize: Size.kibibytes(200_000) }, /memorySize must be a whole number of mebibytes .* got 200000 KiB/],
    ['no reserved executions at all', { reservedConcurrentExecutions: 0 }, /reservedConcurrentExecutions must be a whole number of at least 1, got 0; 0 would refuse every request with API Gateway's 500/],
    ['fractional reserved executions', { reservedConcurrentExecutions: 2.5 }, /reservedConcurrentExecutions must be a whole number of at least 1, got 2.5/],
  ])('fails when given %s', (_name, props, message) => {
    expect(() => stripeSource(newStack(), props)).toThrow(message);
  });
});

describe('WebhookStreamSource.grantRead: what a consumer needs', () => {
  /** The statements of the consumer role's policy. */
  function consumerStatements(template: Template): { Action: string | string[]; Resource: unknown }[] {
    const [policy] = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('Consumer')).map(([, p]) => p);
    return (policy as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement;
  }
  const consumerRole = (stack: Stack) => new iam.Role(stack, 'Consumer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });

  test('reads the records of the source\'s own stream, and writes nothing', () => {
    const stack = newStack();
    const source = stripeSource(stack);
    const grant = source.grantRead(consumerRole(stack));
    expect(grant.success).toBe(true);
    const statements = consumerStatements(Template.fromStack(stack));
    expect(statements).toEqual([{
      Action: expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards', 'kinesis:SubscribeToShard']),
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StripeStream/), 'Arn'] },
    }]);
    expect(JSON.stringify(statements)).not.toMatch(/kinesis:Put|kms:/);
  });

  test('with a stream encrypted with your key, it may decrypt with that key', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab');
    const stream = kinesis.Stream.fromStreamAttributes(stack, 'Existing', { streamArn: 'arn:aws:kinesis:eu-west-1:111111111111:stream/events', encryptionKey: key });
    stripeSource(stack, { stream }).grantRead(consumerRole(stack));
    expect(consumerStatements(Template.fromStack(stack))).toContainEqual({ Action: 'kms:Decrypt', Effect: 'Allow', Resource: key.keyArn });
  });

  test('with a claim check, it may read the payloads the records point to, under the prefix only, and decrypt them', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'BucketKey', 'arn:aws:kms:eu-west-1:111111111111:key/abcd1234-12ab-34cd-56ef-1234567890ab');
    const bucket = s3.Bucket.fromBucketAttributes(stack, 'Payloads', { bucketArn: 'arn:aws:s3:::payloads-bucket', encryptionKey: key });
    stripeSource(stack, { claimCheck: ClaimCheck.s3({ bucket, prefix: 'stripe/' }) }).grantRead(consumerRole(stack));
    const statements = consumerStatements(Template.fromStack(stack));
    expect(statements).toContainEqual({ Action: 's3:GetObject', Effect: 'Allow', Resource: 'arn:aws:s3:::payloads-bucket/stripe/*' });
    expect(statements).toContainEqual({ Action: 'kms:Decrypt', Effect: 'Allow', Resource: key.keyArn });
    expect(JSON.stringify(statements)).not.toMatch(/s3:Put|s3:List|s3:Delete/);
  });
});
