// The spill queue's drain: an SQS event source (FIFO, batches of up to 10) whose messages go into
// their Kinesis streams. Wiring only; the logic lives in ./handler.
import { Logger } from '@aws-lambda-powertools/logger';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';
import { CONFIG_ENV_VAR } from '../common/config-document';
import { KinesisWriter } from '../common/kinesis-writer';
import { parseDrainConfig } from './config';
import { DeadLetterSender } from './dead-letter';
import { createDrainHandler } from './handler';
import { sdkTransport } from '../common/sdk-transport';

const logger = new Logger();
const config = parseDrainConfig(process.env[CONFIG_ENV_VAR]);

// HTTP/1.1 with short timeouts; the writer owns retries, inside the batch's budget.
const kinesis = new KinesisClient({
  maxAttempts: 1,
  requestHandler: sdkTransport(5_000),
});
// Poison messages are rare: two tries with short timeouts, and a batch stops sending after one
// fails, so the dead-letter queue takes at most about 9 s of the batch (the construct leaves 10 s).
const sqs = new SQSClient({
  maxAttempts: 2,
  requestHandler: sdkTransport(3_000),
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
  deadLetters: new DeadLetterSender(sqs, config.deadLetterQueueUrl),
});
