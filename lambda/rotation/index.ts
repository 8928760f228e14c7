// The rotation function of a webhook signing secret: wiring only. The steps live in ./handler.
import { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CONFIG_ENV_VAR } from '../common/config-document';
import { parseRotationConfig } from './config';
import { createRotationHandler } from './handler';
import { sdkTransport } from '../common/sdk-transport';

const logger = new Logger();
const config = parseRotationConfig(process.env[CONFIG_ENV_VAR]);

// Nobody waits on a rotation step: a few attempts, each with short timeouts, well inside the
// function's timeout. A step that still fails is retried by Secrets Manager with the same token.
const secretsManager = new SecretsManagerClient({
  maxAttempts: 3,
  requestHandler: sdkTransport(5_000),
});
const events = new EventBridgeClient({
  maxAttempts: 3,
  requestHandler: sdkTransport(5_000),
});

export const handler = createRotationHandler({ secretsManager, events, config, logger });
