// The stream source's Lambda entry point: wiring only. The request path lives in ../shared/ingest.
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CONFIG_ENV_VAR, parseIngestConfig } from '../shared/config';
import { DedupStore } from '../shared/dedup';
import { createIngestHandler } from '../shared/ingest';
import { createJwtVerifier } from '../shared/jwt';
import { KinesisWriter } from '../shared/kinesis-writer';
import { SecretCache, secretsManagerFetcher } from '../shared/secrets';

const logger = new Logger();
const config = parseIngestConfig(process.env[CONFIG_ENV_VAR]);

// HTTP/1.1 with short timeouts; the writer owns retries, inside the request's budget.
const kinesis = new KinesisClient({
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 5_000 }),
});
const secretsManager = new SecretsManagerClient({
  maxAttempts: 2,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 3_000 }),
});

export const handler = createIngestHandler({
  config,
  logger,
  jwt: config.auth.kind === 'jwt' ? createJwtVerifier(config.auth) : undefined,
  dedup: config.dedup === undefined ? undefined : new DedupStore(new DynamoDBClient({
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 2_000 }),
  }), config.dedup),
  secrets: new SecretCache(secretsManagerFetcher(secretsManager), {
    ttlMs: config.secretCacheTtlSeconds * 1_000,
    maxStaleMs: 15 * 60 * 1_000,
    onStale: (error) => logger.warn('serving a cached secret; Secrets Manager refresh failed', {
      errorName: error instanceof Error ? error.name : typeof error,
    }),
  }),
  writer: new KinesisWriter(kinesis, {
    streamName: config.streamName,
    maxAttempts: config.backpressure.maxAttempts,
    retryBudgetMs: config.backpressure.retryBudgetMs,
  }),
});
