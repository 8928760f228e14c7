import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WebhookGateway, WebhookWaf, type WebhookGatewayProps } from '../../lib';
import { acknowledgements } from '../support/nag';
import { inlineHandler as handler } from '../support/inline-handler';

const STRICT = { '@aws-cdk/core:strictCfnValidateErrors': true };
const WEB_ACL_ARN = 'arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/webhooks/a1b2c3d4-5678-90ab-cdef-111111111111';

function newStack(app = new App({ context: STRICT })): Stack {
  // Strict: the synthesized template is validated against the CloudFormation schema.
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}


/** A gateway with two paths, mounted as a source and a trigger mount theirs. */
function gatewayWithPaths(stack: Stack, props: WebhookGatewayProps, stripe: { wafRateLimit?: number } = {}): WebhookGateway {
  const gateway = new WebhookGateway(stack, 'Gateway', props);
  gateway._addWebhookRoute('stripe', handler(stack, 'Stripe'), { requiredHeader: 'Stripe-Signature', throttle: { rateLimit: 20, burstLimit: 100 }, ...stripe });
  gateway._addWebhookRoute('hooks/github', handler(stack, 'GitHub'), { requiredHeader: 'X-Hub-Signature-256', throttle: { rateLimit: 100, burstLimit: 200 } });
  return gateway;
}

interface Rule {
  Name: string;
  Priority: number;
  Action: unknown;
  Statement: { RateBasedStatement: { Limit: number; EvaluationWindowSec: number; AggregateKeyType: string; ScopeDownStatement: { RegexMatchStatement: { RegexString: string; FieldToMatch: unknown; TextTransformations: unknown } } } };
}

function rules(template: Template): Rule[] {
  const acls = Object.values(template.findResources('AWS::WAFv2::WebACL')) as { Properties: { Rules: Rule[] } }[];
  expect(acls).toHaveLength(1);
  return acls[0].Properties.Rules;
}

describe('WebhookWaf.rateLimit', () => {
  test('creates a REGIONAL web ACL with a rate-based rule per path, counted per IP address, associated with the stage', () => {
    // GIVEN a gateway with a rate-limiting web ACL
    const stack = newStack();
    const gateway = gatewayWithPaths(stack, { waf: WebhookWaf.rateLimit() });
    // WHEN it is synthesized
    const template = Template.fromStack(stack);
    // THEN the web ACL allows by default and blocks per path and address
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      VisibilityConfig: { CloudWatchMetricsEnabled: true, SampledRequestsEnabled: true, MetricName: Match.anyValue() },
      CustomResponseBodies: { RateLimited: { ContentType: 'APPLICATION_JSON', Content: Match.serializedJson({ error: 'RateLimited', message: Match.stringLikeRegexp('too many requests from this address to this path') }) } },
    });
    const [stripe, github] = rules(template);
    // Each path's default limit is its method throttle over the 5-minute window.
    expect(stripe.Statement.RateBasedStatement).toEqual({
      Limit: 20 * 300,
      EvaluationWindowSec: 300,
      AggregateKeyType: 'IP',
      ScopeDownStatement: {
        RegexMatchStatement: {
          FieldToMatch: { UriPath: {} },
          // On the custom domain /stripe, on the execute-api endpoint /prod/stripe.
          RegexString: '^(/prod)?/stripe/?$',
          TextTransformations: [{ Priority: 0, Type: 'URL_DECODE' }, { Priority: 1, Type: 'NORMALIZE_PATH' }],
        },
      },
    });
    expect(github.Statement.RateBasedStatement).toMatchObject({ Limit: 100 * 300, ScopeDownStatement: { RegexMatchStatement: { RegexString: '^(/prod)?/hooks/github/?$' } } });
    expect([stripe.Priority, github.Priority]).toEqual([0, 1]);
    expect(stripe.Action).toEqual({
      Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: 'RateLimited', ResponseHeaders: [{ Name: 'Retry-After', Value: '300' }] } },
    });
    // AND the association is on this gateway's stage
    const [stageId] = Object.keys(template.findResources('AWS::ApiGateway::Stage'));
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^GatewayWebAcl'), 'Arn'] },
      ResourceArn: { 'Fn::Join': ['', Match.arrayWith([':apigateway:eu-west-1::/restapis/', { Ref: Match.stringLikeRegexp('^GatewayApi') }, '/stages/', { Ref: stageId }])] },
    });
    expect(gateway.webAclArn).toBeDefined();
  });

  test('a path\'s own limit, then the web ACL\'s limit, take the place of the derived one; the window sets Retry-After', () => {
    const stack = newStack();
    gatewayWithPaths(stack, { waf: WebhookWaf.rateLimit({ limit: 500, evaluationWindow: Duration.minutes(1) }) }, { wafRateLimit: 40 });
    const [stripe, github] = rules(Template.fromStack(stack));
    expect([stripe.Statement.RateBasedStatement.Limit, github.Statement.RateBasedStatement.Limit]).toEqual([40, 500]);
    expect(github.Statement.RateBasedStatement.EvaluationWindowSec).toBe(60);
    expect(github.Action).toMatchObject({ Block: { CustomResponse: { ResponseHeaders: [{ Name: 'Retry-After', Value: '60' }] } } });
  });

  test('a derived limit is never under AWS WAF\'s minimum of 10', () => {
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway', { waf: WebhookWaf.rateLimit({ evaluationWindow: Duration.minutes(1) }) });
    gateway._addWebhookRoute('slow', handler(stack, 'Slow'), { throttle: { rateLimit: 0.1, burstLimit: 1 } });
    expect(rules(Template.fromStack(stack))[0].Statement.RateBasedStatement.Limit).toBe(10);
  });

  test('fails when the window is not one AWS WAF counts over, or the limit is under its minimum', () => {
    expect(() => new WebhookGateway(newStack(), 'Gateway', { waf: WebhookWaf.rateLimit({ evaluationWindow: Duration.minutes(3) }) }))
      .toThrow(/WebhookGateway 'Test\/Gateway': waf evaluationWindow must be 1, 2, 5 or 10 minutes, the windows AWS WAF counts over, got 3 minutes/);
    expect(() => new WebhookGateway(newStack(), 'Gateway', { waf: WebhookWaf.rateLimit({ limit: 5 }) }))
      .toThrow(/WebhookGateway 'Test\/Gateway': waf: limit must be a whole number of requests per evaluation window from 10 \(AWS WAF's minimum\) to 2000000000, got 5/);
    expect(() => new WebhookGateway(newStack(), 'Gateway', { waf: WebhookWaf.rateLimit({ limit: 99.5 }) }))
      .toThrow(/limit must be a whole number of requests per evaluation window .*got 99.5/);
  });

  test('fails when an 11th path would need an 11th rate-based rule, over AWS WAF\'s quota of 10 per web ACL', () => {
    // GIVEN a rate-limiting gateway with 10 paths
    const stack = newStack();
    const gateway = new WebhookGateway(stack, 'Gateway', { waf: WebhookWaf.rateLimit() });
    const fn = handler(stack, 'Handler');
    for (let i = 0; i < 10; i++) gateway._addWebhookRoute(`p${i}`, fn);
    // WHEN another is mounted, THEN it fails, naming the fix
    expect(() => gateway._addWebhookRoute('p10', fn))
      .toThrow(/WebhookGateway 'Test\/Gateway': path 'p10': the gateway Test\/Gateway already mounts 10 paths, and its web ACL \(WebhookWaf.rateLimit\) holds one rate-based rule per path, at most 10; mount this path on another gateway/);
  });
});

describe('WebhookWaf.fromWebAclArn', () => {
  test('associates the web ACL it is given with the stage, and creates none', () => {
    const stack = newStack();
    const gateway = gatewayWithPaths(stack, { waf: WebhookWaf.fromWebAclArn(WEB_ACL_ARN) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: WEB_ACL_ARN, ResourceArn: Match.anyValue() });
    expect(gateway.webAclArn).toBe(WEB_ACL_ARN);
  });

  test('fails when the web ACL is not REGIONAL', () => {
    const global = 'arn:aws:wafv2:us-east-1:111111111111:global/webacl/webhooks/a1b2c3d4-5678-90ab-cdef-111111111111';
    expect(() => new WebhookGateway(newStack(), 'Gateway', { waf: WebhookWaf.fromWebAclArn(global) }))
      .toThrow(/WebhookGateway 'Test\/Gateway': waf needs the ARN of a REGIONAL web ACL .*a CLOUDFRONT \(global\) web ACL cannot protect an API Gateway REST API. Got 'arn:aws:wafv2:us-east-1:111111111111:global\/webacl/);
  });
});

describe('cdk-nag AwsSolutions with a web ACL', () => {
  test.each([
    ['a rate-limiting web ACL', WebhookWaf.rateLimit()],
    ['a web ACL of your own', WebhookWaf.fromWebAclArn(WEB_ACL_ARN)],
  ])('%s meets APIG3 with no acknowledgement', (_name, waf) => {
    // GIVEN a gateway with a web ACL, and the checks
    const app = new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    const stack = newStack(app);
    gatewayWithPaths(stack, { waf });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // WHEN it is synthesized, THEN APIG3 is not reported, nor acknowledged
    expect(() => app.synth()).not.toThrow();
    expect(acknowledgements(app).map((a) => a.id)).not.toContain('AwsSolutions-APIG3');
  });
});
