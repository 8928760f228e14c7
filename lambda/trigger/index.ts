// The trigger's Lambda entry point: wiring only. The request path lives in ../shared/trigger.
import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HandlerMetrics } from '../shared/handler-metrics';
import { createJwtVerifier } from '../shared/jwt';
import { handlerSecretCache } from '../shared/secrets';
import { createTriggerHandler } from '../shared/trigger';
import { TRIGGER_CONFIG_ENV_VAR } from '../shared/trigger-config';
import { parseTriggerConfig } from '../shared/trigger-config-parse';

const logger = new Logger();
const metrics = new HandlerMetrics();
const config = parseTriggerConfig(process.env[TRIGGER_CONFIG_ENV_VAR]);

// HTTP/1.1 with short timeouts and one retry: a throttled or failed start is answered 429 or 503
// with Retry-After well inside API Gateway's 29 seconds, and the sender retries with the same name.
// A call that outlasts requestTimeout fails (TimeoutError) rather than only logging a warning.
const sfn = new SFNClient({
  maxAttempts: 2,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 5_000, throwOnRequestTimeout: true }),
});

const trigger = createTriggerHandler({
  config,
  logger,
  sfn,
  jwt: config.auth.kind === 'jwt' ? createJwtVerifier(config.auth) : undefined,
  secrets: handlerSecretCache(config, logger),
  metrics: metrics.authentication,
});

// EMF: one log line with the request's metric, when it recorded one.
export const handler: typeof trigger = metrics.publishAfter(trigger);
