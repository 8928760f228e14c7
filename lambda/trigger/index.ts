// The trigger's Lambda entry point: wiring only. The request path lives in ../shared/trigger.
import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createJwtVerifier } from '../shared/jwt';
import { SecretCache, secretsManagerFetcher } from '../shared/secrets';
import { createTriggerHandler } from '../shared/trigger';
import { TRIGGER_CONFIG_ENV_VAR } from '../shared/trigger-config';
import { parseTriggerConfig } from '../shared/trigger-config-parse';

const logger = new Logger();
const config = parseTriggerConfig(process.env[TRIGGER_CONFIG_ENV_VAR]);

// HTTP/1.1 with short timeouts and one retry: a throttled or failed start is answered 429 or 503
// with Retry-After well inside API Gateway's 29 seconds, and the sender retries with the same name.
const sfn = new SFNClient({
  maxAttempts: 2,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 5_000 }),
});
const secretsManager = new SecretsManagerClient({
  maxAttempts: 2,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 3_000 }),
});

export const handler = createTriggerHandler({
  config,
  logger,
  sfn,
  jwt: config.auth.kind === 'jwt' ? createJwtVerifier(config.auth) : undefined,
  secrets: new SecretCache(secretsManagerFetcher(secretsManager), {
    ttlMs: config.secretCacheTtlSeconds * 1_000,
    maxStaleMs: 15 * 60 * 1_000,
    onStale: (error) => logger.warn('serving a cached secret; Secrets Manager refresh failed', {
      errorName: error instanceof Error ? error.name : typeof error,
    }),
  }),
});
