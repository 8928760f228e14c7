// The spill queue's drain: an SQS event source (FIFO, batches of up to 10) whose messages go into
// their Kinesis streams. Wiring only; the logic lives in ./handler.
import { Logger } from '@aws-lambda-powertools/logger';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CONFIG_ENV_VAR } from '../common/config-document';
import { createDrainHandler, parseDrainConfig } from './handler';
import { KinesisWriter } from '../common/kinesis-writer';

const logger = new Logger();
const config = parseDrainConfig(process.env[CONFIG_ENV_VAR]);

// HTTP/1.1 with short timeouts; the writer owns retries, inside the batch's budget.
const kinesis = new KinesisClient({
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 5_000, throwOnRequestTimeout: true }),
});

export const handler = createDrainHandler({
  config,
  logger,
  writer: new KinesisWriter(kinesis, {
    streamName: config.streamNames[0],
    maxAttempts: config.maxAttempts,
    retryBudgetMs: config.retryBudgetMs,
    writeDeadlineMs: config.writeDeadlineMs,
  }),
});
