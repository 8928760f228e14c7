import { join } from 'node:path';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kds from 'aws-cdk-lib/aws-kinesis';
import { CONFIG_ENV_VAR } from '../../../lambda/common/config-document';
import { DRAIN_CONFIG_VERSION, type DrainConfig } from '../../../lambda/drain/config';
import { DeadLetterSender } from '../../../lambda/drain/dead-letter';
import { createDrainHandler, type DrainDependencies, type DrainHandler } from '../../../lambda/drain/handler';
import { KinesisWriter, StreamWriteFailure, type WriteRecord } from '../../../lambda/common/kinesis-writer';
import { encodeSpillMessage } from '../../../lambda/common/spill-message';
import { deduplicationIdOf, messageGroupIdOf, SpillProducer } from '../../../lambda/ingest/spill';
import { SpillQueue as SpillQueueConstruct } from '../../../lib/private/spill-queue';
import { resolveCfn } from '../../../cli/local/cfn';
import { FaultProxy, type PutRecordsFault } from '../../support/fault-proxy';
import { LocalSqs } from '../../support/fauxqs';
import { clientFor, decode, LocalKinesis, TEST_REGION } from '../../support/kinesalite';
import { loadBundledHandler } from '../../support/bundle';
import { fifoSqsRecord } from '../../support/sqs-record';

interface Item {
  readonly i: number;
  readonly key: string;
  readonly streamName: string;
  /** Replaces the spilled body, for poison messages. */
  readonly body?: string;
  /** Replaces the group of the key. */
  readonly group?: string;
}

function dataOf(i: number, key: string): Buffer {
  return Buffer.from(JSON.stringify({ i, key }));
}

/** One SQS record as Lambda hands it over from a FIFO queue. */
function sqsRecord(item: Item, receiveCount = 1): SQSRecord {
  return fifoSqsRecord({
    messageId: `msg-${item.i}`,
    body: item.body ?? encodeSpillMessage({ streamName: item.streamName, partitionKey: item.key, data: dataOf(item.i, item.key) }),
    groupId: item.group ?? messageGroupIdOf(item.key),
    deduplicationId: deduplicationIdOf({ streamName: item.streamName, dedupId: `evt-${item.i}` }),
    receiveCount,
    sequenceNumber: String(18_000_000_000_000_000_000 + item.i),
  });
}

function sqsEvent(items: readonly Item[], receiveCount = 1): SQSEvent {
  return { Records: items.map((item) => sqsRecord(item, receiveCount)) };
}

function failedIds(response: SQSBatchResponse): string[] {
  return response.batchItemFailures.map((f) => f.itemIdentifier);
}

function recordingLogger() {
  const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, attributes: Record<string, unknown>) => { lines.push({ level, message, attributes }); };
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

function config(streamNames: string[]): DrainConfig {
  return { version: DRAIN_CONFIG_VERSION, streamNames, deadLetterQueueUrl: 'https://sqs.example/dlq.fifo', maxAttempts: 2, retryBudgetMs: 1_000, writeDeadlineMs: 10_000 };
}

/** A dead-letter queue that records what it is sent, or fails every send. */
function recordingDeadLetters(fail?: Error) {
  const sent: { messageId: string; reason: string }[] = [];
  let tries = 0;
  const deadLetters: DrainDependencies['deadLetters'] = {
    send: async (message, reason) => {
      tries += 1;
      if (fail !== undefined) throw fail;
      sent.push({ messageId: message.messageId, reason });
    },
  };
  return { sent, deadLetters, tries: () => tries };
}

describe('the drain', () => {
  let kinesis: LocalKinesis;
  let proxy: FaultProxy;
  let streamCount = 0;
  const newStream = async () => {
    const name = `drain-${++streamCount}`;
    await kinesis.createStream(name, 4);
    return name;
  };

  let sqs: LocalSqs;
  beforeAll(async () => {
    [kinesis, sqs] = await Promise.all([LocalKinesis.start(), LocalSqs.start()]);
  });
  afterAll(async () => {
    await Promise.all([kinesis.stop(), sqs.stop()]);
  });
  beforeEach(async () => {
    proxy = await FaultProxy.start(kinesis.endpoint, () => ({ kind: 'pass' }));
  });
  afterEach(async () => {
    await proxy.stop();
  });

  function drainer(streamNames: string[], logger = recordingLogger().logger, deadLetters = recordingDeadLetters().deadLetters): DrainHandler {
    const cfg = config(streamNames);
    return createDrainHandler({
      config: cfg,
      logger,
      deadLetters,
      writer: new KinesisWriter(clientFor(proxy.endpoint), {
        streamName: streamNames[0],
        maxAttempts: cfg.maxAttempts,
        retryBudgetMs: cfg.retryBudgetMs,
        writeDeadlineMs: cfg.writeDeadlineMs,
        baseDelayMs: 1,
        maxDelayMs: 2,
      }),
    });
  }

  /** What each stream holds: every key's positions, in sequence order. */
  async function orderPerKey(streamName: string): Promise<Record<string, number[]>> {
    const perKey: Record<string, number[]> = {};
    for (const record of await kinesis.readAll(streamName)) {
      const { i, key } = decode<{ i: number; key: string }>(record);
      expect(record.PartitionKey).toBe(key);
      (perKey[key] ??= []).push(i);
    }
    return perKey;
  }

  test('writes every message to its stream, in order per key, and reports nothing failed', async () => {
    // GIVEN a batch with three keys over two streams (a route sends key c elsewhere)
    const [main, routed] = [await newStream(), await newStream()];
    const items = Array.from({ length: 10 }, (_, i) => {
      const key = ['a', 'b', 'a', 'c', 'b', 'a', 'c', 'a', 'b', 'c'][i];
      return { i, key, streamName: key === 'c' ? routed : main };
    });
    // WHEN
    const response = await drainer([main, routed])(sqsEvent(items));
    // THEN
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await orderPerKey(main)).toEqual({ a: [0, 2, 5, 7], b: [1, 4, 8] });
    expect(await orderPerKey(routed)).toEqual({ c: [3, 6, 9] });
  });

  test('with throttling, reports each unwritten message and every later one of its group; a redelivery of exactly those completes the stream in order', async () => {
    const stream = await newStream();
    const keys = ['a', 'b', 'a', 'c', 'b', 'a', 'c', 'b'];
    const items = keys.map((key, i) => ({ i, key, streamName: stream }));
    // GIVEN the first PutRecords call throttles its second record (b1), and every later call throttles everything.
    // The writer sends one record per key per call: [a0 b1 c3], then [a2 b4 c6], then [a5 b7].
    proxy.plan = (call): PutRecordsFault => ({ kind: 'throttleRecords', indexes: call === 0 ? (i) => i === 1 : () => true });
    const { lines, logger } = recordingLogger();
    // WHEN
    const first = await drainer([stream], logger)(sqsEvent(items));
    // THEN b1 and every later b, and the unwritten a2, a5 and c6, go back to the queue
    expect(failedIds(first)).toEqual(['msg-1', 'msg-2', 'msg-4', 'msg-5', 'msg-6', 'msg-7']);
    expect(await orderPerKey(stream)).toEqual({ a: [0], c: [3] });
    // AND the log names the records' error code
    expect(lines.find((l) => l.level === 'warn')?.attributes).toEqual({ streamName: stream, reason: 'throttled', cause: 'ProvisionedThroughputExceededException', unwritten: 6, written: 2 });

    // WHEN SQS hands over exactly those again, in order, and the stream has capacity
    proxy.plan = () => ({ kind: 'pass' });
    const redelivered = items.filter((item) => failedIds(first).includes(`msg-${item.i}`));
    const second = await drainer([stream])(sqsEvent(redelivered, 2));
    // THEN every record is in the stream once, in order per key
    expect(second).toEqual({ batchItemFailures: [] });
    expect(await orderPerKey(stream)).toEqual({ a: [0, 2, 5], b: [1, 4, 7], c: [3, 6] });
  });

  test('reports a later message of a failed group even when it was written (one key over two streams), so the group keeps its order', async () => {
    // GIVEN a writer whose stream B throttles everything
    const calls: { streamName: string; records: readonly WriteRecord[] }[] = [];
    const writer = {
      write: async (records: readonly WriteRecord[], streamName: string) => {
        calls.push({ streamName, records });
        if (streamName === 'B') throw new StreamWriteFailure('throttled', records, { written: 0, calls: 1, retried: 0 }, 'ProvisionedThroughputExceededException');
        return { written: records.length, calls: 1, retried: 0 };
      },
    };
    const handler = createDrainHandler({ config: config(['A', 'B']), writer, logger: recordingLogger().logger, deadLetters: recordingDeadLetters().deadLetters });
    // WHEN key k goes to B and then to A; key j to A
    const response = await handler(sqsEvent([
      { i: 0, key: 'j', streamName: 'A' },
      { i: 1, key: 'k', streamName: 'B' },
      { i: 2, key: 'k', streamName: 'A' },
    ]));
    // THEN A took j and the second k, but the second k is reported with the first: SQS redelivers both, in order
    expect(calls.map((c) => [c.streamName, c.records.length])).toEqual([['A', 2], ['B', 1]]);
    expect(failedIds(response)).toEqual(['msg-1', 'msg-2']);
  });

  test('does not write a message whose group already failed in an earlier stream', async () => {
    const written: string[] = [];
    const writer = {
      write: async (records: readonly WriteRecord[], streamName: string) => {
        if (streamName === 'A') throw new StreamWriteFailure('misconfigured', records, { written: 0, calls: 1, retried: 0 }, 'AccessDeniedException HTTP 400');
        written.push(...records.map((r) => r.partitionKey));
        return { written: records.length, calls: 1, retried: 0 };
      },
    };
    const handler = createDrainHandler({ config: config(['A', 'B']), writer, logger: recordingLogger().logger, deadLetters: recordingDeadLetters().deadLetters });
    const response = await handler(sqsEvent([
      { i: 0, key: 'k', streamName: 'A' },
      { i: 1, key: 'k', streamName: 'B' },
      { i: 2, key: 'j', streamName: 'B' },
    ]));
    expect(failedIds(response)).toEqual(['msg-0', 'msg-1']);
    expect(written).toEqual(['j']);
  });

  test('a poison message goes to the dead-letter queue with its reason and is acknowledged; the rest of its group is written in order; its body is never logged', async () => {
    const stream = await newStream();
    const secret = '4111111111111111 jane@example.com';
    // GIVEN poison messages in the middle of groups g and h, and one naming a stream the drain does not serve
    const items: Item[] = [
      { i: 0, key: 'g', streamName: stream },
      { i: 1, key: 'g', streamName: stream, body: `{"card": "${secret}"` },
      { i: 2, key: 'g', streamName: stream },
      { i: 3, key: 'h', streamName: stream },
      { i: 4, key: 'h', streamName: stream, body: JSON.stringify({ v: 2, streamName: stream, partitionKey: 'h', data: Buffer.from(secret).toString('base64') }) },
      { i: 5, key: 'i', streamName: stream, body: encodeSpillMessage({ streamName: 'someone-elses-stream', partitionKey: 'i', data: Buffer.from(secret) }) },
      { i: 6, key: 'h', streamName: stream },
      { i: 7, key: 'j', streamName: stream },
    ];
    const { lines, logger } = recordingLogger();
    const { sent, deadLetters } = recordingDeadLetters();
    // WHEN
    const response = await drainer([stream], logger, deadLetters)(sqsEvent(items, 3));
    // THEN nothing goes back to the queue: the poison is dead-lettered, everything else written in order
    expect(failedIds(response)).toEqual([]);
    expect(sent).toEqual([
      { messageId: 'msg-1', reason: 'notJson' },
      { messageId: 'msg-4', reason: 'version' },
      { messageId: 'msg-5', reason: 'unknownStream' },
    ]);
    expect(await orderPerKey(stream)).toEqual({ g: [0, 2], h: [3, 6], j: [7] });
    expect(lines.filter((l) => l.level === 'error').map((l) => [l.message, l.attributes])).toEqual([
      ['poison message sent to the dead-letter queue', { messageId: 'msg-1', receiveCount: 3, problem: 'notJson' }],
      ['poison message sent to the dead-letter queue', { messageId: 'msg-4', receiveCount: 3, problem: 'version' }],
      ['poison message sent to the dead-letter queue', { messageId: 'msg-5', receiveCount: 3, problem: 'unknownStream' }],
    ]);
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain('4111');
    expect(logged).not.toContain('jane@');
    expect(logged).not.toContain(Buffer.from(secret).toString('base64').slice(0, 12));
    expect(logged).not.toContain('someone-elses-stream');
    // Two waves: the second record of g and of h go in a call after the first.
    expect(lines.find((l) => l.message === 'drained')?.attributes).toEqual({ received: 8, written: 5, failed: 0, poison: 3, calls: 2, retried: 0 });
  });

  test('a record larger than Kinesis takes is poison, and does not take the rest of its call down with it', async () => {
    const stream = await newStream();
    const huge = encodeSpillMessage({ streamName: stream, partitionKey: 'a', data: Buffer.alloc(1024 * 1024, 1) });
    const { sent, deadLetters } = recordingDeadLetters();
    const response = await drainer([stream], undefined, deadLetters)(sqsEvent([
      { i: 0, key: 'a', streamName: stream },
      { i: 1, key: 'a', streamName: stream, body: huge },
      { i: 2, key: 'a', streamName: stream },
      { i: 3, key: 'b', streamName: stream },
    ]));
    expect(failedIds(response)).toEqual([]);
    expect(sent).toEqual([{ messageId: 'msg-1', reason: 'recordTooLarge' }]);
    expect(await orderPerKey(stream)).toEqual({ a: [0, 2], b: [3] });
  });

  test('when the dead-letter queue does not take a poison message, it and the rest of its group go back to the queue, unwritten; other groups go on', async () => {
    const stream = await newStream();
    const { lines, logger } = recordingLogger();
    const { deadLetters, tries } = recordingDeadLetters(Object.assign(new Error('x'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }));
    // WHEN
    const response = await drainer([stream], logger, deadLetters)(sqsEvent([
      { i: 0, key: 'g', streamName: stream },
      { i: 1, key: 'g', streamName: stream, body: 'not json' },
      { i: 2, key: 'h', streamName: stream },
      { i: 3, key: 'g', streamName: stream },
      { i: 4, key: 'h', streamName: stream },
      { i: 5, key: 'k', streamName: stream, body: 'not json either' },
    ]));
    // THEN
    expect(failedIds(response)).toEqual(['msg-1', 'msg-3', 'msg-5']);
    expect(await orderPerKey(stream)).toEqual({ g: [0], h: [2, 4] });
    // AND once the dead-letter queue failed, the batch sends it nothing more
    expect(tries()).toBe(1);
    expect(lines.find((l) => l.level === 'error')).toEqual({
      level: 'error',
      message: 'poison message not sent to the dead-letter queue; it goes back to the queue',
      attributes: { messageId: 'msg-1', receiveCount: 1, problem: 'notJson', cause: 'ServiceUnavailable HTTP 503' },
    });
  });

  test('fails the whole batch on an error that is not a stream write failure', async () => {
    const handler = createDrainHandler({
      config: config(['A']),
      writer: { write: async () => { throw new TypeError('a bug'); } },
      logger: recordingLogger().logger,
      deadLetters: recordingDeadLetters().deadLetters,
    });
    await expect(handler(sqsEvent([{ i: 0, key: 'k', streamName: 'A' }]))).rejects.toThrow(TypeError);
  });

  describe('end to end through a FIFO queue', () => {
    /** Polls like Lambda's SQS event source: deletes what the drain wrote, lets the rest become visible again. */
    async function pollUntilEmpty(queueUrl: string, handler: DrainHandler): Promise<{ batches: number; failures: number }> {
      let batches = 0;
      let failures = 0;
      for (let round = 0; round < 200; round++) {
        const { Messages = [] } = await sqs.client.send(new ReceiveMessageCommand({
          QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ['All'],
        }));
        if (Messages.length === 0) return { batches, failures };
        batches += 1;
        const event: SQSEvent = { Records: Messages.map((m: Message) => ({
          messageId: m.MessageId as string,
          receiptHandle: m.ReceiptHandle as string,
          body: m.Body as string,
          attributes: m.Attributes as unknown as SQSRecord['attributes'],
          messageAttributes: {},
          md5OfBody: m.MD5OfBody as string,
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:e2e.fifo',
          awsRegion: TEST_REGION,
        })) };
        const failed = new Set(failedIds(await handler(event)));
        failures += failed.size;
        const done = Messages.filter((m) => !failed.has(m.MessageId as string));
        const again = Messages.filter((m) => failed.has(m.MessageId as string));
        if (done.length > 0) {
          await sqs.client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })) }));
        }
        if (again.length > 0) {
          // As if their visibility timeout ran out.
          await sqs.client.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: again.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string, VisibilityTimeout: 0 })) }));
        }
      }
      throw new Error('the queue did not drain in 200 rounds');
    }

    test('records spilled while the stream throttled drain into it in order per key, exactly once, through more throttling', async () => {
      const stream = await newStream();
      const { queueUrl, deadLetterQueueUrl } = await sqs.createFifoQueue('e2e', { deadLetter: { maxReceiveCount: 5 } });
      // GIVEN 40 records of 4 keys, spilled
      const sent = Array.from({ length: 40 }, (_, i) => ({ streamName: stream, partitionKey: `cus_${i % 4}`, dedupId: `evt-${i}`, data: dataOf(i, `cus_${i % 4}`) }));
      await new SpillProducer(sqs.client, { queueUrl }).spill(sent);
      // WHEN the drain runs while the first five PutRecords calls throttle every other record
      proxy.plan = (call): PutRecordsFault => (call < 5 ? { kind: 'throttleRecords', indexes: (i) => i % 2 === 0 } : { kind: 'pass' });
      const { failures } = await pollUntilEmpty(queueUrl, drainer([stream]));
      // THEN
      expect(failures).toBeGreaterThan(0);
      const expected: Record<string, number[]> = {};
      for (let i = 0; i < 40; i++) (expected[`cus_${i % 4}`] ??= []).push(i);
      expect(await orderPerKey(stream)).toEqual(expected);
      expect(await sqs.receiveAll(deadLetterQueueUrl as string)).toHaveLength(0);
    });

    test('a poison message in the middle of a group goes to the dead-letter queue with its reason after one receive; the ones after it are written in order, through throttling', async () => {
      const stream = await newStream();
      const { queueUrl, deadLetterQueueUrl } = await sqs.createFifoQueue('poison', { deadLetter: { maxReceiveCount: 3 } });
      // GIVEN spilled records of two keys, and in the middle of cus_0's group a message that is not a spilled record
      const sent = Array.from({ length: 6 }, (_, i) => ({ streamName: stream, partitionKey: `cus_${i % 2}`, dedupId: `evt-${i}`, data: dataOf(i, `cus_${i % 2}`) }));
      await new SpillProducer(sqs.client, { queueUrl }).spill(sent.slice(0, 3));
      await sqs.client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not a spilled record', MessageGroupId: messageGroupIdOf('cus_0'), MessageDeduplicationId: 'stray-1' }));
      await new SpillProducer(sqs.client, { queueUrl }).spill(sent.slice(3));
      const { lines, logger } = recordingLogger();
      // WHEN the drain polls until the queue is empty, while the first two PutRecords calls throttle every record
      proxy.plan = (call): PutRecordsFault => (call < 2 ? { kind: 'throttleRecords', indexes: () => true } : { kind: 'pass' });
      const { failures } = await pollUntilEmpty(queueUrl, drainer([stream], logger, new DeadLetterSender(sqs.client, deadLetterQueueUrl as string)));
      // THEN the throttled messages came back and every record is in the stream, in order per key
      expect(failures).toBeGreaterThan(0);
      expect(await orderPerKey(stream)).toEqual({ cus_0: [0, 2, 4], cus_1: [1, 3, 5] });
      // AND the stray message is in the dead-letter queue, with its reason, sent by the drain on the receive that read it
      const { Messages: dead = [] } = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: deadLetterQueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
      expect(dead.map((m) => [m.Body, m.MessageAttributes?.reason?.StringValue, m.Attributes?.MessageGroupId])).toEqual([['not a spilled record', 'notJson', messageGroupIdOf('cus_0')]]);
      const poisonLines = lines.filter((l) => l.level === 'error');
      expect(poisonLines.map((l) => [l.message, l.attributes.problem])).toEqual([['poison message sent to the dead-letter queue', 'notJson']]);
      expect(dead[0].MessageAttributes?.sourceMessageId?.StringValue).toBe(poisonLines[0].attributes.messageId);
    });
  });

  describe('the bundled drain (assets/drain) with its configuration from the template', () => {
    const savedEnv = process.env;
    afterEach(() => {
      process.env = savedEnv;
    });

    test('drains a batch into the stream, sends a poison message to the dead-letter queue, and logs it by its id only', async () => {
      const streamName = await newStream();
      // GIVEN the environment the construct gives the function
      const app = new App();
      const stack = new Stack(app, 'Drain', { env: { account: '111111111111', region: TEST_REGION } });
      const target = new kds.Stream(stack, 'Stream', { streamMode: kds.StreamMode.ON_DEMAND });
      const spill = new SpillQueueConstruct(stack, 'Spill', { streams: [target], serviceName: 'orders' });
      // The deployed SQS client sends to the queue URL's host; here that is fauxqs on 127.0.0.1.
      const created = await sqs.createFifoQueue('bundled-dlq');
      const deadLetterQueueUrl = new URL(new URL(created.queueUrl).pathname, sqs.endpoint).toString();
      const template = Template.fromStack(stack);
      const [fn] = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { Environment: { Variables: Record<string, unknown> }; Handler: string } }[];
      const streamLogicalId = stack.getLogicalId(target.node.defaultChild as kds.CfnStream);
      const variables = resolveCfn(fn.Properties.Environment.Variables, (id) => {
        if (id === streamLogicalId) return streamName;
        if (id === stack.getLogicalId(spill.deadLetterQueue.node.defaultChild as CfnElement)) return deadLetterQueueUrl;
        throw new Error(`unexpected reference ${id}`);
      }) as Record<string, string>;
      expect(Object.keys(variables)).toEqual(expect.arrayContaining([CONFIG_ENV_VAR, 'POWERTOOLS_SERVICE_NAME']));
      const mod = loadBundledHandler<{ handler: DrainHandler }>(join(__dirname, '..', '..', '..', 'assets', 'drain'), {
        ...variables,
        AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
        AWS_LAMBDA_FUNCTION_NAME: 'SpillDrain',
      }, savedEnv);
      expect(fn.Properties.Handler).toBe('index.handler');

      // WHEN it gets a batch with a poison message
      const poison = '{"v":1,"streamName":"card 4111111111111111"';
      const chunks: string[] = [];
      const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { chunks.push(String(c)); return true; });
      const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => { chunks.push(String(c)); return true; });
      let response: SQSBatchResponse;
      try {
        response = await mod.handler(sqsEvent([
          { i: 0, key: 'a', streamName },
          { i: 1, key: 'b', streamName, body: poison },
          { i: 2, key: 'a', streamName },
        ]));
      } finally {
        out.mockRestore();
        err.mockRestore();
      }
      // THEN
      expect(failedIds(response)).toEqual([]);
      expect(await orderPerKey(streamName)).toEqual({ a: [0, 2] });
      expect((await sqs.receiveAll(deadLetterQueueUrl)).map((m) => m.Body)).toEqual([poison]);
      const output = chunks.join('');
      expect(output).toContain('"messageId":"msg-1"');
      expect(output).toContain('"service":"orders"');
      expect(output).not.toContain('4111');
    });
  });
});
