// The trigger's Lambda entry point: wiring only. The request path lives in ./handler.
import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import { HandlerMetrics } from '../common/handler-metrics';
import { createJwtVerifier } from '../common/jwt';
import { handlerSecretCache } from '../common/secrets';
import { createTriggerHandler } from './handler';
import { CONFIG_ENV_VAR } from '../common/config-document';
import { parseTriggerConfig } from './config';
import { sdkTransport } from '../common/sdk-transport';

const logger = new Logger();
const metrics = new HandlerMetrics();
const config = parseTriggerConfig(process.env[CONFIG_ENV_VAR]);

// HTTP/1.1 with short timeouts and one retry: a throttled or failed start is answered 429 or 503
// with Retry-After well inside API Gateway's 29 seconds, and the sender retries with the same name.
// A call that outlasts requestTimeout fails (TimeoutError) rather than only logging a warning.
const sfn = new SFNClient({
  maxAttempts: 2,
  requestHandler: sdkTransport(5_000),
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
