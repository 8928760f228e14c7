import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { WebhookIngressExampleStack } from '../../bin/example-app';
import { WebhookAuth, WebhookStreamSource } from '../../lib';

/** The custom domain context the example app needs for its mTLS gateway. */
export const DOMAIN_CONTEXT = {
  domainName: 'hooks.example.com',
  certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/11111111-2222-3333-4444-555555555555',
};

export interface EveryKindOfSourceOptions {
  /** Where the cloud assembly goes. */
  readonly outdir: string;
  /** The JWT source's issuer (https) and JWKS. */
  readonly jwtIssuer: string;
  readonly jwksUri: string;
}

/**
 * An app with every kind of source the README shows, synthesized as `cdk synth` would (construct
 * paths in the template): the example app with its custom domain (Stripe, GitHub with dedup,
 * Standard Webhooks, Segment, generic HMAC, a Planasonix trigger, mTLS with a managed client),
 * and a second stack with a bearer token source, a JWT source, and a source whose secret the
 * tests leave without a local value.
 */
export function synthesizeEveryKindOfSource(options: EveryKindOfSourceOptions): void {
  const app = new App({ outdir: options.outdir, context: { 'aws:cdk:enable-path-metadata': true, ...DOMAIN_CONTEXT } });
  new WebhookIngressExampleStack(app, 'WebhookIngressExample', DOMAIN_CONTEXT);
  const extras = new Stack(app, 'LocalExtras');
  new WebhookStreamSource(extras, 'Partner', {
    auth: WebhookAuth.bearerToken(new secretsmanager.Secret(extras, 'PartnerToken')),
    path: 'partner',
  });
  new WebhookStreamSource(extras, 'Internal', {
    auth: WebhookAuth.jwt({ issuer: options.jwtIssuer, audience: ['webhooks'], jwksUri: options.jwksUri }),
    path: 'internal',
  });
  new WebhookStreamSource(extras, 'Unset', {
    auth: WebhookAuth.github(new secretsmanager.Secret(extras, 'UnsetSecret')),
    path: 'unset',
  });
  app.synth();
}
