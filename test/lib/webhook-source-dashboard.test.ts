import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PayloadSchema, PayloadValidation } from '../../lib/payload-schema';
import { WebhookAuth } from '../../lib/webhook-auth';
import { WebhookSourceAlarms } from '../../lib/webhook-source-alarms';
import { WebhookSourceDashboard, type WebhookSourceDashboardProps } from '../../lib/webhook-source-dashboard';
import { WebhookStreamSource, type WebhookStreamSourceProps } from '../../lib/webhook-stream-source';
import { acknowledgements } from '../support/nag';
import { flattenJoin } from '../support/cfn-text';

const STRICT = { '@aws-cdk/core:strictCfnValidateErrors': true };
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:stripe/webhook-AbCdEf';

function newStack(app = new App({ context: STRICT })): Stack {
  // Strict: the synthesized template is validated against the CloudFormation schema.
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

function stripeSource(stack: Stack, props: Partial<WebhookStreamSourceProps> = {}): WebhookStreamSource {
  const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'StripeSecret', SECRET_ARN);
  return new WebhookStreamSource(stack, 'Stripe', { auth: WebhookAuth.stripe(secret), path: 'stripe', ...props });
}

function quarantine(): PayloadValidation {
  return PayloadValidation.quarantine(PayloadSchema.fromObject({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } }));
}


type MetricRow = (string | { [key: string]: unknown })[];
interface Widget {
  type: string;
  width: number;
  height: number;
  x: number;
  y: number;
  properties: {
    title?: string;
    markdown?: string;
    metrics?: MetricRow[];
    alarms?: string[];
    annotations?: { horizontal: { value: number; label: string }[] };
    yAxis?: { left?: object; right?: object };
  };
}

/** The widgets of the stack's one dashboard, from its synthesized body. */
function widgetsOf(stack: Stack): Widget[] {
  const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body = flattenJoin((dashboards[0] as { Properties: { DashboardBody: unknown } }).Properties.DashboardBody);
  return (JSON.parse(body) as { widgets: Widget[] }).widgets;
}

function widget(widgets: Widget[], title: string): Widget {
  const found = widgets.find((w) => w.properties.title === title);
  if (found === undefined) throw new Error(`no widget titled '${title}' in ${widgets.map((w) => w.properties.title).join(', ')}`);
  return found;
}

/** Each graphed metric as `namespace metricName stat [axis]`, or `= expression` for math. */
function series(w: Widget): string[] {
  return (w.properties.metrics ?? []).map((row) => {
    const options = row[row.length - 1] as { stat?: string; expression?: string; yAxis?: string; id?: string; visible?: boolean };
    if (options.expression !== undefined) return `= ${options.expression}`;
    const [namespace, metricName] = row as string[];
    const hidden = options.visible === false ? ` (${options.id}, hidden)` : '';
    return `${namespace} ${metricName} ${options.stat}${options.yAxis === 'right' ? ' right' : ''}${hidden}`;
  });
}

const GRAPH_TITLES = [
  'API requests and errors (Sum)',
  'API error rates (4XX and 5XX / requests)',
  'API latency (ms)',
  'Ingest invocations, errors and throttles (Sum)',
  'Ingest duration (ms)',
  'Stream incoming records and bytes (Sum)',
  'Stream write throttles and failed records (Sum)',
  'Stream iterator age (Maximum, ms)',
];

describe('WebhookSourceDashboard', () => {
  describe('of a source without alarms', () => {
    function dashboardOf(props: Partial<WebhookSourceDashboardProps> = {}): { stack: Stack; widgets: Widget[]; dashboard: WebhookSourceDashboard } {
      const stack = newStack();
      const source = stripeSource(stack);
      const dashboard = new WebhookSourceDashboard(stack, 'StripeDashboard', { source, ...props });
      return { stack, widgets: widgetsOf(stack), dashboard };
    }

    test('creates one dashboard, under the construct, with a generated name', () => {
      // GIVEN a source WHEN a dashboard is added
      const { stack, dashboard } = dashboardOf();
      // THEN there is one dashboard, and CloudFormation names it
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
      template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: Match.absent() });
      expect(dashboard.dashboard.node.path).toBe('Test/StripeDashboard/Dashboard');
    });

    test('shows a heading, then the gateway, the ingest function and the stream, and no alarms', () => {
      const { widgets } = dashboardOf();
      expect(widgets.map((w) => w.type)).toEqual(['text', ...GRAPH_TITLES.map(() => 'metric')]);
      expect(widgets.slice(1).map((w) => w.properties.title)).toEqual(GRAPH_TITLES);
      // Three rows of graphs under the heading, each 24 columns wide.
      expect(widgets.map((w) => [w.x, w.y, w.width])).toEqual([
        [0, 0, 24],
        [0, 2, 8], [8, 2, 8], [16, 2, 8],
        [0, 8, 12], [12, 8, 12],
        [0, 14, 8], [8, 14, 8], [16, 14, 8],
      ]);
      expect(widgets.some((w) => w.type === 'alarm')).toBe(false);
      expect(widgets.some((w) => w.properties.annotations !== undefined)).toBe(false);
    });

    test('the heading names the source and its URL, and says the API graphs cover the whole gateway', () => {
      const { widgets } = dashboardOf();
      const markdown = widgets[0].properties.markdown!;
      expect(markdown).toMatch(/^# Webhook source Stripe\n/);
      expect(markdown).toContain('Senders POST to `https://<Ref StripeGatewayApi');
      expect(markdown).toContain('/stripe`');
      expect(markdown).toContain('they show every path on the gateway `Test/Stripe/Gateway`');
    });

    test('API graphs: requests, 4XX and 5XX of the stage; their rates; latency p50 and p99', () => {
      const { widgets } = dashboardOf();
      const requests = widget(widgets, 'API requests and errors (Sum)');
      expect(series(requests)).toEqual(['AWS/ApiGateway Count Sum', 'AWS/ApiGateway 4XXError Sum', 'AWS/ApiGateway 5XXError Sum']);
      // Per API and stage, as the alarms.
      expect(requests.properties.metrics![0].slice(2, 6)).toEqual(['ApiName', expect.stringMatching(/^Test-Stripe-Gateway-/), 'Stage', expect.stringMatching(/^<Ref StripeGatewayApiDeploymentStage/)]);
      expect(series(widget(widgets, 'API error rates (4XX and 5XX / requests)'))).toEqual([
        '= clientErrors / requests',
        'AWS/ApiGateway Count Sum (requests, hidden)',
        'AWS/ApiGateway 4XXError Sum (clientErrors, hidden)',
        '= serverErrors / requests',
        'AWS/ApiGateway 5XXError Sum (serverErrors, hidden)',
      ]);
      expect(series(widget(widgets, 'API latency (ms)'))).toEqual(['AWS/ApiGateway Latency p50', 'AWS/ApiGateway Latency p99']);
    });

    test('ingest graphs: invocations, errors and throttles; duration p50, p99 and maximum', () => {
      const { widgets } = dashboardOf();
      const invocations = widget(widgets, 'Ingest invocations, errors and throttles (Sum)');
      expect(series(invocations)).toEqual(['AWS/Lambda Invocations Sum', 'AWS/Lambda Errors Sum', 'AWS/Lambda Throttles Sum']);
      expect(invocations.properties.metrics![0].slice(2, 4)).toEqual(['FunctionName', expect.stringMatching(/^<Ref StripeIngest/)]);
      expect(series(widget(widgets, 'Ingest duration (ms)'))).toEqual(['AWS/Lambda Duration p50', 'AWS/Lambda Duration p99', 'AWS/Lambda Duration Maximum']);
    });

    test('stream graphs: incoming records and bytes; write throttles and failed records; iterator age', () => {
      const { widgets } = dashboardOf();
      const incoming = widget(widgets, 'Stream incoming records and bytes (Sum)');
      expect(series(incoming)).toEqual(['AWS/Kinesis IncomingRecords Sum', 'AWS/Kinesis IncomingBytes Sum right']);
      expect(incoming.properties.metrics![0].slice(2, 4)).toEqual(['StreamName', expect.stringMatching(/^<Ref StripeStream/)]);
      expect(series(widget(widgets, 'Stream write throttles and failed records (Sum)'))).toEqual([
        'AWS/Kinesis WriteProvisionedThroughputExceeded Sum',
        'AWS/Kinesis PutRecords.ThrottledRecords Sum',
        'AWS/Kinesis PutRecords.FailedRecords Sum',
      ]);
      expect(series(widget(widgets, 'Stream iterator age (Maximum, ms)'))).toEqual(['AWS/Kinesis GetRecords.IteratorAgeMilliseconds Maximum']);
    });

    test('takes a name', () => {
      const { stack } = dashboardOf({ dashboardName: 'stripe-webhooks' });
      Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'stripe-webhooks' });
    });
  });

  test('a source in quarantine mode gets a graph of its quarantined events', () => {
    // GIVEN a source in quarantine mode WHEN a dashboard is added
    const stack = newStack();
    const source = stripeSource(stack, { payloadValidation: quarantine() });
    new WebhookSourceDashboard(stack, 'StripeDashboard', { source });
    // THEN the last row graphs the source's QuarantinedEvents, with its alarm's threshold
    const widgets = widgetsOf(stack);
    const quarantined = widgets[widgets.length - 1];
    expect(quarantined.properties.title).toBe('Quarantined events (Sum)');
    expect(series(quarantined)).toEqual(['CdkWebhookIngress QuarantinedEvents Sum']);
    expect(quarantined.properties.metrics![0].slice(2, 4)).toEqual(['service', 'Stripe']);
    expect(quarantined.properties.annotations!.horizontal.map((a) => a.value)).toEqual([1]);
  });

  describe('with alarms', () => {
    test('shows every alarm\'s state, and each watched threshold on its graph', () => {
      // GIVEN a source with alarms WHEN a dashboard is added with them
      const stack = newStack();
      const source = stripeSource(stack);
      const alarms = new WebhookSourceAlarms(stack, 'StripeAlarms', { source });
      new WebhookSourceDashboard(stack, 'StripeDashboard', { source, alarms });
      const widgets = widgetsOf(stack);

      // THEN a full-width alarm status widget lists all seven alarms
      const status = widgets[widgets.length - 1];
      expect(status).toMatchObject({ type: 'alarm', width: 24, properties: { title: 'Alarms' } });
      const template = Template.fromStack(stack);
      const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
      expect(alarmIds).toHaveLength(7);
      expect(status.properties.alarms!.sort()).toEqual(alarmIds.map((id) => `<GetAtt ${id}.Arn>`).sort());

      // AND the thresholds are drawn on the graphs the alarms watch
      const thresholds = (title: string) => widget(widgets, title).properties.annotations!.horizontal.map((a) => a.value);
      expect(thresholds('API error rates (4XX and 5XX / requests)')).toEqual([0.2, 0.01]);
      expect(thresholds('Ingest invocations, errors and throttles (Sum)')).toEqual([1]);
      expect(thresholds('Stream iterator age (Maximum, ms)')).toEqual([900_000]);
    });

    test('with quarantine, the alarm widget sits beside the quarantine graph and includes its alarm', () => {
      const stack = newStack();
      const source = stripeSource(stack, { payloadValidation: quarantine() });
      const alarms = new WebhookSourceAlarms(stack, 'StripeAlarms', { source });
      new WebhookSourceDashboard(stack, 'StripeDashboard', { source, alarms });
      const widgets = widgetsOf(stack);
      const [quarantined, status] = widgets.slice(-2);
      expect([quarantined.properties.title, quarantined.x, quarantined.width]).toEqual(['Quarantined events (Sum)', 0, 8]);
      expect([status.type, status.x, status.width, status.y]).toEqual(['alarm', 8, 16, quarantined.y]);
      expect(status.properties.alarms).toHaveLength(8);
      expect(status.properties.alarms).toContain(`<GetAtt ${stack.getLogicalId(source.quarantineAlarm!.node.defaultChild as never)}.Arn>`);
    });

    test('without the gateway alarms, the rate graph has no threshold lines', () => {
      const stack = newStack();
      const source = stripeSource(stack);
      const alarms = new WebhookSourceAlarms(stack, 'StripeAlarms', { source, gatewayAlarms: false });
      new WebhookSourceDashboard(stack, 'StripeDashboard', { source, alarms });
      const widgets = widgetsOf(stack);
      expect(widget(widgets, 'API error rates (4XX and 5XX / requests)').properties.annotations).toBeUndefined();
      expect(widgets[widgets.length - 1].properties.alarms).toHaveLength(5);
    });
  });

  describe('validation', () => {
    test.each([
      ['has a space', 'stripe webhooks'],
      ['has a slash', 'stripe/webhooks'],
      ['is empty', ''],
      ['is longer than 255 characters', 'a'.repeat(256)],
    ])('fails when the dashboard name %s', (_, dashboardName) => {
      const stack = newStack();
      const source = stripeSource(stack);
      expect(() => new WebhookSourceDashboard(stack, 'StripeDashboard', { source, dashboardName }))
        .toThrow(/^WebhookSourceDashboard 'Test\/StripeDashboard': dashboardName must be 1 to 255 letters, digits, '-' or '_', got '/);
    });

    test('fails when the alarms watch another source', () => {
      // GIVEN two sources, and alarms of the first
      const stack = newStack();
      const stripe = stripeSource(stack);
      const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'GitHubSecret', SECRET_ARN);
      const github = new WebhookStreamSource(stack, 'GitHub', { auth: WebhookAuth.github(secret), path: 'github' });
      const alarms = new WebhookSourceAlarms(stack, 'StripeAlarms', { source: stripe });
      // WHEN a dashboard of the second is given them THEN it fails, naming both
      expect(() => new WebhookSourceDashboard(stack, 'GitHubDashboard', { source: github, alarms }))
        .toThrow("WebhookSourceDashboard 'Test/GitHubDashboard': alarms Test/StripeAlarms watch the source Test/Stripe, not Test/GitHub; pass the alarms of the source this dashboard shows");
    });
  });
});

describe('cdk-nag AwsSolutions over a source with alarms and a dashboard', () => {
  test('has no unacknowledged finding, and neither the alarms nor the dashboard acknowledge any', () => {
    // GIVEN a source in quarantine mode, its alarms and its dashboard, checked by cdk-nag
    const app = new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    const stack = newStack(app);
    const source = stripeSource(stack, { payloadValidation: quarantine() });
    const alarms = new WebhookSourceAlarms(stack, 'StripeAlarms', { source });
    new WebhookSourceDashboard(stack, 'StripeDashboard', { source, alarms, dashboardName: 'stripe-webhooks' });
    // As in the example app: a web ACL on the API is the app's choice, not the library's.
    Validations.of(source.gateway.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason: 'This test checks the alarms and dashboard of a source; it does not pay for a web ACL in front of the API.',
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    // WHEN it is synthesized THEN nothing is left unacknowledged
    expect(() => app.synth()).not.toThrow();
    const acks = acknowledgements(app);
    expect(acks.filter((a) => /^Test\/Stripe(Alarms|Dashboard)(\/|$)/.test(a.path))).toEqual([]);
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(40);
  });
});
