/**
 * Each backpressure policy, driven with 10,000 events through the ingest handler while a proxy
 * in front of kinesalite throttles records and whole calls. The figures the issue asks for are
 * printed: sent, acknowledged, present, duplicates, shed.
 */
import { createHmac } from 'node:crypto';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { DRAIN_CONFIG_VERSION } from '../../lambda/drain/config';
import { DeadLetterSender } from '../../lambda/drain/dead-letter';
import { createDrainHandler } from '../../lambda/drain/handler';
import { SpillProducer } from '../../lambda/ingest/spill';
import { LocalSqs } from '../support/fauxqs';
import type { IngestConfig } from '../../lambda/ingest/config';
import { createIngestHandler, type IngestLogger } from '../../lambda/ingest/handler';
import { KinesisWriter } from '../../lambda/common/kinesis-writer';
import { WebhookAuth } from '../../lib';
import { FaultProxy, type PutRecordsFault } from '../support/fault-proxy';
import { clientFor, decode, LocalKinesis } from '../support/kinesalite';
import { ingestConfig } from '../support/presets';
import { apiGatewayEvent } from '../support/signers';


/** The figures the README's Backpressure table shows: printed with BACKPRESSURE_FIGURES=1, so that a green run stays quiet. */
function report(line: string): void {
  if (process.env.BACKPRESSURE_FIGURES === '1') console.log(line);
}

const SECRET = 'backpressure-test-key';
const EVENTS = 10_000;
const PER_REQUEST = 100;
const ACCOUNTS = 20;
const quiet: IngestLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Order { orderId: string; account: string; seq: number }

const orders: Order[] = Array.from({ length: EVENTS }, (_, seq) => ({ orderId: `o-${seq}`, account: `a-${seq % ACCOUNTS}`, seq }));
const requests = Array.from({ length: EVENTS / PER_REQUEST }, (_, r) => orders.slice(r * PER_REQUEST, (r + 1) * PER_REQUEST));

/** A seeded generator, so every run injects the same faults. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function signed(batch: Order[]) {
  const body = JSON.stringify(batch);
  const t = Math.floor(Date.now() / 1000);
  return apiGatewayEvent(body, { headers: {
    'content-type': 'application/json',
    'x-timestamp': String(t),
    'x-signature': createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex'),
  } });
}

describe('backpressure under injected faults (10,000 events)', () => {
  let kinesis: LocalKinesis;
  let proxy: FaultProxy;
  let streams = 0;

  beforeAll(async () => {
    kinesis = await LocalKinesis.start();
  });
  afterAll(async () => {
    await kinesis.stop();
  });
  beforeEach(async () => {
    proxy = await FaultProxy.start(kinesis.endpoint, () => ({ kind: 'pass' }));
  });
  afterEach(async () => {
    await proxy.stop();
  });

  async function sourceWith(backpressure: IngestConfig['backpressure'], metrics?: { sampled(written: number, shed: number): void }, now?: () => number, spill?: SpillProducer) {
    const streamName = `bp-${++streams}`;
    await kinesis.createStream(streamName, 4);
    const config = ingestConfig((s) => WebhookAuth.hmac({ secret: s, signatureHeader: 'X-Signature', signedContent: '{timestamp}.{body}', timestampHeader: 'X-Timestamp' }), {
      streamName,
      metadata: { id: { jsonPointer: '/orderId' } },
      partitionKey: { jsonPointer: '/account' },
      backpressure,
    });
    const handler = createIngestHandler({
      config,
      logger: quiet,
      now,
      secrets: { get: async () => [SECRET] },
      writer: new KinesisWriter(clientFor(proxy.endpoint, { requestTimeoutMs: 250 }), { streamName, maxAttempts: backpressure.maxAttempts, retryBudgetMs: backpressure.retryBudgetMs, baseDelayMs: 1, maxDelayMs: 4 }),
      metrics: { quarantined: () => undefined, ...metrics },
      spill,
    });
    return { handler, streamName };
  }

  /** The stream's orders, and each account's sequence of first occurrences. */
  async function readBack(streamName: string) {
    const stored = (await kinesis.readAll(streamName)).map((r) => decode<{ id: string; payload: Order }>(r).payload);
    const firstSeen = new Map<string, number[]>();
    const seen = new Set<string>();
    for (const order of stored) {
      if (seen.has(order.orderId)) continue;
      seen.add(order.orderId);
      firstSeen.set(order.account, [...(firstSeen.get(order.account) ?? []), order.seq]);
    }
    return { stored, unique: seen, firstSeen };
  }

  test('reject with 429: every acknowledged event is in the stream; retried until accepted, none is missing; order per key kept', async () => {
    const { handler, streamName } = await sourceWith({ kind: 'rejectWith429', retryAfterSeconds: 1, maxAttempts: 3, retryBudgetMs: 200 });
    // Throttle about 10% of records all the time, every record in bursts of 5 calls out of 50,
    // answer one call in 40 with a 500, and let one in 60 time out after Kinesis took it.
    const rng = random(42);
    proxy.plan = (call): PutRecordsFault => {
      if (call % 50 >= 10 && call % 50 < 15) return { kind: 'throttleRecords', indexes: () => true };
      if (call % 40 === 7) return { kind: 'failCall', status: 500, type: 'InternalFailure' };
      if (call % 60 === 23) return { kind: 'delay', ms: 400 };
      return { kind: 'throttleRecords', indexes: () => rng() < 0.1 };
    };

    const acknowledged = new Set<string>();
    let answers429 = 0;
    let answers503 = 0;
    // A sender that delivers in order and retries a 429'd or 503'd request until it is accepted.
    for (const batch of requests) {
      for (let attempt = 0; ; attempt++) {
        const response = await handler(signed(batch));
        if (response.statusCode === 202) {
          for (const id of (JSON.parse(response.body) as { ids: string[] }).ids) acknowledged.add(id);
          break;
        }
        // Throttling is a 429; the injected 500s and timeouts, when a write ends on one, a 503.
        expect([429, 503]).toContain(response.statusCode);
        expect(response.headers?.['Retry-After']).toBe('1');
        if (response.statusCode === 429) answers429 += 1;
        else answers503 += 1;
        expect(attempt).toBeLessThan(50);
      }
    }
    const { stored, unique, firstSeen } = await readBack(streamName);
    for (const id of acknowledged) expect(unique.has(id)).toBe(true);
    expect(acknowledged.size).toBe(EVENTS);
    expect(unique.size).toBe(EVENTS);
    for (const [, seqs] of firstSeen) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // eslint-disable-next-line no-console
    report(`rejectWith429: sent ${EVENTS}, acknowledged ${acknowledged.size}, present ${unique.size}, duplicates ${stored.length - unique.size}, shed 0, 429 answers ${answers429}, 503 answers ${answers503}`);
    expect(answers429).toBeGreaterThan(0);
    // The timed-out calls were written all the same: their records are duplicates, never losses.
    expect(stored.length - unique.size).toBeGreaterThan(0);
  });

  test('sample or shed: what is shed stays within the loss budget and equals the metric; every kept event is in the stream', async () => {
    const shedMetric = { written: 0, shed: 0 };
    // Senders' requests come one second apart; pressure lasts 5 seconds after a throttled write.
    let clock = Date.now();
    const { handler, streamName } = await sourceWith(
      { kind: 'sampleOrShed', keepFraction: 0.5, pressureWindowMs: 5_000, maxAttempts: 2, retryBudgetMs: 100 },
      { sampled: (written, shed) => { shedMetric.written += written; shedMetric.shed += shed; } },
      () => clock,
    );
    const LOSS_BUDGET = 0.3;
    // A burst of throttling: calls 20 to 29 throttle every record; the rest pass.
    proxy.plan = (call): PutRecordsFault => (call >= 20 && call < 30 ? { kind: 'throttleRecords', indexes: () => true } : { kind: 'pass' });

    const acknowledged = new Set<string>();
    let shedAnswered = 0;
    for (const batch of requests) {
      clock += 1000;
      const response = await handler(signed(batch));
      expect(response.statusCode).toBe(202);
      const answer = JSON.parse(response.body) as { ids: string[]; shed?: number };
      for (const id of answer.ids) acknowledged.add(id);
      shedAnswered += answer.shed ?? 0;
    }
    const { stored, unique, firstSeen } = await readBack(streamName);
    for (const id of acknowledged) expect(unique.has(id)).toBe(true);
    const shed = EVENTS - unique.size;
    expect(shed).toBeGreaterThan(0);
    expect(shed).toBe(shedMetric.shed);
    expect(shed).toBe(shedAnswered);
    expect(shedMetric.written).toBe(unique.size);
    expect(shed / EVENTS).toBeLessThanOrEqual(LOSS_BUDGET);
    for (const [, seqs] of firstSeen) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // eslint-disable-next-line no-console
    report(`sampleOrShed: sent ${EVENTS}, acknowledged ${acknowledged.size}, present ${unique.size}, duplicates ${stored.length - unique.size}, shed ${shed} (${((100 * shed) / EVENTS).toFixed(1)}%, budget ${LOSS_BUDGET * 100}%)`);
  });

  test('queue and slow accept: every acknowledged event reaches the stream once the drain runs; nothing is lost; order per key kept', async () => {
    const sqs = await LocalSqs.start();
    try {
      const { queueUrl } = await sqs.createFifoQueue(`spill-${streams}`);
      // Where the drain would send a poison message; no redrive policy, so nothing lands there by receive count.
      const { queueUrl: deadLetterQueueUrl } = await sqs.createFifoQueue(`spill-${streams}-dlq`);
      let clock = Date.now();
      const { handler, streamName } = await sourceWith(
        { kind: 'queueAndSlowAccept', queueUrl, queueWindowMs: 10_000, retryAfterSeconds: 30, maxAttempts: 2, retryBudgetMs: 100 },
        undefined,
        () => clock,
        new SpillProducer(sqs.client, { queueUrl, baseDelayMs: 1, maxDelayMs: 4 }),
      );
      // The drain, through the same faulty proxy: it too meets the throttling while it lasts.
      const drain = createDrainHandler({
        config: { version: DRAIN_CONFIG_VERSION, streamNames: [streamName], deadLetterQueueUrl: deadLetterQueueUrl, maxAttempts: 2, retryBudgetMs: 100, writeDeadlineMs: 5_000 },
        deadLetters: new DeadLetterSender(sqs.client, deadLetterQueueUrl),
        writer: new KinesisWriter(clientFor(proxy.endpoint), { streamName, maxAttempts: 2, retryBudgetMs: 100, baseDelayMs: 1, maxDelayMs: 4 }),
        logger: quiet,
      });
      /** One poll of Lambda's SQS event source: the drain's input is what the queue hands out. */
      const drainOnce = async (): Promise<number> => {
        const { Messages = [] } = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ['All'] }));
        if (Messages.length === 0) return 0;
        const event: SQSEvent = { Records: Messages.map((m) => ({
          messageId: m.MessageId as string, receiptHandle: m.ReceiptHandle as string, body: m.Body as string,
          attributes: m.Attributes as unknown as SQSRecord['attributes'], messageAttributes: {}, md5OfBody: m.MD5OfBody as string,
          eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:spill.fifo', awsRegion: 'us-east-1',
        })) };
        const failed = new Set((await drain(event)).batchItemFailures.map((f) => f.itemIdentifier));
        const done = Messages.filter((m) => !failed.has(m.MessageId as string));
        const again = Messages.filter((m) => failed.has(m.MessageId as string));
        if (done.length > 0) await sqs.client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })) }));
        if (again.length > 0) await sqs.client.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: again.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string, VisibilityTimeout: 0 })) }));
        return Messages.length;
      };

      // Bursts: calls 30 to 59 and 200 to 229 throttle every record.
      proxy.plan = (call): PutRecordsFault => ((call >= 30 && call < 60) || (call >= 200 && call < 230) ? { kind: 'throttleRecords', indexes: () => true } : { kind: 'pass' });
      const acknowledged = new Set<string>();
      let queued = 0;
      for (const batch of requests) {
        clock += 1000;
        const response = await handler(signed(batch));
        expect(response.statusCode).toBe(202);
        const answer = JSON.parse(response.body) as { ids: string[]; queued?: number };
        for (const id of answer.ids) acknowledged.add(id);
        queued += answer.queued ?? 0;
        // The drain polls continuously; between two deliveries it gets a few batches through.
        for (let i = 0; i < 10 && (await drainOnce()) > 0; i++);
      }
      // Then it empties the queue.
      for (let round = 0; round < 5_000 && (await drainOnce()) > 0; round++);
      expect(await drainOnce()).toBe(0);

      const { stored, unique, firstSeen } = await readBack(streamName);
      expect(queued).toBeGreaterThan(0);
      expect(acknowledged.size).toBe(EVENTS);
      for (const id of acknowledged) expect(unique.has(id)).toBe(true);
      for (const [, seqs] of firstSeen) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(await sqs.receiveAll(deadLetterQueueUrl)).toHaveLength(0);
      // eslint-disable-next-line no-console
      report(`queueAndSlowAccept: sent ${EVENTS}, acknowledged ${acknowledged.size}, queued ${queued}, present ${unique.size}, duplicates ${stored.length - unique.size}, shed 0`);
    } finally {
      await sqs.stop();
    }
  });
});
