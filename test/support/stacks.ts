import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { WebhookAuth } from '../../lib/webhook-auth';
import { WebhookStreamSource, type WebhookStreamSourceProps } from '../../lib/webhook-stream-source';

/** The Stripe secret the construct tests reference by ARN. */
export const STRIPE_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:stripe/webhook-AbCdEf';

/** A stack in eu-west-1 of an app whose template is validated against the CloudFormation schema (strict). */
export function newStack(app = new App({ context: { '@aws-cdk/core:strictCfnValidateErrors': true } })): Stack {
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

/** A Stripe source `Stripe` on path `stripe`, its secret referenced by ARN, `props` over that. */
export function stripeSource(stack: Stack, props: Partial<WebhookStreamSourceProps> = {}): WebhookStreamSource {
  const secret = secretsmanager.Secret.fromSecretCompleteArn(stack, 'StripeSecret', STRIPE_SECRET_ARN);
  return new WebhookStreamSource(stack, 'Stripe', { auth: WebhookAuth.stripe(secret), path: 'stripe', ...props });
}
