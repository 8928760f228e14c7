import { App, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { AuthConfig, HmacAuthConfig } from '../../lambda/common/auth-config';
import type { IngestConfig } from '../../lambda/ingest/config';
import { WebhookAuth, type HmacAuthOptions } from '../../lib';

export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:webhook-AbCdEf';

function testSecret(): secretsmanager.ISecret {
  return secretsmanager.Secret.fromSecretCompleteArn(new Stack(new App(), 'Presets'), 'Secret', SECRET_ARN);
}

/** The handler configuration a scheme produces, exactly as the construct would write it. */
export function anyAuthConfig(preset: (secret: secretsmanager.ISecret) => WebhookAuth): AuthConfig {
  const binding = preset(testSecret())._bind('test');
  return (binding.secret === undefined ? binding.config : { ...binding.config, secretArn: SECRET_ARN }) as AuthConfig;
}

/** The handler configuration of an HMAC scheme. */
export function authConfig(preset: (secret: secretsmanager.ISecret) => WebhookAuth): HmacAuthConfig {
  const config = anyAuthConfig(preset);
  if (config.kind !== 'hmac') throw new Error(`not an HMAC scheme: ${config.kind}`);
  return config;
}

export const stripeAuth = () => authConfig((s) => WebhookAuth.stripe(s));
export const githubAuth = () => authConfig((s) => WebhookAuth.github(s));
export const hmacAuth = (options: Omit<HmacAuthOptions, 'secret'>) => authConfig((s) => WebhookAuth.hmac({ ...options, secret: s }));

/** A complete ingest configuration for a preset, with the preset's metadata. */
export function ingestConfig(
  preset: (secret: secretsmanager.ISecret) => WebhookAuth,
  overrides: Partial<IngestConfig> = {},
): IngestConfig {
  const binding = preset(testSecret())._bind('test');
  return {
    version: 1,
    source: 'test-source',
    streamName: 'test-stream',
    auth: anyAuthConfig(preset),
    headerAliases: binding.headerAliases,
    challenge: binding.challenge,
    secretCacheTtlSeconds: 60,
    metadata: binding.metadata,
    headerAllowlist: [...binding.forwardedHeaders],
    maxBodyBytes: 1024 * 1024,
    maxBatchRecords: 5000,
    backpressure: { kind: 'rejectWith429', retryAfterSeconds: 30, maxAttempts: 6, retryBudgetMs: 5000 },
    ...overrides,
  };
}
