import type { IngestConfig } from '../../../lambda/ingest/config';
import type { PayloadRef } from '../../../lambda/ingest/claim-check';
import { buildRecords, isoTime, toIsoTimestamp, toPartitionKey, type EventCheck, type PayloadStore } from '../../../lambda/ingest/envelope';
import { PayloadTooLargeError } from '../../../lambda/common/errors';
import { fromApiGatewayEvent } from '../../../lambda/common/http';
import { parseBody } from '../../../lambda/common/parse';
import { WebhookAuth } from '../../../lib';
import { ingestConfig } from '../../support/presets';
import { apiGatewayEvent } from '../../support/signers';

const RECEIVED = Date.UTC(2026, 10, 23, 12, 0, 0);

async function build(config: IngestConfig, body: string, headers: Record<string, string> = {}) {
  const request = fromApiGatewayEvent(apiGatewayEvent(body, {
    headers: { 'content-type': 'application/json', ...headers },
    requestTimeEpoch: RECEIVED,
  }), 0);
  return buildRecords(config, request, parseBody(request, config.maxBatchRecords), 'corr-1');
}

describe('buildRecords', () => {
  test('a Stripe event becomes the envelope the README shows', async () => {
    const config = ingestConfig((s) => WebhookAuth.stripe(s), { source: 'stripe' });
    const body = '{"id":"evt_1","object":"event","type":"invoice.paid","created":1767225600,"data":{"object":{"id":"in_1"}}}';
    const { records, ignored } = await build(config, body, { 'user-agent': 'Stripe/1.0', 'stripe-signature': 't=1,v1=00', cookie: 'a=b' });

    expect(ignored).toBe(0);
    expect(records).toHaveLength(1);
    expect(records[0].partitionKey).toBe('evt_1');
    expect(JSON.parse(records[0].data.toString('utf8'))).toEqual({
      id: 'evt_1',
      type: 'invoice.paid',
      timestamp: '2026-01-01T00:00:00.000Z',
      account: null,
      source: 'stripe',
      receivedAt: '2026-11-23T12:00:00.000Z',
      correlationId: 'corr-1',
      headers: { 'user-agent': 'Stripe/1.0' },
      contentType: 'application/json',
      payload: JSON.parse(body),
    });
  });

  test('a Stripe Connect event carries its connected account', async () => {
    const config = ingestConfig((s) => WebhookAuth.stripe(s));
    const { records } = await build(config, '{"id":"evt_c","type":"payout.paid","account":"acct_1032D82eZvKYlo2C","created":1767225600}');
    expect(records[0].envelope.account).toBe('acct_1032D82eZvKYlo2C');
  });

  test('routes send some event types to other streams; the rest go to the source stream', async () => {
    const config = ingestConfig((s) => WebhookAuth.segment(s), {
      streamName: 'all',
      routes: [{ eventTypes: ['track'], streamName: 'tracks' }, { eventTypes: ['identify', 'track'], streamName: 'people' }],
    });
    const { records } = await build(config, '[{"type":"track","messageId":"m1"},{"type":"identify","messageId":"m2"},{"type":"page","messageId":"m3"},{"messageId":"m4"}]');
    expect(records.map((r) => [r.envelope.id, r.streamName])).toEqual([['m1', 'tracks'], ['m2', 'people'], ['m3', 'all'], ['m4', 'all']]);
  });

  test('GitHub metadata comes from its headers, and only allowed types are kept', async () => {
    const config = ingestConfig((s) => WebhookAuth.github(s), { allowedEventTypes: ['push'] });
    const headers = { 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958', 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' };
    const kept = await build(config, '{"ref":"refs/heads/main"}', headers);
    expect(kept.records[0].envelope).toMatchObject({ id: '72d3162e-cc78-11e3-81ab-4c9367dc0958', type: 'push', timestamp: null });
    expect(kept.records[0].envelope.headers).toEqual({ 'x-github-delivery': headers['x-github-delivery'], 'x-github-event': 'push' });

    const ignored = await build(config, '{"zen":"Keep it logically awesome."}', { ...headers, 'x-github-event': 'ping' });
    expect(ignored).toEqual({ records: [], ignored: 1, quarantined: 0 });
  });

  test('a header id is suffixed with the index for each event of a batch', async () => {
    const config = ingestConfig((s) => WebhookAuth.github(s));
    const { records } = await build(config, '[{"a":1},{"a":2}]', { 'x-github-delivery': 'd-1', 'x-github-event': 'push' });
    expect(records.map((r) => r.envelope.id)).toEqual(['d-1:0', 'd-1:1']);
  });

  test('without an id field, the id is a stable hash of the event', async () => {
    const config = ingestConfig((s) => WebhookAuth.hmac({ secret: s, signatureHeader: 'x-sig' }));
    const first = (await build(config, '[{"a":1},{"a":2}]')).records.map((r) => r.envelope.id);
    const again = (await build(config, '[{"a":1},{"a":2}]')).records.map((r) => r.envelope.id);
    expect(first).toEqual(again);
    expect(first[0]).not.toEqual(first[1]);
    expect(first[0]).toMatch(/^[0-9a-f]{32}$/);
  });

  test('the partition key comes from its field, falling back to the event id', async () => {
    const config = ingestConfig((s) => WebhookAuth.stripe(s), { partitionKey: { jsonPointer: '/data/object/customer' } });
    const { records } = await build(config, '[{"id":"evt_1","data":{"object":{"customer":"cus_9"}}},{"id":"evt_2","data":{}}]');
    expect(records.map((r) => r.partitionKey)).toEqual(['cus_9', 'evt_2']);
  });

  test('fails with 413 when one event does not fit in a Kinesis record', async () => {
    const config = ingestConfig((s) => WebhookAuth.stripe(s), { maxBodyBytes: 4 * 1024 * 1024 });
    const body = JSON.stringify({ id: 'evt_big', blob: 'x'.repeat(1024 * 1024) });
    await expect(build(config, body)).rejects.toThrow(PayloadTooLargeError);
  });
});

describe('record bytes', () => {
  const config = ingestConfig((s) => WebhookAuth.stripe(s), { source: 'stripe' });
  /** What JSON.stringify of the envelope, payload as parsed, would have written. */
  const restringified = (envelope: unknown) => JSON.parse(JSON.stringify(envelope)) as unknown;

  test('a single JSON event is spliced into its record as the sender\'s bytes, equal to the parsed event', async () => {
    // A byte order mark, CRLF, tabs, escapes, non-ASCII and astral characters, a lone surrogate
    // escape, numbers in non-canonical forms, and whitespace after the object.
    const text = '{\r\n\t"id" : "evt_u",  "type":"invoice.paid",\n  "created": 1767225600,'
      + ' "text": "caf\\u00e9 \\"q\\" \\\\ \\/ \\n \u2028 Größe 😀 \\ud83d\\ude00", "lone": "\\ud800",'
      + ' "n": [1.50, 1e2, 12345678901234567890], "nested": {"a": [ {"b": null}, true, false ] }, "empty": {} }\n ';
    const { records } = await build(config, `\uFEFF${text}`);

    const data = records[0].data;
    expect(data.includes(Buffer.from(text, 'utf8'))).toBe(true);
    const record = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    expect(record).toEqual(restringified(records[0].envelope));
    expect(record.payload).toEqual(JSON.parse(text));
    expect(Object.keys(record)).toEqual(Object.keys(records[0].envelope));
  });

  test('the record keeps the sender\'s number text, which JSON.parse reads as the parsed event has it', async () => {
    // JSON.stringify would write -0 as 0; the spliced bytes keep the -0 the event was parsed with.
    const { records } = await build(config, '{"id":"evt_n","n":-0,"big":12345678901234567890,"f":1.50}');
    expect(records[0].data.toString('utf8')).toContain('"payload":{"id":"evt_n","n":-0,"big":12345678901234567890,"f":1.50}');
    expect((JSON.parse(records[0].data.toString('utf8')) as { payload: unknown }).payload).toEqual(records[0].envelope.payload);
  });

  test('a quarantined event keeps its violations after the spliced payload', async () => {
    const request = fromApiGatewayEvent(apiGatewayEvent(' {"id":"evt_q","type":"x"} ', {
      headers: { 'content-type': 'application/problem+json' },
      requestTimeEpoch: RECEIVED,
    }), 0);
    const quarantine = { reason: 'missing amount', violations: [{ path: '/amount', message: 'is required' }] };
    const { records } = await buildRecords(
      { ...config, quarantineStreamName: 'quarantine' },
      request,
      parseBody(request, config.maxBatchRecords),
      'corr-1',
      undefined,
      () => ({ valid: false, ...quarantine }),
    );
    expect(records[0].data.toString('utf8')).toContain(',"payload": {"id":"evt_q","type":"x"} ,"quarantine":');
    expect(JSON.parse(records[0].data.toString('utf8'))).toEqual(restringified(records[0].envelope));
    expect(records[0].envelope.quarantine).toEqual(quarantine);
  });

  test('events of a batch are each serialized from the parsed element', async () => {
    const { records } = await build(config, '[ {"id":"evt_1", "n": 1.0},\n {"id":"evt_2"} ]');
    expect(records.map((r) => r.data.toString('utf8'))).toEqual(records.map((r) => JSON.stringify(r.envelope)));
  });

  test('an element of a batch is written as JSON.stringify writes it: numbers, escapes and index-like keys change', async () => {
    // GIVEN a batch element as the README's "What a record keeps of the JSON" describes it
    const { records } = await build(config, '[ {"id":"evt_b", "b":1, "1":2, "__proto__":{"x":1}, "n":[1.50, -0, 1e2, 12345678901234567890], "s":"\\u00e9\\/\\ud800"} ]');
    // THEN its payload is re-serialized from the parsed element
    expect(records[0].data.toString('utf8')).toContain('"payload":{"1":2,"id":"evt_b","b":1,"__proto__":{"x":1},"n":[1.5,0,100,12345678901234567000],"s":"é/\\ud800"}');
  });

  test('an event that fits a record only without the sender\'s whitespace is written compactly', async () => {
    const big = { id: 'evt_ws', blob: 'x'.repeat(1000 * 1000) };
    const body = JSON.stringify(big).replace('{', `{${' '.repeat(100 * 1000)}`);
    const { records } = await build({ ...config, maxBodyBytes: 2 * 1024 * 1024 }, body);
    expect(records[0].data.toString('utf8')).toBe(JSON.stringify(records[0].envelope));
  });
});

describe('record bytes, byte for byte', () => {
  /** Unusual strings: quotes, backslashes, controls, U+2028, non-ASCII, astral and lone surrogates. */
  const ODD = 'q"\\ \u0001\t\u2028 é 😀 \ud800 <\u007f>';

  /** A compact body: its bytes are what JSON.stringify writes for the parsed event. */
  async function recordsOf(config: IngestConfig, event: unknown, headers: Record<string, string>, options: { contentType?: string; store?: PayloadStore; check?: EventCheck } = {}) {
    const request = fromApiGatewayEvent(apiGatewayEvent(JSON.stringify(event), {
      headers: { 'content-type': options.contentType ?? 'application/json', ...headers },
      requestTimeEpoch: RECEIVED,
    }), 0);
    return (await buildRecords(config, request, parseBody(request, config.maxBatchRecords), `corr-${ODD}`, options.store, options.check)).records;
  }

  test('a spliced record is exactly JSON.stringify of its envelope, whatever the strings hold', async () => {
    // GIVEN odd strings in the id, type, account, source, a forwarded header and the content type
    const config = ingestConfig((s) => WebhookAuth.stripe(s), { source: `src ${ODD}`, headerAllowlist: ['user-agent', 'x-odd', 'x-absent'] });
    const event = { id: `evt ${ODD}`, type: `type ${ODD}`, account: `acct ${ODD}`, created: '2026-01-01T00:00:00Z', data: { text: ODD } };
    // WHEN it is built
    const records = await recordsOf(config, event, { 'user-agent': `UA ${ODD}`, 'X-Odd': ODD }, { contentType: 'application/vnd.odd+json; charset=utf-8' });
    // THEN its bytes are the straightforward serialization of the envelope
    expect(records[0].envelope.headers).toEqual({ 'user-agent': `UA ${ODD}`, 'x-odd': ODD });
    expect(records[0].data.equals(Buffer.from(JSON.stringify(records[0].envelope), 'utf8'))).toBe(true);
  });

  test('forwarded headers are written as JSON.stringify orders them: plain and escaped values, repeats joined, an index-like name first', async () => {
    // GIVEN an allowlist whose last name is an array index, which JSON.stringify writes first
    const config = ingestConfig((s) => WebhookAuth.stripe(s), { headerAllowlist: ['user-agent', 'x-repeated', 'x-quoted', '7'] });
    const request = fromApiGatewayEvent({
      ...apiGatewayEvent('{"id":"evt_1"}', { headers: { 'content-type': 'application/json' }, requestTimeEpoch: RECEIVED }),
      multiValueHeaders: { 'content-type': ['application/json'], 'User-Agent': ['Stripe/1.0 (+https://stripe.com)'], 'X-Repeated': ['a', 'b'], 'X-Quoted': ['say "hi" \\ é'], '7': ['seven'] },
    }, 0);
    const [record] = (await buildRecords(config, request, parseBody(request, config.maxBatchRecords), 'corr-1')).records;
    // THEN the record holds them as the envelope's JSON does
    expect(record.envelope.headers).toEqual({ '7': 'seven', 'user-agent': 'Stripe/1.0 (+https://stripe.com)', 'x-repeated': 'a, b', 'x-quoted': 'say "hi" \\ é' });
    expect(record.data.toString('utf8')).toBe(JSON.stringify(record.envelope));
    expect(record.data.toString('utf8')).toContain('"headers":{"7":"seven","user-agent":');
    // AND without the index-like name, the same headers in allowlist order
    const plain = { ...config, headerAllowlist: ['x-quoted', 'x-repeated', 'user-agent'] };
    const [other] = (await buildRecords(plain, request, parseBody(request, plain.maxBatchRecords), 'corr-1')).records;
    expect(other.data.toString('utf8')).toBe(JSON.stringify(other.envelope));
    expect(other.data.toString('utf8')).toContain('"headers":{"x-quoted":"say \\"hi\\" \\\\ é","x-repeated":"a, b","user-agent":"Stripe/1.0 (+https://stripe.com)"}');
  });

  test('without an account field, with no forwarded header and with a null type and timestamp, the bytes match too', async () => {
    const config = ingestConfig((s) => WebhookAuth.hmac({ secret: s, signatureHeader: 'x-sig' }), { metadata: { id: { jsonPointer: '/i~1d' } } });
    const records = await recordsOf(config, { 'i/d': `x ${ODD}`, n: 1 }, {});
    expect(records[0].envelope).not.toHaveProperty('account');
    expect(records[0].envelope.headers).toEqual({});
    expect(records[0].data.toString('utf8')).toBe(JSON.stringify(records[0].envelope));
  });

  test('a quarantined record and the records of a batch are exactly JSON.stringify of their envelopes', async () => {
    const config = ingestConfig((s) => WebhookAuth.stripe(s), { quarantineStreamName: 'quarantine' });
    const quarantine = { reason: `bad ${ODD}`, violations: [{ path: `/${ODD}`, message: ODD }] };
    const records = await recordsOf(config, [{ id: 'evt_1', type: ODD }, { id: ODD }], {}, { check: () => ({ valid: false, ...quarantine }) });
    expect(records).toHaveLength(2);
    for (const record of records) expect(record.data.toString('utf8')).toBe(JSON.stringify(record.envelope));
    expect(records.map((r) => r.streamName)).toEqual(['quarantine', 'quarantine']);
  });

  test('a claim-checked record is exactly JSON.stringify of its envelope, which carries the reference and no payload', async () => {
    const config = ingestConfig((s) => WebhookAuth.stripe(s), { maxBodyBytes: 4 * 1024 * 1024 });
    const store: PayloadStore = { put: async () => ({ bucket: 'b', key: `k ${ODD}`, sha256: '00', size: 1, contentType: 'application/json' }) satisfies PayloadRef };
    const records = await recordsOf(config, { id: `evt ${ODD}`, blob: 'x'.repeat(1024 * 1024) }, { 'user-agent': ODD }, { store });
    expect(records[0].envelope).not.toHaveProperty('payload');
    expect(records[0].data.toString('utf8')).toBe(JSON.stringify(records[0].envelope));
  });
});

describe('helpers', () => {
  test('toIsoTimestamp reads seconds, milliseconds and ISO strings', async () => {
    expect(toIsoTimestamp(1767225600)).toBe('2026-01-01T00:00:00.000Z');
    expect(toIsoTimestamp(1767225600123)).toBe('2026-01-01T00:00:00.123Z');
    expect(toIsoTimestamp('1767225600')).toBe('2026-01-01T00:00:00.000Z');
    expect(toIsoTimestamp('2026-01-01T01:00:00+01:00')).toBe('2026-01-01T00:00:00.000Z');
    expect(toIsoTimestamp('yesterday')).toBeNull();
    expect(toIsoTimestamp(undefined)).toBeNull();
  });

  test('isoTime writes what Date#toISOString writes, second after second and across the range of dates', () => {
    // GIVEN times in the same second and in others, fractions, negatives, extended years and the range's ends
    const base = Date.UTC(2026, 10, 23, 12, 0, 0);
    const times = [base, base + 1, base + 9, base + 10, base + 99, base + 100, base + 999, base + 1000, base + 0.9, base - 0.5, base + 1000 + 37,
      0, -0, 1, -1, -999, -1000, -1001, -0.5, 0.5, 1e11, -62198755200000, -62198755200001, 253402300799999, 253402300800000,
      8.64e15, -8.64e15, 8.64e15 - 1, -8.64e15 + 0.5];
    for (let i = 0; i < 500; i++) times.push(Math.round((Math.sin(i) * 8.64e15)) + (i % 7) / 3);
    // THEN each one reads as the Date would write it
    for (const ms of times) expect([ms, isoTime(ms)]).toEqual([ms, new Date(ms).toISOString()]);
    // AND a time that is no date is null
    for (const ms of [8.64e15 + 1, -8.64e15 - 1, NaN, Infinity, -Infinity]) expect(isoTime(ms)).toBeNull();
  });

  test('toPartitionKey hashes keys longer than 256 characters', async () => {
    expect(toPartitionKey('k'.repeat(256))).toBe('k'.repeat(256));
    const long = toPartitionKey('k'.repeat(257));
    expect(long).toMatch(/^[0-9a-f]{32}$/);
    expect(toPartitionKey('k'.repeat(257))).toBe(long);
  });
});
