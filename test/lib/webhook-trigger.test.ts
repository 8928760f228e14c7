import { App, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgements } from '../support/nag';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import type { TriggerConfig } from '../../lambda/trigger/config';
import { ParameterType, TriggerParameter, TriggerTarget, TriggerValidation, WebhookAuth, WebhookGateway, WebhookTrigger, WebhookWaf, type WebhookTriggerProps } from '../../lib';
import { resolveCfn } from '../../cli/local/cfn';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:planasonix-AbCdEf';

function newStack(): Stack {
  const app = new App({ context: { '@aws-cdk/core:strictCfnValidateErrors': true } });
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

function pipeline(stack: Stack, type = sfn.StateMachineType.STANDARD): sfn.StateMachine {
  return new sfn.StateMachine(stack, 'Pipeline', { stateMachineType: type, definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Go')) });
}

function trigger(stack: Stack, props: Partial<WebhookTriggerProps> = {}): WebhookTrigger {
  const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'Secret', SECRET_ARN);
  return new WebhookTrigger(stack, 'Exports', {
    target: props.target ?? TriggerTarget.stateMachine(pipeline(stack)),
    auth: WebhookAuth.planasonix(secret),
    path: 'exports',
    parameters: { exportId: TriggerParameter.fromJsonPath('$.export_id', { required: true, jsonType: ParameterType.STRING }) },
    ...props,
  });
}

function triggerPolicy(template: Template): unknown[] {
  const [policy] = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('ExportsTriggerRole')).map(([, p]) => p);
  return (policy as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement;
}

/** Evaluates a synthesized ARN (Fn::Join of literals and Fn::Select of Fn::Split of one Ref) with the Ref as `refValue`. */
function evaluateArn(value: unknown, refValue: string): string {
  if (typeof value === 'string') return value;
  const obj = value as Record<string, unknown>;
  if ('Ref' in obj) return refValue;
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => evaluateArn(p, refValue)).join(sep);
  }
  if ('Fn::Select' in obj) {
    const [index, list] = obj['Fn::Select'] as [number, { 'Fn::Split': [string, unknown] }];
    const [sep, source] = list['Fn::Split'];
    return evaluateArn(source, refValue).split(sep)[index];
  }
  throw new Error(`unexpected intrinsic: ${JSON.stringify(value)}`);
}

function triggerConfig(template: Template): TriggerConfig {
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f) => JSON.stringify(f).includes(CONFIG_ENV_VAR)) as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return JSON.parse(resolveCfn(fn.Properties.Environment.Variables[CONFIG_ENV_VAR], (id) => `ref:${id}`) as string) as TriggerConfig;
}

describe('WebhookTrigger: a Twilio-signed trigger', () => {
  test('checks signatures against the gateway\'s custom domain and its path, or the configured url', () => {
    // GIVEN triggers authenticated by Twilio signatures on a gateway with a custom domain
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway', {
      domain: { domainName: 'hooks.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab') },
    });
    const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'TwilioSecret', SECRET_ARN);
    trigger(stack, { auth: WebhookAuth.twilio(secret), gateway });
    // THEN the handler reads the URL senders call
    expect(triggerConfig(Template.fromStack(stack)).auth).toMatchObject({ kind: 'twilio', url: 'https://hooks.example.com/exports' });

    const configured = newStack();
    trigger(configured, { auth: WebhookAuth.twilio(secretsmanager.Secret.fromSecretCompleteArn(configured, 'TwilioSecret', SECRET_ARN), { url: 'https://edge.example.com/exports' }) });
    expect(triggerConfig(Template.fromStack(configured)).auth).toMatchObject({ url: 'https://edge.example.com/exports' });
  });
});

describe('WebhookTrigger', () => {
  test('may start executions of its one state machine, and read its one secret, nothing else', () => {
    const stack = newStack();
    trigger(stack);
    const template = Template.fromStack(stack);
    expect(triggerPolicy(template)).toEqual([
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ExportsTriggerLogs/), 'Arn'] } },
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: expect.stringMatching(/^Pipeline/) } },
      // To tell a retry from a reused idempotency key: read back the executions of this one state machine.
      { Action: 'states:DescribeExecution', Effect: 'Allow', Resource: expect.anything() },
      { Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], Effect: 'Allow', Resource: SECRET_ARN },
    ]);
    const describe = triggerPolicy(template)[2] as { Resource: unknown };
    expect(evaluateArn(describe.Resource, 'arn:aws:states:eu-west-1:111111111111:stateMachine:Pipeline-a1B2')).toBe('arn:aws:states:eu-west-1:111111111111:execution:Pipeline-a1B2:*');
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'POST', RequestParameters: { 'method.request.header.X-Planasonix-Signature': true } });
  });

  test('the previous secret\'s grace period reaches the handler, 24 hours unless set, and the rotation metric is the one it writes', () => {
    const stack = newStack();
    const exports = trigger(stack);
    expect(triggerConfig(Template.fromStack(stack)).previousSecretGraceSeconds).toBe(86_400);
    const metric = exports.metricNonCurrentSecretRequests();
    expect([metric.namespace, metric.metricName, metric.dimensions, metric.statistic]).toEqual(['CdkWebhookIngress', 'NonCurrentSecretRequests', { service: 'Exports' }, 'Sum']);
    const other = newStack();
    trigger(other, { previousSecretGrace: Duration.minutes(30) });
    expect(triggerConfig(Template.fromStack(other)).previousSecretGraceSeconds).toBe(1800);
    expect(() => trigger(newStack(), { previousSecretGrace: Duration.millis(1500) })).toThrow(/previousSecretGrace must be a whole number of seconds/);
  });

  test('the configuration maps parameters, and names the delivery headers', () => {
    const stack = newStack();
    trigger(stack, {
      parameters: {
        exportId: TriggerParameter.fromJsonPath('$.export_id', { required: true, jsonType: ParameterType.STRING }),
        firstUri: TriggerParameter.fromJsonPath("$.items[0]['uri']"),
        tenant: TriggerParameter.fromHeader('X-Tenant', { required: true }),
        environment: TriggerParameter.fromValue({ name: 'prod', tier: 1 }),
      },
      validation: TriggerValidation.STRICT,
    });
    const config = triggerConfig(Template.fromStack(stack));
    expect(config).toMatchObject({
      version: 1,
      source: 'Exports',
      validation: 'strict',
      includeBody: false,
      idempotencyHeaders: ['idempotency-key', 'x-planasonix-delivery'],
      maxBodyBytes: 64 * 1024,
      retryAfterSeconds: 10,
      parameters: [
        { name: 'exportId', from: { jsonPath: '$.export_id' }, required: true, type: 'string' },
        { name: 'firstUri', from: { jsonPath: "$.items[0]['uri']" }, required: false },
        { name: 'tenant', from: { header: 'x-tenant' }, required: true },
        { name: 'environment', from: { value: { name: 'prod', tier: 1 } }, required: false },
      ],
    });
    expect(config.target.arn).toBe(config.target.stateMachineArn);
  });

  test('version and alias targets: StartExecution on exactly that ARN', () => {
    const stack = newStack();
    const machine = pipeline(stack);
    const version = new sfn.CfnStateMachineVersion(stack, 'V1', { stateMachineArn: machine.stateMachineArn });
    const alias = new sfn.CfnStateMachineAlias(stack, 'Prod', { name: 'prod', deploymentPreference: { stateMachineVersionArn: version.attrArn, type: 'ALL_AT_ONCE' } });
    trigger(stack, { target: TriggerTarget.alias(alias, machine) });
    const template = Template.fromStack(stack);
    expect(triggerPolicy(template)).toContainEqual({ Action: 'states:StartExecution', Effect: 'Allow', Resource: { 'Fn::GetAtt': ['Prod', 'Arn'] } });
    const config = triggerConfig(template);
    expect(config.target.arn).toMatch(/^ref:Prod/);
    expect(config.target.stateMachineArn).toMatch(/^ref:Pipeline/);

    const stack2 = newStack();
    const machine2 = pipeline(stack2);
    const v = new sfn.CfnStateMachineVersion(stack2, 'V1', { stateMachineArn: machine2.stateMachineArn });
    trigger(stack2, { target: TriggerTarget.version(v, machine2) });
    expect(triggerPolicy(Template.fromStack(stack2))).toContainEqual({ Action: 'states:StartExecution', Effect: 'Allow', Resource: { 'Fn::GetAtt': ['V1', 'Arn'] } });
  });

  describe('its path\'s own throttle', () => {
    function pathSetting(template: Template): unknown {
      const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { MethodSettings: { HttpMethod: string }[] } }[];
      return stage.Properties.MethodSettings.filter((m) => m.HttpMethod === 'POST');
    }

    test('defaults to a fifth of Step Functions\' StartExecution quota: 30 per second, burst 160', () => {
      // GIVEN a shared gateway with the default stage throttle
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      // WHEN a trigger mounts on it without a throttle
      const exports = trigger(stack, { gateway });
      // THEN its path has its own method setting
      expect(pathSetting(Template.fromStack(stack))).toEqual([{ HttpMethod: 'POST', ResourcePath: '/~1exports', ThrottlingRateLimit: 30, ThrottlingBurstLimit: 160 }]);
      expect(exports.webhookThrottle).toEqual({ rateLimit: 30, burstLimit: 160 });
    });

    test('takes the throttle it is given, and its own gateway\'s stage rises to fit it', () => {
      const stack = newStack();
      trigger(stack, { throttle: { rateLimit: 2, burstLimit: 4 } });
      expect(pathSetting(Template.fromStack(stack))).toEqual([{ HttpMethod: 'POST', ResourcePath: '/~1exports', ThrottlingRateLimit: 2, ThrottlingBurstLimit: 4 }]);
      const other = newStack();
      trigger(other, { throttle: { rateLimit: 300, burstLimit: 600 } });
      Template.fromStack(other).hasResourceProperties('AWS::ApiGateway::Stage', {
        MethodSettings: [
          { HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 300, ThrottlingBurstLimit: 600, DataTraceEnabled: false },
          { HttpMethod: 'POST', ResourcePath: '/~1exports', ThrottlingRateLimit: 300, ThrottlingBurstLimit: 600 },
        ],
      });
    });

    test('its own limit goes into the gateway\'s web ACL', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway', { waf: WebhookWaf.rateLimit() });
      trigger(stack, { gateway, wafRateLimit: 60 });
      Template.fromStack(stack).hasResourceProperties('AWS::WAFv2::WebACL', {
        Rules: [Match.objectLike({ Statement: { RateBasedStatement: Match.objectLike({ Limit: 60, ScopeDownStatement: { RegexMatchStatement: Match.objectLike({ RegexString: '^(/prod)?/exports/?$' }) } }) } })],
      });
    });

    test('fails when the throttle is above the gateway\'s stage throttle, or its burst is below its rate', () => {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway', { throttle: { rateLimit: 10, burstLimit: 20 } });
      expect(() => trigger(stack, { gateway, throttle: { rateLimit: 30 } }))
        .toThrow(/WebhookTrigger 'Test\/Exports': throttle.rateLimit 30 is above the gateway's stage throttle of 10, the ceiling of every path; lower it, or raise the gateway's throttle.rateLimit/);
      expect(() => trigger(newStack(), { throttle: { rateLimit: 10, burstLimit: 5 } }))
        .toThrow(/WebhookTrigger 'Test\/Exports': throttle.burstLimit \(5\) must be at least throttle.rateLimit \(10\)/);
    });
  });

  test('cdk-nag: the DescribeExecution wildcard is acknowledged with its reason, and nothing else is', () => {
    for (const target of [
      (stack: Stack) => TriggerTarget.stateMachine(pipeline(stack)),
      (stack: Stack) => TriggerTarget.stateMachine(sfn.StateMachine.fromStateMachineArn(stack, 'Imported', 'arn:aws:states:us-west-2:222222222222:stateMachine:Other')),
    ]) {
      const stack = newStack();
      trigger(stack, { target: target(stack) });
      Validations.of(stack).addPlugins(new AwsSolutionsChecks(stack));
      // An unacknowledged finding makes synthesis throw; the library leaves a WAF (APIG3) to the app.
      let report = '';
      try {
        (stack.node.root as App).synth();
      } catch (error) {
        report = String(error);
      }
      expect(report).not.toMatch(/IAM5/);
      const iam5 = acknowledgements(stack).filter((a) => a.id.startsWith('AwsSolutions-IAM5'));
      expect(iam5).toEqual([{ path: expect.stringMatching(/\/ExportsTriggerRole$|\/TriggerRole$/), id: expect.stringMatching(/^AwsSolutions-IAM5\[Resource::arn:.*:execution:.*:\*\]$/), reason: expect.stringContaining('states:DescribeExecution') }]);
    }
  });

  test('DescribeExecution is on the executions of the one state machine, in its own account and region, whatever the target', () => {
    // An execution's ARN names the state machine, whichever version or alias started it.
    const stack = newStack();
    const machine = sfn.StateMachine.fromStateMachineArn(stack, 'Other', 'arn:aws-cn:states:cn-north-1:222222222222:stateMachine:Orders');
    const version = new sfn.CfnStateMachineVersion(stack, 'V1', { stateMachineArn: machine.stateMachineArn });
    trigger(stack, { target: TriggerTarget.version(version, machine) });
    const describe = triggerPolicy(Template.fromStack(stack)).filter((s) => JSON.stringify(s).includes('states:DescribeExecution'));
    expect(describe).toEqual([{ Action: 'states:DescribeExecution', Effect: 'Allow', Resource: 'arn:aws-cn:states:cn-north-1:222222222222:execution:Orders:*' }]);
  });

  describe('validation', () => {
    test('fails when the target is an Express workflow, which StartExecution cannot make idempotent', () => {
      const stack = newStack();
      expect(() => trigger(stack, { target: TriggerTarget.stateMachine(pipeline(stack, sfn.StateMachineType.EXPRESS)) }))
        .toThrow(/WebhookTrigger 'Test\/Exports': the target is an Express state machine; StartExecution is not idempotent/);
    });

    test('fails when strict validation has nothing to check', () => {
      expect(() => trigger(newStack(), { parameters: { env: TriggerParameter.fromValue('prod') }, validation: TriggerValidation.STRICT }))
        .toThrow(/strict validation needs at least one parameter that is required or typed/);
    });

    test('fails when the body could not fit in a run input', () => {
      expect(() => trigger(newStack(), { maxBodySize: Size.kibibytes(300) })).toThrow(/maxBodySize must be between 1 byte and 256 KiB/);
      expect(() => trigger(newStack(), { maxBodySize: Size.kibibytes(250), includeBody: true })).toThrow(/keep it at or under 200 KiB/);
    });

    test('fails on a bad parameter name, path, header or retryAfter', () => {
      expect(() => trigger(newStack(), { parameters: { 'export id': TriggerParameter.fromValue(1) } })).toThrow(/parameter name 'export id'/);
      expect(() => TriggerParameter.fromJsonPath('$..id')).toThrow(/'\$\.\.id' is not a supported path/);
      expect(() => TriggerParameter.fromJsonPath('$.items[?(@.a)]')).toThrow(/not a supported path/);
      expect(() => TriggerParameter.fromJsonPath('$.items[01]')).toThrow(/not a supported path/);
      expect(() => TriggerParameter.fromHeader('X Tenant')).toThrow(/not a valid HTTP header name/);
      expect(() => TriggerParameter.fromHeader('X-Count', { jsonType: ParameterType.INTEGER })).toThrow(/its jsonType can only be ParameterType.STRING/);
      expect(() => TriggerParameter.fromValue(undefined)).toThrow(/the value is undefined/);
      expect(() => trigger(newStack(), { retryAfter: Duration.hours(2) })).toThrow(/retryAfter must be a whole number of seconds between 1 second and 1 hour/);
    });
  });
});

describe('WebhookTrigger: its URL', () => {
  test('is the execute-api URL of its own gateway\'s stage and its path, without a custom domain', () => {
    const stack = newStack();
    const exports = trigger(stack);
    expect(stack.resolve(exports.webhookUrl)).toEqual({
      'Fn::Join': ['', ['https://', { Ref: expect.stringMatching(/^ExportsGatewayApi/) }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: expect.stringMatching(/^ExportsGatewayApiDeploymentStage/) }, '/exports']],
    });
  });

  test('is on the gateway\'s custom domain when it has one', () => {
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway', {
      domain: { domainName: 'hooks.example.com', certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab') },
    });
    expect(trigger(stack, { gateway }).webhookUrl).toBe('https://hooks.example.com/exports');
  });
});

describe('WebhookTrigger: the trigger function\'s size, limits and observability', () => {
  function triggerFunction(template: Template): Record<string, unknown> {
    const functions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => /^ExportsTrigger[0-9A-F]{8}$/.test(id));
    expect(functions).toHaveLength(1);
    return (functions[0][1] as { Properties: Record<string, unknown> }).Properties;
  }

  test('defaults: 256 MiB and 28 seconds, no reserved concurrency, tracing or Lambda Insights', () => {
    const stack = newStack();
    trigger(stack);
    const fn = triggerFunction(Template.fromStack(stack));
    expect(fn).toMatchObject({ MemorySize: 256, Timeout: 28 });
    for (const absent of ['ReservedConcurrentExecutions', 'TracingConfig', 'Layers']) expect(fn).not.toHaveProperty(absent);
  });

  test('the same options as a source reach the function; its least timeout is StartExecution\'s tries', () => {
    // GIVEN a trigger traced with its pipeline, with its own memory, timeout and reservation
    const stack = newStack();
    const exports = trigger(stack, {
      memorySize: Size.mebibytes(512),
      timeout: Duration.seconds(26),
      reservedConcurrentExecutions: 20,
      tracing: lambda.Tracing.ACTIVE,
      insightsVersion: lambda.LambdaInsightsVersion.VERSION_1_0_498_0,
    });
    const template = Template.fromStack(stack);
    expect(triggerFunction(template)).toMatchObject({ MemorySize: 512, Timeout: 26, ReservedConcurrentExecutions: 20, TracingConfig: { Mode: 'Active' }, Layers: [expect.stringMatching(/LambdaInsightsExtension-Arm64/)] });
    expect(triggerPolicy(template)).toContainEqual({ Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' });
    // AND the path's default throttle fits in the 20 executions
    expect(exports.webhookThrottle).toEqual({ rateLimit: 20, burstLimit: 20 });
    // AND a shorter timeout would let Lambda end a slow StartExecution before the handler answers 503
    expect(() => trigger(newStack(), { timeout: Duration.seconds(25) }))
      .toThrow(/WebhookTrigger 'Test\/Exports': timeout must be a whole number of seconds from 26 to 28, got 25 seconds: at least the handler's own deadline \(StartExecution, then DescribeExecution for a retried delivery, each tried twice, each try at most 6 s\)/);
    expect(() => trigger(newStack(), { timeout: Duration.minutes(1) })).toThrow(/timeout must be a whole number of seconds from 26 to 28, got 1 minute/);
  });

  test('warns when a throttle given lets more requests through at once than the reserved executions', () => {
    const stack = newStack();
    trigger(stack, { reservedConcurrentExecutions: 5, throttle: { rateLimit: 5, burstLimit: 40 } });
    Annotations.fromStack(stack).hasWarning('/Test/Exports', Match.stringLikeRegexp('throttle.burstLimit 40 is above reservedConcurrentExecutions 5'));
  });
});
