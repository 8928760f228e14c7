import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { ClaimCheckStore, claimCheckKey, encodeKeySegment } from '../../../lambda/ingest/claim-check';
import { DependencyUnavailableError } from '../../../lambda/common/errors';
import { LocalS3, s3ClientFor, unusedEndpoint } from '../../support/s3rver';
import { failure } from '../../support/failure';

const PREFIX = 'payloads/';
const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sha256Base64 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');

/** What a key segment may hold: letters, digits and `_ - . !`, never starting with a dot. */
const SAFE_SEGMENT = /^[A-Za-z0-9_!-][A-Za-z0-9_.!-]*$/;

let s3: LocalS3;

beforeAll(async () => {
  s3 = await LocalS3.start();
});

afterAll(async () => {
  await s3?.stop();
});

beforeEach(() => {
  s3.requests.length = 0;
  s3.tamper = undefined;
});

async function getObject(key: string): Promise<{ bytes: Buffer; contentType?: string }> {
  const answer = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return { bytes: Buffer.from(await answer.Body!.transformToByteArray()), contentType: answer.ContentType };
}

async function keysUnder(prefix: string): Promise<string[]> {
  const answer = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (answer.Contents ?? []).map((object) => object.Key!);
}

describe('ClaimCheckStore', () => {
  test('put stores the exact bytes and content type, and GetObject returns them', async () => {
    // GIVEN bytes that are not UTF-8, with CRLFs
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0xc3, 0x28, 0x7b, 0x7d]);

    // WHEN
    const ref = await store.put(bytes, { source: 'stripe', eventId: 'evt_1', contentType: 'application/pdf' });

    // THEN
    expect(ref).toEqual({ bucket: s3.bucket, key: 'payloads/stripe/evt_1/payload', size: bytes.length, sha256: sha256Hex(bytes), contentType: 'application/pdf' });
    expect(await getObject(ref.key)).toEqual({ bytes, contentType: 'application/pdf' });
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: ref.key }));
    expect(head.ContentLength).toBe(bytes.length);
    expect(head.ETag).toBe(`"${createHash('md5').update(bytes).digest('hex')}"`);
  });

  test('put sends the SHA-256 checksum and asks for SSE-S3 (AES256)', async () => {
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    const bytes = Buffer.from('{"large":true}');

    await store.put(bytes, { source: 'stripe', eventId: 'evt_sse_s3', contentType: 'application/json' });

    const [put] = s3.requests.filter((r) => r.method === 'PUT');
    expect(put.headers['x-amz-checksum-sha256']).toBe(sha256Base64(bytes));
    expect(put.headers['x-amz-server-side-encryption']).toBe('AES256');
    expect(put.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBeUndefined();
    expect(put.headers['content-type']).toBe('application/json');
    expect(put.body).toEqual(bytes);
  });

  test('with a KMS key id, put asks for SSE-KMS with that key', async () => {
    const kmsKeyId = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX, kmsKeyId });

    await store.put(Buffer.from('x'), { source: 'stripe', eventId: 'evt_kms', contentType: 'text/plain' });

    const [put] = s3.requests.filter((r) => r.method === 'PUT');
    expect(put.headers['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(put.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(kmsKeyId);
  });

  test('a sha256 read earlier is what is sent and returned', async () => {
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    const bytes = Buffer.from([1, 2, 3]);

    const ref = await store.put(bytes, { source: 'forms', eventId: 'evt_2', contentType: 'image/png', sha256: sha256Hex(bytes).toUpperCase(), index: 0 });

    expect(ref.sha256).toBe(sha256Hex(bytes));
    expect(s3.requests.find((r) => r.method === 'PUT')?.headers['x-amz-checksum-sha256']).toBe(sha256Base64(bytes));
  });

  test('the same event gets the same key, so a redelivery overwrites its object', async () => {
    // GIVEN
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    const meta = { source: 'github', eventId: '72d3162e-cc78-11e3-81ab-4c9367dc0958', contentType: 'application/json', index: 3 };

    // WHEN the event is delivered twice
    const first = await store.put(Buffer.from('first'), meta);
    const second = await store.put(Buffer.from('second'), meta);

    // THEN there is one object, holding the latest delivery
    expect(second.key).toBe(first.key);
    expect(first.key).toBe('payloads/github/72d3162e-cc78-11e3-81ab-4c9367dc0958/3');
    expect(await keysUnder('payloads/github/')).toEqual([first.key]);
    expect((await getObject(first.key)).bytes.toString()).toBe('second');
    expect(claimCheckKey(PREFIX, meta.source, meta.eventId, 3)).toBe(first.key);
    expect(claimCheckKey(PREFIX, meta.source, meta.eventId, 4)).not.toBe(first.key);
    expect(claimCheckKey(PREFIX, meta.source, meta.eventId)).toBe('payloads/github/72d3162e-cc78-11e3-81ab-4c9367dc0958/payload');
  });

  test.each([
    ['slashes', 'a/b/c', 'a!2Fb!2Fc'],
    ['a path that climbs', '../../etc/passwd', '!2E.!2F..!2Fetc!2Fpasswd'],
    ['a dot-dot', '..', '!2E.'],
    ['a dot', '.', '!2E'],
    ['spaces', 'evt 1 ', 'evt!201!20'],
    ['unicode', 'ünï🎉', '!C3!BCn!C3!AF!F0!9F!8E!89'],
    ['percent-encoding', 'a%2Fb', 'a!252Fb'],
    ['the escape character', 'x!21', 'x!2121'],
    ['a lone surrogate', 'a\uD800b', 'a!uD800b'],
    ['a 1000-character id', 'x'.repeat(1000), `!h${createHash('sha256').update('x'.repeat(1000)).digest('hex')}`],
  ])('an id with %s becomes one safe segment and round-trips through S3', async (_name, eventId, segment) => {
    // GIVEN
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    const bytes = Buffer.from(`payload of ${eventId}`);

    // WHEN
    const ref = await store.put(bytes, { source: 'awkward', eventId, contentType: 'text/plain' });

    // THEN
    expect(ref.key).toBe(`payloads/awkward/${segment}/payload`);
    expect(segment).toMatch(SAFE_SEGMENT);
    expect((await getObject(ref.key)).bytes).toEqual(bytes);
    expect(await keysUnder(`payloads/awkward/${segment}/`)).toEqual([ref.key]);
  });

  test('different ids never share a key segment, and every segment is safe', () => {
    const anyCodeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)), minLength: 1, maxLength: 80 });
    const anyText = fc.oneof(anyCodeUnits, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 250 }));
    fc.assert(fc.property(anyText, anyText, (a, b) => {
      const [ea, eb] = [encodeKeySegment(a), encodeKeySegment(b)];
      expect(ea).toMatch(SAFE_SEGMENT);
      expect(ea.length).toBeLessThanOrEqual(200);
      expect(a === b).toBe(ea === eb);
    }), { numRuns: 2000 });
  });

  test('fails with 503 when S3 finds that the bytes are not the ones the sha256 was read from', async () => {
    // GIVEN a sha256 that belongs to other bytes
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    const meta = { source: 'forms', eventId: 'evt_bad_digest', contentType: 'text/plain', sha256: sha256Hex(Buffer.from('what was read')) };

    // WHEN
    const error = await failure(store.put(Buffer.from('what is sent'), meta));

    // THEN S3 refused it, and nothing was stored
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).statusCode).toBe(503);
    expect(error.message).toMatch(/the payload bucket is unavailable/);
    expect((error.cause as Error).name).toBe('BadDigest');
    expect(await keysUnder('payloads/forms/evt_bad_digest/')).toEqual([]);
  });

  test('fails with 503 when the bytes change on the way to S3', async () => {
    // GIVEN a network that flips a bit
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    s3.tamper = (body) => Buffer.concat([Buffer.from([body[0] ^ 1]), body.subarray(1)]);

    // WHEN
    const error = await failure(store.put(Buffer.from('the real payload'), { source: 'forms', eventId: 'evt_tampered', contentType: 'text/plain' }));

    // THEN
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error.cause as Error).name).toBe('BadDigest');
    s3.tamper = undefined;
    expect(await keysUnder('payloads/forms/evt_tampered/')).toEqual([]);
  });

  test('fails with 503 when the endpoint is unreachable, without quoting the payload or the id', async () => {
    const client = s3ClientFor(await unusedEndpoint());
    const store = new ClaimCheckStore(client, { bucket: s3.bucket, prefix: PREFIX });
    try {
      const error = await failure(store.put(Buffer.from('card=tok_live_secret'), { source: 'forms', eventId: 'evt_private', contentType: 'text/plain' }));
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect((error as DependencyUnavailableError).statusCode).toBe(503);
      expect(error.message).not.toMatch(/tok_live_secret|evt_private/);
    } finally {
      client.destroy();
    }
  });

  test('fails with 503 when the bucket does not exist', async () => {
    const store = new ClaimCheckStore(s3.client, { bucket: 'no-such-bucket', prefix: PREFIX });
    const error = await failure(store.put(Buffer.from('x'), { source: 'forms', eventId: 'evt_3', contentType: 'text/plain' }));
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error.cause as Error).name).toBe('NoSuchBucket');
  });

  test.each([
    ['has a line break', 'text/plain\r\nX-Injected: 1'],
    ['is not ASCII', 'text/plaîn'],
    ['is not a media type', 'pdf'],
    ['is empty', ''],
  ])('a Content-Type that %s is stored as application/octet-stream', async (_name, contentType) => {
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    const ref = await store.put(Buffer.from('x'), { source: 'forms', eventId: 'evt_ct', contentType });
    expect(ref.contentType).toBe('application/octet-stream');
    expect((await getObject(ref.key)).contentType).toBe('application/octet-stream');
  });

  test.each([
    ['the prefix does not end with /', { bucket: 'b', prefix: 'payloads' }, /prefix must be empty or end with '\/'/],
    ['the prefix starts with /', { bucket: 'b', prefix: '/payloads/' }, /must not start with '\/'/],
    ['the bucket is empty', { bucket: '', prefix: '' }, /bucket must not be empty/],
  ])('fails when %s', (_name, options, message) => {
    expect(() => new ClaimCheckStore(s3.client, options)).toThrow(message);
  });

  test.each([
    ['the sha256 is not 64 hex digits', { sha256: 'abc' }, /sha256 must be 64 hex digits/],
    ['the index is negative', { index: -1 }, /index must be a non-negative integer/],
    ['the index is not an integer', { index: 1.5 }, /index must be a non-negative integer/],
    ['the event id is empty', { eventId: '' }, /must not be empty/],
  ])('fails before calling S3 when %s', async (_name, override, message) => {
    const store = new ClaimCheckStore(s3.client, { bucket: s3.bucket, prefix: PREFIX });
    await expect(store.put(Buffer.from('x'), { source: 'forms', eventId: 'evt_4', contentType: 'text/plain', ...override })).rejects.toThrow(message);
    expect(s3.requests).toEqual([]);
  });
});
