import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WebhookGateway, type WebhookGatewayProps } from '../../lib/webhook-gateway';
import { acknowledgements } from '../support/nag';
import { flattenJoin } from '../support/cfn-text';
import { inlineHandler as handler } from '../support/inline-handler';

const STRICT = { '@aws-cdk/core:strictCfnValidateErrors': true };
const TRUSTSTORE = join(__dirname, '..', 'fixtures', 'truststore.pem');
const CERTIFICATE_ARN = 'arn:aws:acm:eu-west-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab';

function newStack(app = new App({ context: STRICT })): Stack {
  // Strict: the synthesized template is validated against the CloudFormation schema.
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}


function mtlsDomain(stack: Stack, truststorePath = TRUSTSTORE): NonNullable<WebhookGatewayProps['domain']> {
  return {
    domainName: 'hooks.example.com',
    certificate: acm.Certificate.fromCertificateArn(stack, 'Certificate', CERTIFICATE_ARN),
    mtls: { truststorePath },
  };
}

/** A gateway with one path mounted, as a webhook source would mount it. */
function gatewayWithRoute(stack: Stack, props: WebhookGatewayProps = {}): WebhookGateway {
  const gateway = new WebhookGateway(stack, 'Gateway', props);
  gateway._addWebhookRoute('stripe', handler(stack), { requiredHeader: 'Stripe-Signature' });
  return gateway;
}

function tempFile(name: string, content: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gateway-')), name);
  writeFileSync(file, content);
  return file;
}

describe('WebhookGateway', () => {
  test('creates a regional REST API that passes every media type as binary, with JSON access logs and stage throttling', () => {
    // GIVEN a stack
    const stack = newStack();
    // WHEN a gateway with defaults gets one path
    gatewayWithRoute(stack);
    // THEN
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      BinaryMediaTypes: ['*/*'],
      EndpointConfiguration: { Types: ['REGIONAL'] },
      DisableExecuteApiEndpoint: false,
      Policy: Match.absent(),
    });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      AccessLogSetting: { DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GatewayAccessLogs'), 'Arn'] }, Format: Match.serializedJson(Match.objectLike({ requestId: '$context.requestId', status: '$context.status' })) },
      TracingEnabled: false,
      MethodSettings: [Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 })],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.resourceCountIs('AWS::ApiGateway::DomainName', 0);
    template.resourceCountIs('AWS::S3::Bucket', 0);
  });

  test('sets X-Ray tracing, the stage throttle and the log retention it is given', () => {
    // GIVEN a stack
    const stack = newStack();
    // WHEN the options are set
    gatewayWithRoute(stack, { tracing: true, throttle: { rateLimit: 250 }, logRetention: logs.RetentionDays.ONE_YEAR });
    // THEN a missing field of the throttle keeps its default
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 250, ThrottlingBurstLimit: 200 })],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  describe('per-path throttles', () => {
    /** The stage's method settings, in template order. */
    function methodSettings(template: Template): Record<string, unknown>[] {
      const stages = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { MethodSettings: Record<string, unknown>[] } }[];
      expect(stages).toHaveLength(1);
      return stages[0].Properties.MethodSettings;
    }

    test('gives each path mounted with a throttle its own method setting beside the stage default, its slashes written ~1', () => {
      // GIVEN a gateway with the default stage throttle
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      // WHEN paths are mounted after it is built, two with throttles of their own and one without
      gateway._addWebhookRoute('stripe', handler(stack), { throttle: { rateLimit: 20, burstLimit: 100 } });
      gateway._addWebhookRoute('hooks/github', handler(stack, 'GitHub'), { throttle: { rateLimit: 7.5, burstLimit: 15 } });
      gateway._addWebhookRoute('open', handler(stack, 'Open'));
      // THEN the stage holds the default for every method, then one POST setting per throttled
      // path, addressed as CloudFormation's MethodSetting wants it (/~1hooks~1github); the
      // template passes strict CloudFormation validation
      expect(methodSettings(Template.fromStack(stack))).toEqual([
        { HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200, DataTraceEnabled: false },
        { HttpMethod: 'POST', ResourcePath: '/~1stripe', ThrottlingRateLimit: 20, ThrottlingBurstLimit: 100 },
        { HttpMethod: 'POST', ResourcePath: '/~1hooks~1github', ThrottlingRateLimit: 7.5, ThrottlingBurstLimit: 15 },
      ]);
    });

    test('warns when the stage throttle is above API Gateway\'s default account-level limits', () => {
      const stack = newStack();
      gatewayWithRoute(stack, { throttle: { rateLimit: 12_000, burstLimit: 5_000 } });
      Annotations.fromStack(stack).hasWarning('/Test/Gateway', Match.stringLikeRegexp("throttle.rateLimit 12000 is above API Gateway's default account-level rateLimit of 10000 per Region"));
    });
  });

  test('mounts a POST path with a Lambda proxy integration that requires its signature header', () => {
    // GIVEN a gateway
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway');
    const fn = handler(stack);
    // WHEN two paths require a header and one does not
    const method = gateway._addWebhookRoute('stripe', fn, { requiredHeader: 'Stripe-Signature' });
    gateway._addWebhookRoute('hooks/github', fn, { requiredHeader: 'X-Hub-Signature-256' });
    gateway._addWebhookRoute('open', fn);
    // THEN
    expect(method.httpMethod).toBe('POST');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      AuthorizationType: 'NONE',
      ApiKeyRequired: false,
      RequestParameters: { 'method.request.header.Stripe-Signature': true },
      RequestValidatorId: { Ref: Match.stringLikeRegexp('^GatewayRequireParameters') },
      Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      RequestParameters: { 'method.request.header.X-Hub-Signature-256': true },
      RequestValidatorId: { Ref: Match.stringLikeRegexp('^GatewayRequireParameters') },
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      ResourceId: { Ref: Match.stringLikeRegexp('^GatewayApiopen') },
      RequestParameters: Match.absent(),
      RequestValidatorId: Match.absent(),
    });
    template.resourceCountIs('AWS::ApiGateway::Method', 3);
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'github' });
    // One validator, and a missing header is a 401 with the handler's JSON shape.
    template.resourceCountIs('AWS::ApiGateway::RequestValidator', 1);
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestParameters: true, ValidateRequestBody: false });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_PARAMETERS',
      StatusCode: '401',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"error":"MissingCredentials"') },
    });
  });

  test('answers throttled callers 429 with Retry-After', () => {
    const stack = newStack();
    gatewayWithRoute(stack);
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
      ResponseParameters: { 'gatewayresponse.header.Retry-After': "'1'" },
    });
  });

  describe('custom domain with mutual TLS', () => {
    test('pins the domain to the truststore object version in a versioned, encrypted, private, TLS-only bucket', () => {
      // GIVEN a stack
      const stack = newStack();
      // WHEN the gateway has a domain with mTLS
      const gateway = gatewayWithRoute(stack, { domain: mtlsDomain(stack) });
      // THEN the domain is regional, TLS 1.2, and reads the truststore at the copied version
      const template = Template.fromStack(stack);
      const bucketId = stack.getLogicalId(gateway.truststoreBucket!.node.defaultChild as s3.CfnBucket);
      template.hasResourceProperties('AWS::ApiGateway::DomainName', {
        DomainName: 'hooks.example.com',
        RegionalCertificateArn: CERTIFICATE_ARN,
        EndpointConfiguration: { Types: ['REGIONAL'] },
        SecurityPolicy: 'TLS_1_2',
        MutualTlsAuthentication: {
          TruststoreUri: { 'Fn::Join': ['', ['s3://', { Ref: bucketId }, '/truststore.pem']] },
          TruststoreVersion: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GatewayTruststoreUpload'), 'VersionId'] },
        },
      });
      template.hasResourceProperties('AWS::ApiGateway::BasePathMapping', {
        DomainName: { Ref: Match.stringLikeRegexp('^GatewayDomain') },
        RestApiId: { Ref: Match.stringLikeRegexp('^GatewayApi') },
        Stage: { Ref: Match.stringLikeRegexp('^GatewayApiDeploymentStage') },
      });
      // The default endpoint is off, so the client certificate check cannot be skipped.
      template.hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: true });

      template.hasResourceProperties('AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          })]),
        },
      });
    });

    test('copies the truststore asset into the bucket and returns the new object version', () => {
      // GIVEN a stack
      const stack = newStack();
      // WHEN the gateway has a domain with mTLS
      gatewayWithRoute(stack, { domain: mtlsDomain(stack) });
      // THEN one custom resource copies the asset to truststore.pem and reads back its version
      const template = Template.fromStack(stack);
      const uploads = template.findResources('Custom::WebhookGatewayTruststore');
      expect(Object.keys(uploads)).toHaveLength(1);
      const upload = Object.values(uploads)[0] as { Properties: { Create: unknown; Update: unknown; Delete?: unknown; InstallLatestAwsSdk: boolean } };
      expect(upload.Properties.InstallLatestAwsSdk).toBe(false);
      expect(upload.Properties.Delete).toBeUndefined();
      const call = JSON.parse(flattenJoin(stack.resolve(upload.Properties.Update)));
      expect(call).toMatchObject({
        service: 'S3',
        action: 'CopyObject',
        parameters: {
          Bucket: expect.stringMatching(/^<Ref GatewayTruststoreBucket/),
          Key: 'truststore.pem',
          CopySource: expect.stringMatching(/^cdk-hnb659fds-assets-111111111111-eu-west-1\/[0-9a-f]{64}\.pem$/),
          ContentType: 'application/x-pem-file',
        },
        outputPaths: ['VersionId'],
      });
      expect(upload.Properties.Create).toEqual(upload.Properties.Update);

      // The provider may read that one asset object and write that one key, nothing else.
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [
            { Action: 's3:GetObject', Effect: 'Allow', Resource: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':s3:::cdk-hnb659fds-assets-111111111111-eu-west-1/[0-9a-f]{64}\\.pem$')])] }) },
            { Action: 's3:PutObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^GatewayTruststoreBucket'), 'Arn'] }, '/truststore.pem']] } },
          ],
        },
      });
    });

    test('copies again, so the domain moves to a new version, when the truststore file changes', () => {
      // GIVEN the same gateway built from two versions of the truststore file
      const copySource = (file: string): string => {
        const stack = newStack();
        gatewayWithRoute(stack, { domain: mtlsDomain(stack, file) });
        const upload = Object.values(Template.fromStack(stack).findResources('Custom::WebhookGatewayTruststore'))[0] as { Properties: { Update: unknown } };
        return JSON.parse(flattenJoin(stack.resolve(upload.Properties.Update))).parameters.CopySource;
      };
      const edited = tempFile('truststore.pem', `${readFileSync(TRUSTSTORE, 'utf8')}\n`);
      // WHEN both are synthesized
      // THEN the copy's source differs, so CloudFormation updates the custom resource
      expect(copySource(TRUSTSTORE)).not.toEqual(copySource(edited));
      const same = join(mkdtempSync(join(tmpdir(), 'gateway-')), 'ca.pem');
      copyFileSync(TRUSTSTORE, same);
      expect(copySource(same)).toEqual(copySource(TRUSTSTORE));
    });

    test('a domain without mutual TLS keeps the execute-api endpoint and creates no bucket', () => {
      const stack = newStack();
      gatewayWithRoute(stack, { domain: { domainName: 'hooks.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'C', CERTIFICATE_ARN) } });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApiGateway::DomainName', { SecurityPolicy: 'TLS_1_2', MutualTlsAuthentication: Match.absent() });
      template.hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: false });
      template.resourceCountIs('AWS::S3::Bucket', 0);
    });

    test('sends the truststore bucket\'s access logs to the bucket it is given', () => {
      const stack = newStack();
      const logBucket = s3.Bucket.fromBucketName(stack, 'Logs', 'central-access-logs');
      const domain = mtlsDomain(stack);
      gatewayWithRoute(stack, { domain: { ...domain, mtls: { truststorePath: TRUSTSTORE, serverAccessLogsBucket: logBucket } } });
      Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: 'central-access-logs' },
      });
    });
  });

  test('lets only the allowed address ranges invoke the API', () => {
    // GIVEN a stack
    const stack = newStack();
    // WHEN the gateway has an allowlist
    gatewayWithRoute(stack, {
      domain: { domainName: 'hooks.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'C', CERTIFICATE_ARN) },
      allowedIpRanges: ['192.0.2.0/24', '198.51.100.7/32', '2001:db8::/32'],
    });
    // THEN the resource policy denies every other address, and the default endpoint is off
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::RestApi', {
      DisableExecuteApiEndpoint: true,
      Policy: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'execute-api:Invoke', Resource: 'execute-api:/*' },
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
            Condition: { NotIpAddress: { 'aws:SourceIp': ['192.0.2.0/24', '198.51.100.7/32', '2001:db8::/32'] } },
          },
        ],
      },
    });
  });

  test('deploys the API again when the allowlist changes, so the new policy applies', () => {
    const deploymentId = (ranges: string[]): string => {
      const stack = newStack();
      gatewayWithRoute(stack, {
        domain: { domainName: 'hooks.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'C', CERTIFICATE_ARN) },
        allowedIpRanges: ranges,
      });
      return Object.keys(Template.fromStack(stack).findResources('AWS::ApiGateway::Deployment'))[0];
    };
    expect(deploymentId(['192.0.2.0/24'])).not.toEqual(deploymentId(['192.0.2.0/25']));
  });

  test('gives a sender an API key and a usage plan on the stage, with throttling and a quota', () => {
    // GIVEN a gateway with a path that requires an API key
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway');
    gateway._addWebhookRoute('internal/orders', handler(stack), { apiKeyRequired: true });
    // WHEN two senders are added, one with defaults
    const key = gateway.addSender('Billing', { throttle: { rateLimit: 5 }, quota: { limit: 500, period: apigw.Period.WEEK, offset: 2 } });
    gateway.addSender('Reports');
    // THEN
    const template = Template.fromStack(stack);
    expect(stack.resolve(key.keyId)).toEqual({ Ref: expect.stringMatching(/^GatewaySendersBillingKey/) });
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'POST', ApiKeyRequired: true });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 2);
    template.hasResourceProperties('AWS::ApiGateway::ApiKey', { Enabled: true, Value: Match.absent() });
    const stage = { ApiId: { Ref: Match.stringLikeRegexp('^GatewayApi') }, Stage: { Ref: Match.stringLikeRegexp('^GatewayApiDeploymentStage') } };
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      ApiStages: [stage],
      Throttle: { RateLimit: 5, BurstLimit: 20 },
      Quota: { Limit: 500, Period: 'WEEK', Offset: 2 },
    });
    // The defaults are sandbox-sized: 10 requests per second, bursts of 20, 10,000 a day.
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      ApiStages: [stage],
      Throttle: { RateLimit: 10, BurstLimit: 20 },
      Quota: { Limit: 10000, Period: 'DAY' },
    });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
      KeyType: 'API_KEY',
      KeyId: { Ref: Match.stringLikeRegexp('^GatewaySendersBillingKey') },
      UsagePlanId: { Ref: Match.stringLikeRegexp('^GatewaySendersBillingUsagePlan') },
    });
  });

  test('warns when a sender may go faster than the stage allows', () => {
    const stack = newStack();
    const gateway = gatewayWithRoute(stack);
    gateway.addSender('Bulk', { throttle: { rateLimit: 500, burstLimit: 50 } });
    Annotations.fromStack(stack).hasWarning('/Test/Gateway', Match.stringLikeRegexp("sender 'Bulk': throttle.rateLimit 500 is above the gateway's stage throttle of 100"));
  });

  test('gives the URL of a path on the custom domain, or else on the execute-api endpoint', () => {
    const stack = newStack();
    const withDomain = gatewayWithRoute(stack, { domain: mtlsDomain(stack) });
    expect(withDomain.urlForPath('stripe')).toBe('https://hooks.example.com/stripe');

    const plain = new WebhookGateway(stack, 'Plain');
    plain._addWebhookRoute('hooks/github', handler(stack, 'Other'));
    expect(stack.resolve(plain.urlForPath('hooks/github'))).toEqual({
      'Fn::Join': ['', ['https://', { Ref: expect.stringMatching(/^PlainApi/) }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: expect.stringMatching(/^PlainApiDeploymentStage/) }, '/hooks/github']],
    });
  });

  test('metrics are per stage: 4XX and 5XX as sums, latency as p99, over 5 minutes', () => {
    const stack = newStack();
    const gateway = gatewayWithRoute(stack);
    const dimensions = { ApiName: expect.stringMatching(/^Test-Gateway-/), Stage: { Ref: expect.stringMatching(/^GatewayApiDeploymentStage/) } };
    const clientError = gateway.metricClientError();
    expect(clientError).toMatchObject({ namespace: 'AWS/ApiGateway', metricName: '4XXError', statistic: 'Sum' });
    expect(clientError.period.toMinutes()).toBe(5);
    expect(stack.resolve(clientError.dimensions)).toEqual(dimensions);
    expect(gateway.metricServerError()).toMatchObject({ metricName: '5XXError', statistic: 'Sum' });
    const latency = gateway.metricLatency();
    expect(latency).toMatchObject({ metricName: 'Latency', statistic: 'p99' });
    expect(latency.period.toMinutes()).toBe(5);
    expect(stack.resolve(latency.dimensions)).toEqual(dimensions);
    expect(gateway.metricLatency({ statistic: 'p50' }).statistic).toBe('p50');
    // The API's name is unique, so its metrics are not mixed with another API's.
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::RestApi', { Name: Match.stringLikeRegexp('^Test-Gateway-') });
  });

  describe('validation', () => {
    test('fails when mutual TLS is on and the execute-api endpoint is kept', () => {
      const stack = newStack();
      expect(() => new WebhookGateway(stack, 'Gateway', { domain: mtlsDomain(stack), disableExecuteApiEndpoint: false }))
        .toThrow(/WebhookGateway 'Test\/Gateway': disableExecuteApiEndpoint is false, but mutual TLS is on; callers could go around it through the execute-api endpoint. Remove disableExecuteApiEndpoint/);
    });

    test('fails when an IP allowlist is on and the execute-api endpoint is kept', () => {
      const stack = newStack();
      const domain = { domainName: 'hooks.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'C', CERTIFICATE_ARN) };
      expect(() => new WebhookGateway(stack, 'Gateway', { domain, allowedIpRanges: ['192.0.2.0/24'], disableExecuteApiEndpoint: false }))
        .toThrow(/WebhookGateway 'Test\/Gateway': disableExecuteApiEndpoint is false, but an IP allowlist \(allowedIpRanges\) is on/);
    });

    test('fails when an IP allowlist has no custom domain to be reached on', () => {
      expect(() => new WebhookGateway(newStack(), 'Gateway', { allowedIpRanges: ['192.0.2.0/24'] }))
        .toThrow(/WebhookGateway 'Test\/Gateway': allowedIpRanges needs a custom domain.*Set domain/);
    });

    test('fails when an allowed IP range is not a CIDR block', () => {
      const stack = newStack();
      const domain = { domainName: 'hooks.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'C', CERTIFICATE_ARN) };
      expect(() => new WebhookGateway(stack, 'Gateway', { domain, allowedIpRanges: ['192.0.2.0/24', '192.0.2.10', '10.0.0.256/8', '10.0.0.0/33', '2001:db8::/129', '2001:db8:::1/64', 'example.com/32'] }))
        .toThrow(/allowedIpRanges must be IPv4 or IPv6 CIDR blocks.*got '192.0.2.10', '10.0.0.256\/8', '10.0.0.0\/33', '2001:db8::\/129', '2001:db8:::1\/64', 'example.com\/32'$/);
    });

    test('fails when allowedIpRanges is empty', () => {
      const stack = newStack();
      const domain = { domainName: 'hooks.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'C', CERTIFICATE_ARN) };
      expect(() => new WebhookGateway(stack, 'Gateway', { domain, allowedIpRanges: [] })).toThrow(/allowedIpRanges is empty, so every caller would be denied/);
    });

    test('fails when the same path is mounted twice', () => {
      const stack = newStack();
      const gateway = gatewayWithRoute(stack);
      expect(() => gateway._addWebhookRoute('stripe', handler(stack, 'Second')))
        .toThrow(/WebhookGateway 'Test\/Gateway': path 'stripe' is already mounted by Test\/Gateway\/Api\/Default\/stripe\/POST; give each webhook source or trigger its own path/);
    });

    test('fails when a path or required header is malformed', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      const fn = handler(stack);
      expect(() => gateway._addWebhookRoute('/stripe/{proxy+}', fn)).toThrow(/a webhook path must be one or more URL-safe segments.*got '\/stripe\/\{proxy\+\}'/);
      expect(() => gateway._addWebhookRoute('stripe', fn, { requiredHeader: 'Stripe Signature' })).toThrow(/requiredHeader of path 'stripe' must be an HTTP header name.*got 'Stripe Signature'/);
      expect(() => gateway.urlForPath('https://x/stripe')).toThrow(/urlForPath needs a path/);
    });

    test('fails when the truststore file is missing', () => {
      const stack = newStack();
      expect(() => new WebhookGateway(stack, 'Gateway', { domain: mtlsDomain(stack, 'no/such/truststore.pem') }))
        .toThrow(/WebhookGateway 'Test\/Gateway': domain.mtls.truststorePath must be a PEM file of CA certificates, but '.*no\/such\/truststore.pem' is not a file; fix the path/);
    });

    test('fails when the truststore holds a private key, or no certificate', () => {
      const stack = newStack();
      const withKey = tempFile('bundle.pem', `${readFileSync(TRUSTSTORE, 'utf8')}-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n`);
      expect(() => new WebhookGateway(stack, 'A', { domain: mtlsDomain(stack, withKey) }))
        .toThrow(/WebhookGateway 'Test\/A': the truststore '.*bundle.pem' contains a private key, which must never be uploaded/);
      const empty = tempFile('empty.pem', 'not a certificate\n');
      expect(() => new WebhookGateway(stack, 'B', { domain: { ...mtlsDomain(newStack()), mtls: { truststorePath: empty } } }))
        .toThrow(/the truststore '.*empty.pem' contains no PEM certificate/);
      const broken = tempFile('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      expect(() => new WebhookGateway(stack, 'C', { domain: { ...mtlsDomain(newStack()), mtls: { truststorePath: broken } } }))
        .toThrow(/certificate 1 of the truststore '.*broken.pem' does not parse/);
    });

    test('fails when the domain name is not a lowercase host name', () => {
      const stack = newStack();
      const certificate = acm.Certificate.fromCertificateArn(stack, 'C', CERTIFICATE_ARN);
      expect(() => new WebhookGateway(stack, 'Gateway', { domain: { domainName: 'https://Hooks.example.com/', certificate } }))
        .toThrow(/domain.domainName must be a lowercase host name without a scheme or path, such as 'hooks.example.com', got 'https:\/\/Hooks.example.com\/'/);
    });

    test('fails when a throttle or quota is out of range', () => {
      const stack = newStack();
      expect(() => new WebhookGateway(stack, 'A', { throttle: { rateLimit: 0 } })).toThrow(/WebhookGateway 'Test\/A': throttle.rateLimit must be a positive number of requests per second, got 0/);
      const gateway = new WebhookGateway(stack, 'Gateway');
      expect(() => gateway.addSender('Billing', { throttle: { burstLimit: 2.5 } })).toThrow(/WebhookGateway 'Test\/Gateway': sender 'Billing': throttle.burstLimit must be a whole number of requests of at least 1, got 2.5/);
      expect(() => gateway.addSender('Billing', { quota: { limit: 0 } })).toThrow(/sender 'Billing': quota.limit must be a whole number of requests of at least 1, got 0/);
      expect(() => gateway.addSender('Billing', { quota: { period: apigw.Period.DAY, offset: 3 } })).toThrow(/quota.offset must be a whole number from 0 to 0 for period DAY, got 3/);
    });

    test('fails when a sender is added twice', () => {
      const gateway = gatewayWithRoute(newStack());
      gateway.addSender('Billing');
      expect(() => gateway.addSender('Billing')).toThrow(/WebhookGateway 'Test\/Gateway': sender 'Billing' is already added; give each sender its own id/);
    });

    test('fails at synthesis when no path is mounted', () => {
      const stack = newStack();
      new WebhookGateway(stack, 'Gateway');
      expect(() => Template.fromStack(stack)).toThrow(/WebhookGateway 'Test\/Gateway': no webhook path is mounted/);
    });
  });
});

describe('cdk-nag AwsSolutions over a locked-down gateway', () => {
  function lockedDownApp(acknowledgeWaf: boolean): App {
    const app = new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    const stack = newStack(app);
    const gateway = new WebhookGateway(stack, 'Gateway', { domain: mtlsDomain(stack), allowedIpRanges: ['192.0.2.0/24'] });
    gateway._addWebhookRoute('stripe', handler(stack), { requiredHeader: 'Stripe-Signature' });
    gateway._addWebhookRoute('internal/orders', handler(stack, 'Orders'), { apiKeyRequired: true });
    gateway.addSender('Billing');
    if (acknowledgeWaf) {
      // As in the example app: a web ACL is the app's choice, not the library's.
      Validations.of(gateway.api).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason: 'Callers are limited to one address range and need a client certificate; this test does not pay for a web ACL.',
      });
    }
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    return app;
  }

  test('has no unacknowledged finding with a domain, mTLS, an allowlist and a sender, and every acknowledgement gives its reason', () => {
    // GIVEN a gateway with everything on
    const app = lockedDownApp(true);
    // WHEN it is synthesized with the checks, THEN nothing is left unacknowledged
    expect(() => app.synth()).not.toThrow();
    const acks = acknowledgements(app);
    expect(acks.map((a) => a.id).sort()).toEqual(expect.arrayContaining(['AwsSolutions-APIG2', 'AwsSolutions-APIG4', 'AwsSolutions-APIG6', 'AwsSolutions-S1']));
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(40);
  });

  test('the checks are live: an unacknowledged finding fails synthesis', () => {
    const app = lockedDownApp(false);
    expect(() => app.synth()).toThrow(/APIG3/);
  });
});
