// The stream source's Lambda entry point: wiring only. The request path lives in ./handler.
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { ClaimCheckStore } from './claim-check';
import { CONFIG_ENV_VAR } from '../common/config-document';
import { parseIngestConfig } from './config';
import { DedupStore } from './dedup';
import { HandlerMetrics } from '../common/handler-metrics';
import { createIngestHandler } from './handler';
import { createJwtVerifier } from '../common/jwt';
import { KinesisWriter } from '../common/kinesis-writer';
import { loadPayloadValidator } from './schema';
import { SpillProducer } from './spill';
import { handlerSecretCache } from '../common/secrets';
import { sdkTransport } from '../common/sdk-transport';

const logger = new Logger();
const metrics = new HandlerMetrics();
const config = parseIngestConfig(process.env[CONFIG_ENV_VAR]);

// The writer owns retries, inside the request's budget, so the client makes one attempt; a hung
// stream fails at the transport's request timeout and is answered 503 in time (see sdkTransport).
const kinesis = new KinesisClient({
  maxAttempts: 1,
  requestHandler: sdkTransport(5_000),
});

const ingest = createIngestHandler({
  config,
  logger,
  jwt: config.auth.kind === 'jwt' ? createJwtVerifier(config.auth) : undefined,
  // The schemas were compiled at synth into a module beside this file.
  validator: config.payloadValidation === undefined ? undefined : loadPayloadValidator(__dirname, config.payloadValidation),
  metrics: {
    ...metrics.authentication,
    quarantined: (count) => metrics.count('QuarantinedEvents', count),
    // Both, on every request of a sample-or-shed source: the loss alarm divides one by the other.
    sampled: (written, shed) => {
      metrics.count('WrittenEvents', written);
      metrics.count('ShedEvents', shed);
    },
  },
  payloadStore: config.claimCheck === undefined ? undefined : new ClaimCheckStore(new S3Client({
    maxAttempts: 2,
    requestHandler: sdkTransport(10_000),
  }), config.claimCheck),
  dedup: config.dedup === undefined ? undefined : new DedupStore(new DynamoDBClient({
    maxAttempts: 2,
    requestHandler: sdkTransport(2_000),
  }), config.dedup),
  secrets: handlerSecretCache(config, logger),
  writer: new KinesisWriter(kinesis, {
    streamName: config.streamName,
    maxAttempts: config.backpressure.maxAttempts,
    retryBudgetMs: config.backpressure.retryBudgetMs,
    writeDeadlineMs: config.writeDeadlineMs,
  }),
  spill: config.backpressure.kind !== 'queueAndSlowAccept' ? undefined : new SpillProducer(new SQSClient({
    maxAttempts: 1,
    requestHandler: sdkTransport(3_000),
  }), { queueUrl: config.backpressure.queueUrl, deadlineMs: 5_000 }),
});

// EMF: one log line with the request's metrics, when it recorded any.
export const handler: typeof ingest = metrics.publishAfter(ingest);
