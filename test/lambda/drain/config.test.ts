import { DRAIN_CONFIG_VERSION, parseDrainConfig } from '../../../lambda/drain/config';

describe('parseDrainConfig', () => {
  const valid = { version: DRAIN_CONFIG_VERSION, streamNames: ['orders'], deadLetterQueueUrl: 'https://sqs.example/dlq.fifo', maxAttempts: 8, retryBudgetMs: 20_000, writeDeadlineMs: 50_000 };

  test('reads a valid document', () => {
    expect(parseDrainConfig(JSON.stringify(valid))).toEqual(valid);
  });

  test.each([
    ['it is not set', undefined, /the variable is not set/],
    ['it is not JSON', '{', /not JSON/],
    ['its version is another', JSON.stringify({ ...valid, version: 1 }), /version 1 is not supported; this drain reads version 2/],
    ['it names no stream', JSON.stringify({ ...valid, streamNames: [] }), /streamNames must be a non-empty list/],
    ['a stream name is empty', JSON.stringify({ ...valid, streamNames: ['orders', ''] }), /streamNames must be a non-empty list/],
    ['it has no dead-letter queue', JSON.stringify({ ...valid, deadLetterQueueUrl: undefined }), /config.deadLetterQueueUrl must be a non-empty string/],
    ['an attempt count is not a whole number', JSON.stringify({ ...valid, maxAttempts: 1.5 }), /config.maxAttempts must be a positive integer/],
    ['a budget is 0', JSON.stringify({ ...valid, retryBudgetMs: 0 }), /config.retryBudgetMs must be a positive integer/],
  ])('fails when %s', (_, json, message) => {
    expect(() => parseDrainConfig(json)).toThrow(message);
  });
});
