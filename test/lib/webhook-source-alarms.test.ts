import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { PayloadSchema, PayloadValidation } from '../../lib/payload-schema';
import { WebhookAuth } from '../../lib/webhook-auth';
import { WebhookGateway } from '../../lib/webhook-gateway';
import { WebhookSourceAlarms, type WebhookSourceAlarmsProps } from '../../lib/webhook-source-alarms';
import { WebhookStreamSource } from '../../lib/webhook-stream-source';
import { newStack, STRIPE_SECRET_ARN, stripeSource } from '../support/stacks';

const SECRET_ARN = STRIPE_SECRET_ARN;
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:111111111111:on-call';

function withAlarms(props: Partial<WebhookSourceAlarmsProps> = {}): { stack: Stack; source: WebhookStreamSource; alarms: WebhookSourceAlarms; template: Template } {
  const stack = newStack();
  const source = stripeSource(stack);
  const alarms = new WebhookSourceAlarms(stack, 'StripeAlarms', { source, ...props });
  return { stack, source, alarms, template: Template.fromStack(stack) };
}

const STREAM_DIMENSIONS = [{ Name: 'StreamName', Value: { Ref: Match.stringLikeRegexp('^StripeStream') } }];
const FUNCTION_DIMENSIONS = [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^StripeIngest') } }];
const STAGE_DIMENSIONS = [
  { Name: 'ApiName', Value: Match.stringLikeRegexp('^Test-Stripe-Gateway-') },
  { Name: 'Stage', Value: { Ref: Match.stringLikeRegexp('^StripeGatewayApiDeploymentStage') } },
];

/** The MetricStat entry of one metric of a math expression alarm. */
function stageMetric(id: string, metricName: string, period: number): object {
  return {
    Id: id,
    MetricStat: {
      Metric: { Namespace: 'AWS/ApiGateway', MetricName: metricName, Dimensions: STAGE_DIMENSIONS },
      Period: period,
      Stat: 'Sum',
    },
    ReturnData: false,
  };
}

/** A Sum-over-5-minutes alarm at 1 or more, `periods` periods in a row, missing data not breaching. */
function sumAlarm(namespace: string, metricName: string, dimensions: object[], periods = 1): Record<string, unknown> {
  return {
    Namespace: namespace,
    MetricName: metricName,
    Dimensions: dimensions,
    Statistic: 'Sum',
    Period: 300,
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    EvaluationPeriods: periods,
    ...(periods > 1 ? { DatapointsToAlarm: periods } : {}),
    TreatMissingData: 'notBreaching',
  };
}

/** A rate alarm of the API stage over 15 minutes: `<errorsId> / requests` above `threshold`, with at least 20 requests. */
function stageRateAlarm(label: string, errorsId: string, metricName: string, threshold: number): Record<string, unknown> {
  return {
    Metrics: [
      { Id: Match.anyValue(), Expression: `IF(requests >= 20, ${errorsId} / requests, 0)`, Label: label, ReturnData: true },
      stageMetric('requests', 'Count', 900),
      stageMetric(errorsId, metricName, 900),
    ],
    Threshold: threshold,
    ComparisonOperator: 'GreaterThanThreshold',
    EvaluationPeriods: 1,
    TreatMissingData: 'notBreaching',
  };
}

describe('WebhookSourceAlarms', () => {
  describe('with the defaults', () => {
    test('creates seven alarms, each under the construct', () => {
      // GIVEN a source WHEN alarms are added with the defaults
      const { alarms, template } = withAlarms();
      // THEN there are the seven alarms, all listed in allAlarms
      template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
      expect(alarms.allAlarms).toHaveLength(7);
      expect(alarms.node.children.map((c) => c.node.id).sort()).toEqual(
        ['ClientErrorRate', 'FailedRecords', 'IngestErrors', 'IngestThrottles', 'IteratorAge', 'ServerErrorRate', 'WriteThrottles'],
      );
    });

    test('write throttles: WriteProvisionedThroughputExceeded, Sum over 5 minutes, at least 1 in 3 periods in a row', () => {
      const { template } = withAlarms();
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...sumAlarm('AWS/Kinesis', 'WriteProvisionedThroughputExceeded', STREAM_DIMENSIONS, 3),
        AlarmDescription: Match.stringLikeRegexp('Test/Stripe has throttled writes for 15 minutes'),
      });
    });

    test('failed records: PutRecords.FailedRecords, Sum over 5 minutes, at least 1 in 3 periods in a row', () => {
      const { template } = withAlarms();
      template.hasResourceProperties('AWS::CloudWatch::Alarm', sumAlarm('AWS/Kinesis', 'PutRecords.FailedRecords', STREAM_DIMENSIONS, 3));
    });

    test('ingest errors and throttles: Lambda Errors and Throttles, Sum over 5 minutes, at least 1', () => {
      const { template } = withAlarms();
      for (const metricName of ['Errors', 'Throttles']) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', sumAlarm('AWS/Lambda', metricName, FUNCTION_DIMENSIONS));
      }
    });

    test('4XX rate: 4XXError / Count of the API stage over 15 minutes, above 0.2, with at least 20 requests', () => {
      const { template } = withAlarms();
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...stageRateAlarm('4XX rate', 'clientErrors', '4XXError', 0.2),
        AlarmDescription: Match.stringLikeRegexp('More than 20% of the requests .* \\(every path on it\\) were answered 4XX over 15 minutes'),
      });
    });

    test('5XX rate: 5XXError / Count of the API stage over 15 minutes, above 0.01, with at least 20 requests', () => {
      const { template } = withAlarms();
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...stageRateAlarm('5XX rate', 'serverErrors', '5XXError', 0.01),
        AlarmDescription: Match.stringLikeRegexp('More than 1% of the requests'),
      });
    });

    test('iterator age: GetRecords.IteratorAgeMilliseconds, Maximum over 5 minutes, above 15 minutes, missing data kept missing', () => {
      const { template } = withAlarms();
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Kinesis',
        MetricName: 'GetRecords.IteratorAgeMilliseconds',
        Dimensions: STREAM_DIMENSIONS,
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 900_000,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        // A consumer that stops reading stops the metric: INSUFFICIENT_DATA, not OK.
        TreatMissingData: 'missing',
      });
    });

    test('no alarm has actions', () => {
      const { template } = withAlarms();
      template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: Match.absent(), OKActions: Match.absent() });
    });
  });

  test('thresholds, the rate window and the iterator age can be set', () => {
    // GIVEN thresholds of its own
    const { template } = withAlarms({
      throttledRecordsThreshold: 50,
      failedRecordsThreshold: 10,
      ingestErrorsThreshold: 3,
      ingestThrottlesThreshold: 5,
      clientErrorRateThreshold: 0.5,
      serverErrorRateThreshold: 0,
      minimumRequests: 100,
      rateWindow: Duration.minutes(5),
      maxIteratorAge: Duration.hours(1),
    });
    // THEN each alarm uses them
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'WriteProvisionedThroughputExceeded', Threshold: 50 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'PutRecords.FailedRecords', Threshold: 10 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Threshold: 3 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Threshold: 5 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'GetRecords.IteratorAgeMilliseconds', Threshold: 3_600_000 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(requests >= 100, clientErrors / requests, 0)' }),
        stageMetric('requests', 'Count', 300),
      ]),
      Threshold: 0.5,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(requests >= 100, serverErrors / requests, 0)' })]),
      Threshold: 0,
    });
  });

  test('watches a stream passed in by its name', () => {
    // GIVEN a source writing to an existing stream
    const stack = newStack();
    const stream = kinesis.Stream.fromStreamArn(stack, 'Existing', 'arn:aws:kinesis:eu-west-1:111111111111:stream/events');
    const source = stripeSource(stack, { stream });
    // WHEN alarms are added
    new WebhookSourceAlarms(stack, 'StripeAlarms', { source });
    // THEN the stream alarms name that stream
    const template = Template.fromStack(stack);
    for (const metricName of ['WriteProvisionedThroughputExceeded', 'PutRecords.FailedRecords', 'GetRecords.IteratorAgeMilliseconds']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: metricName, Dimensions: [{ Name: 'StreamName', Value: 'events' }] });
    }
  });

  test('alarm and OK actions go on every alarm, the source\'s quarantine alarm included', () => {
    // GIVEN a source in quarantine mode, and an SNS topic
    const stack = newStack();
    const schema = PayloadSchema.fromObject({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } });
    const source = stripeSource(stack, { payloadValidation: PayloadValidation.quarantine(schema) });
    const action = new cw_actions.SnsAction(sns.Topic.fromTopicArn(stack, 'OnCall', TOPIC_ARN));
    // WHEN alarms are added with actions
    const alarms = new WebhookSourceAlarms(stack, 'StripeAlarms', { source, alarmActions: [action], okActions: [action] });
    // THEN all eight alarms carry them
    const template = Template.fromStack(stack);
    expect(alarms.allAlarms).toHaveLength(8);
    expect(alarms.allAlarms).toContain(source.quarantineAlarm);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [TOPIC_ARN], OKActions: [TOPIC_ARN] });
  });

  describe('on a shared gateway', () => {
    function sharedGateway(secondGatewayAlarms?: boolean): { stack: Stack; first: WebhookSourceAlarms; second: WebhookSourceAlarms } {
      const stack = newStack();
      const gateway = new WebhookGateway(stack, 'Gateway');
      const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'StripeSecret', SECRET_ARN);
      const stripe = new WebhookStreamSource(stack, 'Stripe', { auth: WebhookAuth.stripe(secret), path: 'stripe', gateway });
      const github = new WebhookStreamSource(stack, 'GitHub', { auth: WebhookAuth.github(secret), path: 'github', gateway });
      const first = new WebhookSourceAlarms(stack, 'StripeAlarms', { source: stripe });
      const second = new WebhookSourceAlarms(stack, 'GitHubAlarms', { source: github, gatewayAlarms: secondGatewayAlarms });
      return { stack, first, second };
    }

    test('gatewayAlarms: false leaves the rate alarms to the other source', () => {
      // GIVEN two sources on one gateway WHEN only the first has gateway alarms
      const { stack, first, second } = sharedGateway(false);
      // THEN the rate alarms exist once, and nothing is warned
      expect(first.clientErrorRateAlarm).toBeDefined();
      expect(second.clientErrorRateAlarm).toBeUndefined();
      expect(second.serverErrorRateAlarm).toBeUndefined();
      // GitHub defaults to the queue policy: its three spill alarms are among its alarms too.
      expect(second.allAlarms).toHaveLength(5 + 3);
      expect(second.allAlarms).toEqual(expect.arrayContaining(second.source.spillAlarms));
      Template.fromStack(stack).resourceCountIs('AWS::CloudWatch::Alarm', 12 + 3);
      Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('gatewayAlarms'));
    });

    test('warns when both sources would page for the same gateway', () => {
      // GIVEN two sources on one gateway WHEN both have gateway alarms
      const { stack } = sharedGateway();
      // THEN the second is told to turn them off
      Annotations.fromStack(stack).hasWarning('/Test/GitHubAlarms', Match.stringLikeRegexp(
        "WebhookSourceAlarms 'Test/GitHubAlarms': Test/StripeAlarms already has the 4XX and 5XX rate alarms of gateway Test/Gateway.*set gatewayAlarms: false",
      ));
    });
  });

  describe('validation', () => {
    const cases: [string, Partial<WebhookSourceAlarmsProps>, RegExp][] = [
      ['the 4XX rate threshold is 1 or more', { clientErrorRateThreshold: 1 }, /clientErrorRateThreshold must be a fraction from 0 to below 1, such as 0.2 for 20%, got 1$/],
      ['the 4XX rate threshold is a percentage', { clientErrorRateThreshold: 20 }, /clientErrorRateThreshold must be a fraction .* got 20$/],
      ['the 5XX rate threshold is negative', { serverErrorRateThreshold: -0.01 }, /serverErrorRateThreshold must be a fraction from 0 to below 1, such as 0.01 for 1%, got -0.01$/],
      ['the 5XX rate threshold is not a number', { serverErrorRateThreshold: NaN }, /serverErrorRateThreshold must be a fraction .* got NaN$/],
      ['a count threshold is 0', { ingestErrorsThreshold: 0 }, /ingestErrorsThreshold must be a whole number of errors of at least 1, got 0$/],
      ['a count threshold is not whole', { throttledRecordsThreshold: 1.5 }, /throttledRecordsThreshold must be a whole number of records of at least 1, got 1.5$/],
      ['the failed records threshold is negative', { failedRecordsThreshold: -1 }, /failedRecordsThreshold must be a whole number of records/],
      ['the ingest throttles threshold is 0', { ingestThrottlesThreshold: 0 }, /ingestThrottlesThreshold must be a whole number of throttles/],
      ['the minimum requests is 0', { minimumRequests: 0 }, /minimumRequests must be a whole number of requests of at least 1, got 0$/],
      ['the rate window is shorter than a minute', { rateWindow: Duration.seconds(30) }, /rateWindow must be whole minutes from 1 minute to 1 day, got 30 seconds$/],
      ['the rate window is not whole minutes', { rateWindow: Duration.seconds(90) }, /rateWindow must be whole minutes .* got 1 minute 30 seconds$/],
      ['the rate window is longer than a day', { rateWindow: Duration.days(2) }, /rateWindow must be whole minutes .* got 2 days$/],
      ['the iterator age is 0', { maxIteratorAge: Duration.seconds(0) }, /maxIteratorAge must be from 1 second to 365 days \(the longest a Kinesis stream keeps records\), got 0 seconds$/],
      ['the iterator age is longer than any retention', { maxIteratorAge: Duration.days(400) }, /maxIteratorAge must be from 1 second to 365 days .* got 400 days$/],
    ];
    test.each(cases)('fails when %s', (_, props, message) => {
      const stack = newStack();
      const source = stripeSource(stack);
      expect(() => new WebhookSourceAlarms(stack, 'StripeAlarms', { source, ...props })).toThrow(message);
      // The message names the construct path, and nothing was built before it was thrown.
      expect(() => new WebhookSourceAlarms(stack, 'Other', { source, ...props })).toThrow(/^WebhookSourceAlarms 'Test\/Other': /);
      expect(stack.node.findChild('Other').node.children).toHaveLength(0);
    });

    test('a rate threshold of 0 (any error) is accepted', () => {
      expect(() => withAlarms({ clientErrorRateThreshold: 0, serverErrorRateThreshold: 0 })).not.toThrow();
    });
  });
});
