import { KinesisWriter, planCalls, StreamWriteFailure, type WriteRecord } from '../../../lambda/common/kinesis-writer';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { FaultProxy, type PutRecordsFault } from '../../support/fault-proxy';
import { clientFor, LocalKinesis, TEST_CREDENTIALS, TEST_REGION } from '../../support/kinesalite';

const MiB = 1024 * 1024;

function records(count: number, keyOf: (i: number) => string, size = 64): WriteRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    partitionKey: keyOf(i),
    data: Buffer.from(JSON.stringify({ i, key: keyOf(i), pad: 'x'.repeat(Math.max(0, size - 40)) })),
  }));
}

function seqOf(record: WriteRecord): number {
  return (JSON.parse(Buffer.from(record.data).toString('utf8')) as { i: number }).i;
}

describe('planCalls', () => {
  test('splits at 500 records per call', () => {
    expect(planCalls(records(1200, (i) => `k${i}`)).map((c) => c.length)).toEqual([500, 500, 200]);
  });

  test('splits at 5 MiB of data plus partition keys per call', () => {
    const big = records(12, (i) => `key-${i}`, MiB - 100);
    const calls = planCalls(big);
    for (const call of calls) {
      const bytes = call.reduce((n, r) => n + r.data.length + Buffer.byteLength(r.partitionKey), 0);
      expect(bytes).toBeLessThanOrEqual(5 * MiB);
    }
    expect(calls.flat()).toHaveLength(12);
    expect(calls.length).toBe(3);
  });

  test('never puts two records with the same key in one call, and keeps their order', () => {
    const input = records(7, (i) => ['a', 'a', 'b', 'a', 'c', 'b', 'a'][i]);
    const calls = planCalls(input);
    for (const call of calls) {
      const keys = call.map((r) => r.partitionKey);
      expect(new Set(keys).size).toBe(keys.length);
    }
    // Reading the calls in order gives every key's records in their original order.
    const perKey = new Map<string, number[]>();
    for (const r of calls.flat()) perKey.set(r.partitionKey, [...(perKey.get(r.partitionKey) ?? []), seqOf(r)]);
    expect(Object.fromEntries(perKey)).toEqual({ a: [0, 1, 3, 6], b: [2, 5], c: [4] });
  });
});

describe('KinesisWriter against kinesalite', () => {
  let kinesis: LocalKinesis;
  let streamCount = 0;
  const newStream = async () => {
    const name = `writer-${++streamCount}`;
    await kinesis.createStream(name, 4);
    return name;
  };

  beforeAll(async () => {
    kinesis = await LocalKinesis.start();
  });
  afterAll(async () => {
    await kinesis.stop();
  });

  async function expectInStreamInOrder(stream: string, sent: WriteRecord[], expectedKeys?: Set<number>) {
    const stored = await kinesis.readAll(stream);
    const seqs = stored.map((r) => (JSON.parse(Buffer.from(r.Data as Uint8Array).toString('utf8')) as { i: number; key: string }));
    const expected = sent.filter((r) => expectedKeys === undefined || expectedKeys.has(seqOf(r)));
    // Exactly once each...
    expect(seqs.map((s) => s.i).sort((a, b) => a - b)).toEqual(expected.map(seqOf).sort((a, b) => a - b));
    // ...and in the sent order within each partition key (one key lives on one shard).
    const perKey = new Map<string, number[]>();
    for (const s of seqs) perKey.set(s.key, [...(perKey.get(s.key) ?? []), s.i]);
    for (const [, order] of perKey) expect(order).toEqual([...order].sort((a, b) => a - b));
  }

  test('writes 1,200 records with 10 keys, each exactly once and in order per key', async () => {
    const stream = await newStream();
    const sent = records(1200, (i) => `account-${i % 10}`);
    const report = await new KinesisWriter(kinesis.client, { streamName: stream, maxAttempts: 3, retryBudgetMs: 2000 }).write(sent);
    expect(report).toEqual({ written: 1200, calls: 120, retried: 0 });
    await expectInStreamInOrder(stream, sent);
  });

  describe('with injected faults', () => {
    let proxy: FaultProxy;
    beforeEach(async () => {
      proxy = await FaultProxy.start(kinesis.endpoint, () => ({ kind: 'pass' }));
    });
    afterEach(async () => {
      await proxy.stop();
    });

    const writer = (stream: string, options: Partial<ConstructorParameters<typeof KinesisWriter>[1]> = {}) =>
      new KinesisWriter(clientFor(proxy.endpoint), {
        streamName: stream,
        maxAttempts: 6,
        retryBudgetMs: 5000,
        baseDelayMs: 1,
        maxDelayMs: 5,
        ...options,
      });

    test('retries only the throttled records, until every one is written once', async () => {
      const stream = await newStream();
      // GIVEN the first three calls throttle every third record
      proxy.plan = (call): PutRecordsFault => (call < 3 ? { kind: 'throttleRecords', indexes: (i) => i % 3 === 0 } : { kind: 'pass' });
      const sent = records(1000, (i) => `evt-${i}`);
      // WHEN
      const report = await writer(stream).write(sent);
      // THEN only the failed records were sent again, and the stream holds each record once
      expect(report.written).toBe(1000);
      expect(report.retried).toBe(proxy.stats.recordsThrottled);
      expect(proxy.stats.recordsSent).toBe(1000 + proxy.stats.recordsThrottled);
      await expectInStreamInOrder(stream, sent);
    });

    test('keeps the order per key when records of one key are throttled', async () => {
      const stream = await newStream();
      proxy.plan = (call): PutRecordsFault => (call % 2 === 0 ? { kind: 'throttleRecords', indexes: (i) => i % 2 === 0 } : { kind: 'pass' });
      const sent = records(60, (i) => `k${i % 3}`);
      await writer(stream).write(sent);
      await expectInStreamInOrder(stream, sent);
    });

    test('retries a call that is rejected whole', async () => {
      const stream = await newStream();
      proxy.plan = (call): PutRecordsFault => (call < 2
        ? { kind: 'failCall', status: 400, type: 'ProvisionedThroughputExceededException' }
        : { kind: 'pass' });
      const sent = records(10, (i) => `evt-${i}`);
      const report = await writer(stream).write(sent);
      expect(report).toEqual({ written: 10, calls: 3, retried: 20 });
      await expectInStreamInOrder(stream, sent);
    });

    test('fails as throttled when every record keeps being throttled, and names every unwritten record', async () => {
      const stream = await newStream();
      // GIVEN the first call writes all but every fifth record, and every later call throttles everything
      proxy.plan = (call): PutRecordsFault => ({ kind: 'throttleRecords', indexes: call === 0 ? (i) => i % 5 === 0 : () => true });
      const sent = records(700, (i) => `evt-${i}`);
      // WHEN
      const failure = await writer(stream, { maxAttempts: 4 }).write(sent).catch((e: unknown) => e);
      // THEN
      expect(failure).toBeInstanceOf(StreamWriteFailure);
      const { reason, unwritten, report } = failure as StreamWriteFailure;
      expect(reason).toBe('throttled');
      expect(report.calls).toBe(4);
      // The stream holds exactly the records that are not reported unwritten.
      const unwrittenSeqs = new Set(unwritten.map(seqOf));
      expect(unwritten.length).toBe(100 + 200);
      const written = new Set(sent.map(seqOf).filter((i) => !unwrittenSeqs.has(i)));
      expect(report.written).toBe(written.size);
      await expectInStreamInOrder(stream, sent, written);
    });

    describe('tells throttling from an outage and from a refusal, and names the cause', () => {
      // Under jest, Node's own network errors come from another realm, and the SDK wraps them in
      // a plain Error without their code; a deployed handler keeps it (see the fake client below).
      const NETWORK = expect.stringMatching(/^(ECONNRESET|Error)$/);
      const cases: [string, string, unknown, (call: number) => PutRecordsFault][] = [
        ['every record throttled', 'throttled', 'ProvisionedThroughputExceededException', () => ({ kind: 'throttleRecords', indexes: () => true })],
        ['the call throttled', 'throttled', 'ProvisionedThroughputExceededException HTTP 400', () => ({ kind: 'failCall', status: 400, type: 'ProvisionedThroughputExceededException' })],
        ['KMS throttling', 'throttled', 'KMSThrottlingException HTTP 400', () => ({ kind: 'failCall', status: 400, type: 'KMSThrottlingException' })],
        ['InternalFailure for every record', 'outage', 'InternalFailure', () => ({ kind: 'failRecords', indexes: () => true, errorCode: 'InternalFailure' })],
        ['a 500 InternalFailure call', 'outage', 'InternalFailure HTTP 500', () => ({ kind: 'failCall', status: 500, type: 'InternalFailure' })],
        ['a 503 ServiceUnavailable call', 'outage', 'ServiceUnavailable HTTP 503', () => ({ kind: 'failCall', status: 503, type: 'ServiceUnavailable' })],
        ['a reset connection', 'outage', NETWORK, () => ({ kind: 'reset' })],
        // Throttling and failures in the last attempt: slowing down is what helps.
        ['throttled and failed records mixed', 'throttled', 'InternalFailure, ProvisionedThroughputExceededException',
          () => ({ kind: 'failRecords', indexes: () => true, errorCode: (i) => (i % 2 === 0 ? 'InternalFailure' : 'ProvisionedThroughputExceededException') })],
      ];
      test.each(cases)('%s: retried until the attempts run out, then %s', async (_name, reason, causeCode, plan) => {
        const stream = await newStream();
        proxy.plan = plan;
        const failure = await writer(stream, { maxAttempts: 3 }).write(records(4, (i) => `evt-${i}`)).catch((e: unknown) => e) as StreamWriteFailure;
        expect(failure).toBeInstanceOf(StreamWriteFailure);
        expect([failure.reason, failure.causeCode, failure.report.calls, failure.unwritten.length]).toEqual([reason, causeCode, 3, 4]);
        expect(failure.message).toBe(`PutRecords ${reason} (${failure.causeCode}): 4 record(s) not written`);
      });

      test.each(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND'])('a network error (%s) is an outage, named by its code', async (code) => {
        // What the SDK throws in the Lambda runtime: Node's error, with its code and the SDK's $metadata.
        const client = { send: async () => { throw Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code, $metadata: { attempts: 1 } }); } };
        const failure = await new KinesisWriter(client as never, { streamName: 's', maxAttempts: 2, retryBudgetMs: 1000, baseDelayMs: 1, maxDelayMs: 1 })
          .write(records(1, () => 'k')).catch((e: unknown) => e) as StreamWriteFailure;
        expect([failure.reason, failure.causeCode, failure.report.calls]).toEqual(['outage', code, 2]);
      });

      test.each([
        ['access denied', 'AccessDeniedException'],
        ['a disabled KMS key', 'KMSDisabledException'],
        ['a denied KMS key', 'KMSAccessDeniedException'],
      ])('%s: misconfigured at once, no retry', async (_name, type) => {
        const stream = await newStream();
        proxy.plan = () => ({ kind: 'failCall', status: 400, type });
        const failure = await writer(stream).write(records(2, (i) => `evt-${i}`)).catch((e: unknown) => e) as StreamWriteFailure;
        expect([failure.reason, failure.causeCode, failure.report.calls]).toEqual(['misconfigured', `${type} HTTP 400`, 1]);
      });

      test('records written before an outage stay written, and only the others are named unwritten', async () => {
        const stream = await newStream();
        // GIVEN the first call writes every other record, and Kinesis then fails every record
        proxy.plan = (call): PutRecordsFault => ({ kind: 'failRecords', indexes: call === 0 ? (i) => i % 2 === 1 : () => true, errorCode: 'InternalFailure' });
        const sent = records(10, (i) => `evt-${i}`);
        const failure = await writer(stream, { maxAttempts: 3 }).write(sent).catch((e: unknown) => e) as StreamWriteFailure;
        expect([failure.reason, failure.report.written]).toEqual(['outage', 5]);
        expect(failure.unwritten.map(seqOf)).toEqual([1, 3, 5, 7, 9]);
        await expectInStreamInOrder(stream, sent, new Set([0, 2, 4, 6, 8]));
      });

      test('a call that outlasts the client\'s request timeout is an outage (TimeoutError), retried', async () => {
        const stream = await newStream();
        proxy.plan = (call): PutRecordsFault => (call === 0 ? { kind: 'delay', ms: 1_000 } : { kind: 'failCall', status: 500, type: 'InternalFailure' });
        // As the deployed handler builds it: a request timeout that throws, rather than only warning.
        const client = new KinesisClient({
          endpoint: proxy.endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1,
          requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 200, throwOnRequestTimeout: true }),
        });
        const failure = await new KinesisWriter(client, { streamName: stream, maxAttempts: 1, retryBudgetMs: 5000 })
          .write(records(2, (i) => `evt-${i}`)).catch((e: unknown) => e) as StreamWriteFailure;
        expect([failure.reason, failure.causeCode]).toEqual(['outage', 'TimeoutError ETIMEDOUT']);
        client.destroy();
      });
    });

    test('stops retrying when the time budget is spent, before maxAttempts', async () => {
      const stream = await newStream();
      proxy.plan = () => ({ kind: 'throttleRecords', indexes: () => true });
      let clock = 0;
      const failure = await writer(stream, {
        maxAttempts: 20,
        retryBudgetMs: 1000,
        baseDelayMs: 200,
        maxDelayMs: 400,
        random: () => 1,
        now: () => clock,
        sleep: async (ms) => { clock += ms; },
      }).write(records(5, (i) => `evt-${i}`)).catch((e: unknown) => e) as StreamWriteFailure;
      // Delays of 200, 400, 400 fit in 1,000 ms; the next would not.
      expect(failure.reason).toBe('throttled');
      expect(failure.report.calls).toBe(4);
      expect(clock).toBe(1000);
    });
  });

  test('starts no call after the write deadline, even without throttling, so API Gateway never times out', async () => {
    const stream = await newStream();
    let clock = 0;
    // Every call takes 3 s; with a 10 s deadline the 5th call would start at 12 s.
    const slow = { send: async (command: unknown) => { clock += 3000; return kinesis.client.send(command as never); } };
    const sent = records(3000, (i) => `evt-${i}`);
    const failure = await new KinesisWriter(slow as never, {
      streamName: stream, maxAttempts: 3, retryBudgetMs: 1000, writeDeadlineMs: 10_000, now: () => clock,
    }).write(sent).catch((e: unknown) => e) as StreamWriteFailure;
    expect(failure).toBeInstanceOf(StreamWriteFailure);
    // Slow, not throttling: an outage (a 503), named as the deadline.
    expect([failure.reason, failure.causeCode]).toEqual(['outage', 'WriteDeadline']);
    expect(failure.report).toEqual({ written: 2000, calls: 4, retried: 0 });
    expect(failure.unwritten.map(seqOf)).toEqual(sent.slice(2000).map(seqOf));
    expect(await kinesis.readAll(stream)).toHaveLength(2000);
  });

  test('fails as an outage, naming ECONNREFUSED, when nothing listens at the endpoint', async () => {
    const closed = await LocalKinesis.start();
    const endpoint = closed.endpoint;
    await closed.stop();
    const failure = await new KinesisWriter(clientFor(endpoint), { streamName: 'any', maxAttempts: 2, retryBudgetMs: 1000, baseDelayMs: 1, maxDelayMs: 2 })
      .write(records(3, (i) => `k${i}`)).catch((e: unknown) => e) as StreamWriteFailure;
    // Under jest the SDK wraps Node's error without its code (see above); deployed, it is ECONNREFUSED.
    expect([failure.reason, failure.causeCode, failure.report.calls, failure.unwritten.length]).toEqual(['outage', expect.stringMatching(/^(ECONNREFUSED|Error)$/), 2, 3]);
  });

  test('fails as misconfigured at once when the stream does not exist', async () => {
    const failure = await new KinesisWriter(kinesis.client, { streamName: 'no-such-stream', maxAttempts: 5, retryBudgetMs: 5000 })
      .write(records(3, (i) => `k${i}`)).catch((e: unknown) => e) as StreamWriteFailure;
    expect(failure).toBeInstanceOf(StreamWriteFailure);
    expect([failure.reason, failure.causeCode]).toEqual(['misconfigured', 'ResourceNotFoundException HTTP 400']);
    expect(failure.report.calls).toBe(1);
    expect(failure.unwritten).toHaveLength(3);
    expect((failure.cause as Error).name).toBe('ResourceNotFoundException');
  });
});
