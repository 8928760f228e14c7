import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { MalformedPayloadError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../../lambda/common/errors';
import { parseMultipart, type MultipartLimits } from '../../../lambda/ingest/multipart';
import { failure } from '../../support/failure';

// A tiny multipart/form-data writer, so that every byte of each test body is visible here.

const BOUNDARY = '----cdkWebhookIngress7MA4YWxk';
const CONTENT_TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

interface FieldPart {
  readonly name: string;
  readonly value: string | Buffer;
  /** Extra header lines, sent as they are. */
  readonly headers?: readonly string[];
}

interface FilePart {
  readonly name: string;
  readonly filename: string;
  readonly bytes: Buffer;
  readonly contentType?: string;
}

type Part = FieldPart | FilePart;

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function partBytes(part: Part): Buffer {
  const lines = [`Content-Disposition: form-data; name=${quote(part.name)}${'filename' in part ? `; filename=${quote(part.filename)}` : ''}`];
  if ('filename' in part && part.contentType !== undefined) lines.push(`Content-Type: ${part.contentType}`);
  if ('headers' in part && part.headers !== undefined) lines.push(...part.headers);
  const content = 'bytes' in part ? part.bytes : Buffer.isBuffer(part.value) ? part.value : Buffer.from(part.value, 'utf8');
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), content]);
}

/** A body made of raw parts (each the headers, a blank line and the content), delimited by the boundary. */
function rawBody(parts: readonly Buffer[], boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) chunks.push(Buffer.from(`--${boundary}\r\n`), part, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function build(parts: readonly Part[], boundary = BOUNDARY): Buffer {
  return rawBody(parts.map(partBytes), boundary);
}

const LIMITS: MultipartLimits = {
  maxParts: 50,
  maxFields: 40,
  maxFieldBytes: 1024,
  maxFiles: 10,
  maxFileBytes: 64 * 1024,
  maxTotalFileBytes: 256 * 1024,
};

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('parseMultipart', () => {
  test('fields and files are read exactly, binary bytes included', async () => {
    // GIVEN bytes that are not UTF-8, CRLFs, and something that looks like a boundary but is not one
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x2d, 0x2d, 0x0d, 0x0a, 0x80, 0xc3, 0x28, 0x0d, 0x0a]);
    const almostBoundary = Buffer.from(`\r\n--${BOUNDARY.slice(0, -1)}\r\n`, 'latin1');
    const body = build([
      { name: 'event', value: 'invoice.paid' },
      { name: 'note', value: 'héllo\r\nwörld ✓' },
      { name: 'scan', filename: 'scan.png', contentType: 'image/png', bytes: binary },
      { name: 'log', filename: 'log.txt', contentType: 'Text/Plain; charset=utf-8', bytes: almostBoundary },
      { name: 'empty', value: '' },
      { name: 'say "hi" \\ there', value: 'quoted' },
    ]);

    // WHEN
    const parsed = await parseMultipart(body, CONTENT_TYPE, LIMITS);

    // THEN
    expect(parsed.fields).toEqual({ event: 'invoice.paid', note: 'héllo\r\nwörld ✓', empty: '', 'say "hi" \\ there': 'quoted' });
    expect(parsed.files).toEqual([
      { fieldName: 'scan', filename: 'scan.png', contentType: 'image/png', bytes: binary, sha256: sha256(binary) },
      { fieldName: 'log', filename: 'log.txt', contentType: 'text/plain', bytes: almostBoundary, sha256: sha256(almostBoundary) },
    ]);
  });

  test('a repeated field name becomes an array of its values, in order', async () => {
    const body = build([
      { name: 'tag', value: 'a' },
      { name: 'id', value: '1' },
      { name: 'tag', value: 'b' },
      { name: 'tag', value: 'c' },
    ]);
    expect((await parseMultipart(body, CONTENT_TYPE, LIMITS)).fields).toEqual({ tag: ['a', 'b', 'c'], id: '1' });
  });

  test('a field named __proto__ is a field, not the prototype', async () => {
    const parsed = await parseMultipart(build([{ name: '__proto__', value: 'x' }, { name: 'constructor', value: 'y' }]), CONTENT_TYPE, LIMITS);
    expect(Object.keys(parsed.fields)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(parsed.fields)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(parsed.fields))).toEqual(JSON.parse('{"__proto__":"x","constructor":"y"}'));
  });

  test('a file without Content-Type is text/plain (RFC 7578), and a path in the filename is dropped', async () => {
    const bytes = Buffer.from('a,b\r\n1,2\r\n');
    const parsed = await parseMultipart(build([{ name: 'f', filename: 'C:\\Users\\me\\..\\data.csv', bytes }]), CONTENT_TYPE, LIMITS);
    expect(parsed.files).toEqual([{ fieldName: 'f', filename: 'data.csv', contentType: 'text/plain', bytes, sha256: sha256(bytes) }]);
  });

  test('an application/octet-stream part without a filename is a file with no filename', async () => {
    const bytes = Buffer.from([1, 2, 3]);
    const body = build([{ name: 'blob', value: bytes, headers: ['Content-Type: application/octet-stream'] }]);
    const parsed = await parseMultipart(body, CONTENT_TYPE, LIMITS);
    expect(parsed.fields).toEqual({});
    expect(parsed.files).toEqual([{ fieldName: 'blob', filename: undefined, contentType: 'application/octet-stream', bytes, sha256: sha256(bytes) }]);
  });

  test('a quoted boundary, other parameters, a preamble and an epilogue are fine; an empty form is empty', async () => {
    const boundary = "it's (a) boundary: =?";
    const body = Buffer.concat([Buffer.from('preamble to ignore\r\n'), build([{ name: 'a', value: '1' }], boundary), Buffer.from('epilogue')]);
    expect((await parseMultipart(body, `Multipart/Form-Data; charset=utf-8; BOUNDARY="${boundary}"`, LIMITS)).fields).toEqual({ a: '1' });
    expect(await parseMultipart(build([]), CONTENT_TYPE, LIMITS)).toEqual({ fields: {}, files: [] });
  });

  test('a field that declares charset ISO-8859-1 is transcoded', async () => {
    const body = build([{ name: 'city', value: Buffer.from([0x4d, 0xfc, 0x6e, 0x73, 0x74, 0x65, 0x72]), headers: ['Content-Type: text/plain; charset=ISO-8859-1'] }]);
    expect((await parseMultipart(body, CONTENT_TYPE, LIMITS)).fields).toEqual({ city: 'Münster' });
  });

  describe('limits: exactly at a limit passes, one over is a 413 naming it', () => {
    const small: MultipartLimits = { maxParts: 6, maxFields: 4, maxFieldBytes: 8, maxFiles: 3, maxFileBytes: 10, maxTotalFileBytes: 25 };
    const fields = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `f${i}`, value: 'v' }));
    const files = (sizes: number[]) => sizes.map((size, i) => ({ name: `file${i}`, filename: `${i}.bin`, bytes: Buffer.alloc(size, 0x0a) }));

    test.each<[keyof MultipartLimits, Part[], Part[]]>([
      ['maxParts', [...fields(4), ...files([1, 1])], [...fields(4), ...files([1, 1, 1])]],
      ['maxFields', fields(4), fields(5)],
      ['maxFieldBytes', [{ name: 'a', value: '12345678' }], [{ name: 'a', value: '123456789' }]],
      // 'é' is two bytes: 4 of them are 8 bytes, 9 bytes is one too many.
      ['maxFieldBytes', [{ name: 'a', value: 'éééé' }], [{ name: 'a', value: 'éééé1' }]],
      ['maxFiles', files([1, 1, 1]), files([1, 1, 1, 1])],
      ['maxFileBytes', files([10]), files([11])],
      ['maxTotalFileBytes', files([10, 10, 5]), files([10, 10, 6])],
    ])('fails when %s is exceeded', async (limit, atLimit, overLimit) => {
      // GIVEN a body exactly at the limit
      await expect(parseMultipart(build(atLimit), CONTENT_TYPE, small)).resolves.toBeDefined();
      // WHEN one over it
      const error = await failure(parseMultipart(build(overLimit), CONTENT_TYPE, small));
      // THEN
      expect(error).toBeInstanceOf(PayloadTooLargeError);
      expect((error as PayloadTooLargeError).statusCode).toBe(413);
      expect(error.message).toMatch(new RegExp(`\\(limit ${limit}\\)`));
      expect(error.message).toMatch(new RegExp(`than ${small[limit]} `));
    });

    test('fails when there are more parts than maxParts, fields only', async () => {
      // Parts are counted before busboy runs, so a body past maxParts is refused as a whole.
      const error = await failure(parseMultipart(build(fields(7)), CONTENT_TYPE, { ...small, maxFields: 100 }));
      expect(error.message).toMatch(/more than 6 parts \(limit maxParts\)/);
    });

    test('fails when a zero limit is exceeded by a single byte or part', async () => {
      const zero: MultipartLimits = { ...small, maxFiles: 0 };
      await expect(parseMultipart(build(fields(1)), CONTENT_TYPE, zero)).resolves.toBeDefined();
      await expect(parseMultipart(build(files([1])), CONTENT_TYPE, zero)).rejects.toThrow(/limit maxFiles/);
      await expect(parseMultipart(build(files([1])), CONTENT_TYPE, { ...small, maxFileBytes: 0 })).rejects.toThrow(/limit maxFileBytes/);
      await expect(parseMultipart(build(files([0])), CONTENT_TYPE, { ...small, maxFileBytes: 0 })).resolves.toBeDefined();
    });

    test('fails when a limit is not a non-negative integer (a configuration error, not a 4xx)', async () => {
      const error = await failure(parseMultipart(build([]), CONTENT_TYPE, { ...small, maxParts: -1 }));
      expect(error).not.toBeInstanceOf(PayloadTooLargeError);
      expect(error.message).toMatch(/maxParts must be a non-negative integer/);
    });
  });

  test.each([
    ['text/plain', 'text/plain'],
    ['a URL-encoded form', 'application/x-www-form-urlencoded'],
    ['multipart/mixed', `multipart/mixed; boundary=${BOUNDARY}`],
    ['not a media type', 'form-data'],
  ])('fails with 415 when the Content-Type is %s', async (_name, contentType) => {
    await expect(parseMultipart(build([{ name: 'a', value: '1' }]), contentType, LIMITS)).rejects.toThrow(UnsupportedMediaTypeError);
  });

  const ok = partBytes({ name: 'a', value: '1' });
  test.each<[string, string, Buffer, RegExp]>([
    ['there is no boundary', 'multipart/form-data', build([{ name: 'a', value: '1' }]), /has no boundary parameter/],
    ['there are two boundaries', `${CONTENT_TYPE}; boundary=other`, build([{ name: 'a', value: '1' }]), /one boundary parameter/],
    ['the boundary is longer than 70 characters', `multipart/form-data; boundary=${'b'.repeat(71)}`, build([{ name: 'a', value: '1' }], 'b'.repeat(71)), /1 to 70 characters/],
    ['the boundary has a character RFC 2046 does not allow', 'multipart/form-data; boundary="a;b"', build([{ name: 'a', value: '1' }], 'a;b'), /1 to 70 characters/],
    ['the Content-Type parameters are malformed', `${CONTENT_TYPE}; charset`, build([{ name: 'a', value: '1' }]), /malformed parameters/],
    ['the body is empty', CONTENT_TYPE, Buffer.alloc(0), /body is empty/],
    ['the body uses another boundary', CONTENT_TYPE, build([{ name: 'a', value: '1' }], 'another-boundary'), /ends before its closing boundary/],
    ['the final boundary is cut off', CONTENT_TYPE, build([{ name: 'a', value: '1' }]).subarray(0, -4), /ends before its closing boundary/],
    ['the body ends inside a file', CONTENT_TYPE, build([{ name: 'f', filename: 'f.bin', bytes: Buffer.alloc(100, 1) }]).subarray(0, 150), /ends before its closing boundary/],
    ['the body ends inside part headers', CONTENT_TYPE, Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-da`), /ends before its closing boundary/],
    ['the body is garbage', CONTENT_TYPE, Buffer.from('{"this":"is json"}'), /ends before its closing boundary/],
    ['a part has no Content-Disposition', CONTENT_TYPE, rawBody([ok, Buffer.from('Content-Type: text/plain\r\n\r\nsmuggled')]), /without a readable form-data Content-Disposition/],
    ['a part is not form-data', CONTENT_TYPE, rawBody([Buffer.from('Content-Disposition: attachment; name="a"\r\n\r\nx')]), /without a readable form-data Content-Disposition/],
    ['a Content-Disposition is malformed', CONTENT_TYPE, rawBody([Buffer.from('Content-Disposition: form-data; name="a\r\n\r\nx')]), /without a readable form-data Content-Disposition/],
    ['a filename* has an unknown charset', CONTENT_TYPE, rawBody([Buffer.from("Content-Disposition: form-data; name=\"a\"; filename*=x-nope''f.txt\r\n\r\nx")]), /without a readable form-data Content-Disposition/],
    ['a boundary is followed by padding', CONTENT_TYPE, Buffer.from(`--${BOUNDARY}  \r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${BOUNDARY}--`), /without a readable form-data Content-Disposition/],
    ['a part header is malformed', CONTENT_TYPE, rawBody([Buffer.from('Content-Disposition form-data; name="a"\r\n\r\nx')]), /malformed part header/],
    ['a part has no name', CONTENT_TYPE, rawBody([Buffer.from('Content-Disposition: form-data\r\n\r\nx')]), /part 0 has no name/],
    ['a part has an empty name', CONTENT_TYPE, build([{ name: 'a', value: '1' }, { name: '', value: '2' }]), /part 1 has no name/],
    ['a part is base64-encoded', CONTENT_TYPE, build([{ name: 'a', value: 'MQ==', headers: ['Content-Transfer-Encoding: base64'] }]), /unsupported Content-Transfer-Encoding/],
    ['a field declares an unknown charset', CONTENT_TYPE, build([{ name: 'a', value: '1', headers: ['Content-Type: text/plain; charset=x-nope'] }]), /charset that is not supported/],
  ])('fails with 400 when %s', async (_name, contentType, body, message) => {
    const error = await failure(parseMultipart(body, contentType, LIMITS));
    expect(error).toBeInstanceOf(MalformedPayloadError);
    expect((error as MalformedPayloadError).statusCode).toBe(400);
    expect(error.message).toMatch(message);
  });

  test.each<[string, Buffer]>([
    ['a field value', rawBody([Buffer.concat([Buffer.from('Content-Disposition: form-data; name="a"\r\n\r\n'), Buffer.from([0x6f, 0x6b, 0xc3, 0x28])])])],
    ['a field value split across a 4-byte sequence', rawBody([Buffer.concat([Buffer.from('Content-Disposition: form-data; name="a"\r\n\r\n'), Buffer.from([0xf0, 0x9f, 0x98])])])],
    ['a field name', rawBody([Buffer.concat([Buffer.from('Content-Disposition: form-data; name="'), Buffer.from([0xff]), Buffer.from('"\r\n\r\nx')])])],
    ['a filename', rawBody([Buffer.concat([Buffer.from('Content-Disposition: form-data; name="f"; filename="'), Buffer.from([0xc0, 0xaf]), Buffer.from('.txt"\r\n\r\nx')])])],
  ])('fails with 400 when %s is not valid UTF-8', async (_what, body) => {
    const error = await failure(parseMultipart(body, CONTENT_TYPE, LIMITS));
    expect(error).toBeInstanceOf(MalformedPayloadError);
    expect(error.message).toMatch(/not valid UTF-8/);
  });

  test('fails without quoting the body, a field name or a filename', async () => {
    const secret = 'tok_live_should_never_be_echoed';
    const bodies = [
      build([{ name: secret, value: `${secret}${'x'.repeat(2000)}` }]),
      build([{ name: secret, filename: `${secret}.txt`, bytes: Buffer.alloc(70_000, 0x41) }]),
      build([{ name: secret, value: secret }]).subarray(0, -10),
    ];
    for (const body of bodies) {
      const error = await failure(parseMultipart(body, CONTENT_TYPE, LIMITS));
      expect(error).toBeInstanceOf(Error);
      expect(error.message).not.toContain(secret);
    }
  });

  test('parse(build(x)) gives back x for any fields and files within the limits', async () => {
    // Names and values: any Unicode text without control characters; U+FFFD is reserved to mean "invalid".
    const text = (minLength: number) => fc.oneof(
      fc.string({ unit: 'grapheme-ascii', minLength, maxLength: 12 }),
      fc.string({ unit: 'grapheme', minLength, maxLength: 12 }),
    ).filter((s) => !/[\u0000-\u001f\u007f\uFFFD]/u.test(s));
    const field = fc.record({ name: text(1), value: text(0) });
    const file = fc.record({
      name: text(1),
      filename: text(1).filter((s) => !/[\\/]/.test(s) && s !== '.' && s !== '..'),
      bytes: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      contentType: fc.constantFrom(undefined, 'application/octet-stream', 'image/png', 'application/pdf'),
    });
    const parts: fc.Arbitrary<Part[]> = fc.array(fc.oneof<fc.Arbitrary<Part>[]>(field, file), { maxLength: 12 });

    await fc.assert(fc.asyncProperty(parts, async (generated) => {
      const parsed = await parseMultipart(build(generated), CONTENT_TYPE, LIMITS);

      const expectedFields = new Map<string, string[]>();
      for (const part of generated) {
        if ('value' in part) expectedFields.set(part.name, [...(expectedFields.get(part.name) ?? []), part.value as string]);
      }
      expect(parsed.fields).toEqual(Object.fromEntries([...expectedFields].map(([name, values]) => [name, values.length === 1 ? values[0] : values])));
      expect(parsed.files).toEqual(generated.filter((part): part is FilePart => 'bytes' in part).map((part) => ({
        fieldName: part.name,
        filename: part.filename,
        contentType: part.contentType ?? 'text/plain',
        bytes: part.bytes,
        sha256: sha256(part.bytes),
      })));
    }), { numRuns: 200 });
  });
});
