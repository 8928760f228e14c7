// The example app: three webhook sources, built from the package's public exports only.
// `npm run synth` synthesizes it to cdk.out, offline, with no AWS account.
import { App, CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { EventField, WebhookAuth, WebhookStreamSource } from '../lib';

export class WebhookIngressExampleStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // Stripe: paste the endpoint's signing secret (whsec_...) into this secret after deploying.
    const stripeSecret = new secretsmanager.Secret(this, 'StripeSigningSecret', {
      description: 'Stripe webhook endpoint signing secret (whsec_...)',
    });
    const stripe = new WebhookStreamSource(this, 'Stripe', {
      auth: WebhookAuth.stripe(stripeSecret),
      path: 'stripe',
    });

    // GitHub: only the events this team consumes.
    const githubSecret = new secretsmanager.Secret(this, 'GitHubWebhookSecret', {
      description: 'GitHub webhook secret',
    });
    const github = new WebhookStreamSource(this, 'GitHub', {
      auth: WebhookAuth.github(githubSecret),
      path: 'github',
      allowedEventTypes: ['push', 'pull_request'],
    });

    // An internal service that posts batches, signed with its own HMAC scheme. Records keep
    // their order per account.
    const internalSecret = new secretsmanager.Secret(this, 'OrdersSigningSecret', {
      description: 'HMAC key shared with the orders service',
    });
    const orders = new WebhookStreamSource(this, 'Orders', {
      auth: WebhookAuth.hmac({
        secret: internalSecret,
        signatureHeader: 'X-Orders-Signature',
        signaturePrefix: 'v1=',
        signedContent: '{timestamp}.{body}',
        timestampHeader: 'X-Orders-Timestamp',
      }),
      path: 'orders',
      eventId: EventField.fromJsonPointer('/orderId'),
      eventType: EventField.fromJsonPointer('/kind'),
      eventTime: EventField.fromJsonPointer('/at'),
      partitionKey: EventField.fromJsonPointer('/account'),
    });

    for (const secret of [stripeSecret, githubSecret, internalSecret]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'The sender issues this signing secret (Stripe dashboard, GitHub settings, the orders service); it is rotated there and pasted in. Managed rotation is WebhookSigningSecret.',
      });
    }

    for (const source of [stripe, github, orders]) {
      Validations.of(source.api).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason: 'Every request is authenticated by its signature before anything is written; this example does not pay for a web ACL.',
      });
    }

    new CfnOutput(this, 'StripeWebhookUrl', { value: stripe.webhookUrl });
    new CfnOutput(this, 'GitHubWebhookUrl', { value: github.webhookUrl });
    new CfnOutput(this, 'OrdersWebhookUrl', { value: orders.webhookUrl });
    new CfnOutput(this, 'StripeStreamName', { value: stripe.stream.streamName });
  }
}

/** Builds the example app into `app`, with the AwsSolutions checks applied. */
export function buildExampleApp(app: App): WebhookIngressExampleStack {
  const stack = new WebhookIngressExampleStack(app, 'WebhookIngressExample');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

if (require.main === module) {
  const app = new App();
  buildExampleApp(app);
  app.synth();
}
