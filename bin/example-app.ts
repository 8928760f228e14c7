// The example app: webhook sources on one shared gateway, built from the package's public exports
// only. `npm run synth` synthesizes it to cdk.out, offline, with no AWS account. The README's
// snippets are this file's code, each one whole: every name a snippet uses, it defines or says where
// it comes from (test/readme.test.ts checks both, and compiles them as a fresh app would).
//
// With `-c domainName=hooks.example.com -c certificateArn=arn:aws:acm:...` it also builds a
// second gateway on that custom domain, with mutual TLS, for internal services. With `-c waf=true`
// the shared gateway gets an AWS WAF web ACL that rate-limits each address per path (billed, so
// opt-in; it synthesizes offline like the rest).
import * as path from 'node:path';
import { App, CfnOutput, Duration, Size, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import {
  BackpressurePolicy, Deduplication, EventField, PayloadSchema, PayloadValidation, WebhookAuth, WebhookGateway,
  ParameterType, SigningSecretFormat, TriggerParameter, TriggerTarget, WebhookSigningSecret, WebhookSourceAlarms, WebhookSourceDashboard,
  WebhookStreamSource, WebhookTrigger, WebhookWaf,
} from '../lib';

export interface WebhookIngressExampleProps extends StackProps {
  /** A custom domain for the mTLS gateway; with `certificateArn`, adds it. */
  readonly domainName?: string;
  /** An ACM certificate for `domainName` in the stack's region. */
  readonly certificateArn?: string;
}

export class WebhookIngressExampleStack extends Stack {
  constructor(scope: Construct, id: string, props: WebhookIngressExampleProps = {}) {
    super(scope, id, props);

    // One API for every vendor; each source mounts its own path. A web ACL also blocks any one
    // address that floods a path; AWS WAF is billed, so it is opt-in here: `cdk synth -c waf=true`.
    const wafOn = [true, 'true'].includes(this.node.tryGetContext('waf'));
    const gateway = new WebhookGateway(this, 'Gateway', {
      waf: wafOn ? WebhookWaf.rateLimit({ evaluationWindow: Duration.minutes(1) }) : undefined,
    });

    // Stripe: paste the endpoint's signing secret (whsec_...) into this secret after deploying.
    const stripeSecret = new secretsmanager.Secret(this, 'StripeSigningSecret', {
      description: 'Stripe webhook endpoint signing secret (whsec_...)',
    });
    const stripe = new WebhookStreamSource(this, 'Stripe', {
      auth: WebhookAuth.stripe(stripeSecret),
      gateway,
      path: 'stripe',
      // Checkout sessions must match the pinned contract; drifted ones go to quarantine.
      payloadValidation: PayloadValidation.quarantineByEventType({
        'checkout.session.completed': PayloadSchema.fromFile(path.join(__dirname, 'schemas', 'stripe-checkout-session-completed.json')),
      }),
      // Never in a log line, even if something quotes it.
      redactPaths: ['/data/object/customer_email'],
    });
    // The URL to give Stripe, in the stack's outputs.
    new CfnOutput(this, 'StripeWebhookUrl', { value: stripe.webhookUrl });

    // A consumer of the Stripe events: any principal (a function, a Flink application, a job)
    // may read the stream and, with a claim check, the payloads its records point to.
    const stripeConsumer = new iam.Role(this, 'StripeConsumer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    stripe.grantRead(stripeConsumer);
    new CfnOutput(this, 'StripeStreamName', { value: stripe.stream.streamName });

    // Stripe at a glance: alarms on throttles, failures, error rates and consumer lag, on one dashboard.
    const stripeAlarms = new WebhookSourceAlarms(this, 'StripeAlarms', { source: stripe });
    new WebhookSourceDashboard(this, 'StripeDashboard', { source: stripe, alarms: stripeAlarms });

    // GitHub: only the events this team consumes. GitHub signs no timestamp, so repeated
    // deliveries are dropped on their X-GitHub-Delivery id.
    const githubSecret = new secretsmanager.Secret(this, 'GitHubWebhookSecret', {
      description: 'GitHub webhook secret',
    });
    const github = new WebhookStreamSource(this, 'GitHub', {
      auth: WebhookAuth.github(githubSecret),
      gateway,
      path: 'github',
      allowedEventTypes: ['push', 'pull_request'],
      deduplication: Deduplication.byEventId(),
    });
    new CfnOutput(this, 'GitHubWebhookUrl', { value: github.webhookUrl });

    // Svix, or any Standard Webhooks sender.
    const svixSecret = new secretsmanager.Secret(this, 'SvixSigningSecret', {
      description: 'Standard Webhooks signing secret (whsec_...)',
    });
    const svix = new WebhookStreamSource(this, 'Svix', {
      auth: WebhookAuth.standardWebhooks(svixSecret),
      gateway,
      path: 'svix',
      // A small sender: its path takes at most 10 requests a second, burst 20, whatever the
      // other paths get; past that API Gateway answers 429 before the function runs.
      throttle: { rateLimit: 10, burstLimit: 20 },
    });
    new CfnOutput(this, 'SvixWebhookUrl', { value: svix.webhookUrl });

    // Segment: track and identify calls go to typed streams; everything else to the source's.
    const segmentSecret = new secretsmanager.Secret(this, 'SegmentSharedSecret', {
      description: 'Segment Webhooks destination shared secret',
    });
    const trackStream = new kinesis.Stream(this, 'SegmentTracks', { streamMode: kinesis.StreamMode.ON_DEMAND, encryption: kinesis.StreamEncryption.MANAGED });
    const identifyStream = new kinesis.Stream(this, 'SegmentIdentifies', { streamMode: kinesis.StreamMode.ON_DEMAND, encryption: kinesis.StreamEncryption.MANAGED });
    const segment = new WebhookStreamSource(this, 'Segment', {
      auth: WebhookAuth.segment(segmentSecret),
      gateway,
      path: 'segment',
      routes: [
        { eventTypes: ['track'], stream: trackStream },
        { eventTypes: ['identify'], stream: identifyStream },
      ],
      // Analytics: under pressure keep half the events rather than push back on Segment.
      backpressure: BackpressurePolicy.sampleOrShed({ keepFraction: 0.5, lossBudget: 0.05 }),
    });
    new CfnOutput(this, 'SegmentWebhookUrl', { value: segment.webhookUrl });

    // An internal service that posts batches, signed with its own HMAC scheme, with an API key
    // that meters it. Records keep their order per account. This stack issues its key and rotates
    // it every 30 days; the orders service picks up each new key from the pending event.
    gateway.addSender('OrdersService', { throttle: { rateLimit: 50, burstLimit: 100 } });
    const ordersKey = new WebhookSigningSecret(this, 'OrdersSigningSecret', {
      format: SigningSecretFormat.HEX,
      automaticallyAfter: Duration.days(30),
    });
    const orders = new WebhookStreamSource(this, 'Orders', {
      auth: WebhookAuth.hmac({
        secret: ordersKey.secret,
        signatureHeader: 'X-Orders-Signature',
        signaturePrefix: 'v1=',
        signedContent: '{timestamp}.{body}',
        timestampHeader: 'X-Orders-Timestamp',
      }),
      gateway,
      path: 'orders',
      apiKeyRequired: true,
      eventId: EventField.fromJsonPointer('/orderId'),
      eventType: EventField.fromJsonPointer('/kind'),
      eventTime: EventField.fromJsonPointer('/at'),
      partitionKey: EventField.fromJsonPointer('/account'),
      // The previous key keeps working for 2 days after each rotation, while the service moves over.
      previousSecretGrace: Duration.days(2),
      // Batches of up to 5,000 events: more memory also means more CPU to verify and parse them.
      memorySize: Size.mebibytes(512),
    });
    new CfnOutput(this, 'OrdersWebhookUrl', { value: orders.webhookUrl });

    // A pipeline run, started by a signed POST: the export to load and where it is.
    const exportPipeline = new sfn.StateMachine(this, 'ExportPipeline', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        new sfn.Choice(this, 'Valid request?')
          // A lenient trigger starts the run even when the request did not validate, so that the
          // failure and its reason show in the run history.
          .when(sfn.Condition.isPresent('$.validationErrors'), new sfn.Fail(this, 'Rejected request', {
            error: 'ValidationFailed',
            causePath: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.validationErrors')),
          }))
          .otherwise(new sfn.Pass(this, 'Load export', {
            parameters: { 'exportId.$': '$.parameters.exportId', 'location.$': '$.parameters.location' },
          }).next(new sfn.Succeed(this, 'Loaded'))),
      ),
      logs: { destination: new logs.LogGroup(this, 'ExportPipelineLogs', { retention: logs.RetentionDays.ONE_MONTH }), level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    const triggerSecret = new secretsmanager.Secret(this, 'PlanasonixSigningSecret', {
      description: 'Signing key for Planasonix export notifications',
    });
    const exportTrigger = new WebhookTrigger(this, 'ExportTrigger', {
      target: TriggerTarget.stateMachine(exportPipeline),
      auth: WebhookAuth.planasonix(triggerSecret),
      gateway,
      path: 'exports',
      parameters: {
        exportId: TriggerParameter.fromJsonPath('$.export_id', { required: true, jsonType: ParameterType.STRING }),
        location: TriggerParameter.fromJsonPath('$.location', { required: true, jsonType: ParameterType.STRING }),
        environment: TriggerParameter.fromValue('production'),
      },
      // Traced in X-Ray, through to the pipeline's run.
      tracing: lambda.Tracing.ACTIVE,
    });
    new CfnOutput(this, 'ExportTriggerUrl', { value: exportTrigger.webhookUrl });

    Validations.of(exportPipeline.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray trace writes and CloudWatch Logs vended log delivery (what Step Functions logging needs) do not support resource-level permissions.',
    });

    for (const secret of [stripeSecret, githubSecret, svixSecret, segmentSecret, triggerSecret]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'The sender issues this signing secret (Stripe dashboard, GitHub settings, Svix, Segment, Planasonix); it is rotated there and pasted in. Managed rotation is WebhookSigningSecret.',
      });
    }
    if (!wafOn) {
      Validations.of(gateway.api).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason: 'Every request is authenticated by its signature before anything is written, and each path has its own method throttle; this example adds the billed web ACL only with -c waf=true.',
      });
    }


    if (props.domainName !== undefined && props.certificateArn !== undefined) {
      this.addMutualTlsGateway(props.domainName, props.certificateArn);
    }
  }

  /**
   * Internal services on a custom domain with mutual TLS; the execute-api endpoint is off. The
   * gateway runs the client CA: its private key stays in Secrets Manager, and each service gets a
   * certificate in a secret of its own.
   */
  private addMutualTlsGateway(domainName: string, certificateArn: string): void {
    // domainName and certificateArn: your domain, such as 'hooks.example.com', and the ARN of its
    // ACM certificate in the stack's Region.
    const internal = new WebhookGateway(this, 'InternalGateway', {
      domain: {
        domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'InternalCertificate', certificateArn),
        mtls: { managedCa: { commonName: 'Example internal services CA' } },
      },
    });
    const inventoryClient = internal.addMtlsClient('InventoryService', { organization: 'Example Corp' });
    const inventory = new WebhookStreamSource(this, 'Inventory', {
      auth: WebhookAuth.mtls({ clients: [inventoryClient] }),
      gateway: internal,
      path: 'inventory',
    });
    new CfnOutput(this, 'InventoryWebhookUrl', { value: inventory.webhookUrl });
    new CfnOutput(this, 'InventoryClientSecretArn', { value: inventoryClient.secret.secretArn });
    Validations.of(internal.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason: 'Only holders of a client certificate the managed CA issued can connect; this example does not pay for a web ACL.',
    });
  }
}

/** Builds the example app into `app`, with the AwsSolutions checks applied. */
export function buildExampleApp(app: App): WebhookIngressExampleStack {
  const stack = new WebhookIngressExampleStack(app, 'WebhookIngressExample', {
    domainName: app.node.tryGetContext('domainName'),
    certificateArn: app.node.tryGetContext('certificateArn'),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

if (require.main === module) {
  const app = new App();
  buildExampleApp(app);
  app.synth();
}
