import { MalformedPayloadError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../lambda/shared/errors';
import { fromApiGatewayEvent } from '../../lambda/shared/http';
import { parseBody, parseMediaType } from '../../lambda/shared/parse';
import { apiGatewayEvent } from '../support/signers';

function parse(body: string | Buffer, contentType: string | undefined, maxBatch = 100) {
  const headers: Record<string, string> = contentType === undefined ? {} : { 'Content-Type': contentType };
  return parseBody(fromApiGatewayEvent(apiGatewayEvent(body, { headers }), 0), maxBatch);
}

describe('parseBody', () => {
  test('a JSON object is one event', () => {
    expect(parse('{"id":"evt_1","n":1}', 'application/json; charset=utf-8'))
      .toEqual({ contentType: 'application/json', events: [{ id: 'evt_1', n: 1 }], isBatch: false });
  });

  test('a JSON array of objects is a batch of events, in order', () => {
    const parsed = parse('[{"n":1},{"n":2},{"n":3}]', 'application/json');
    expect(parsed.isBatch).toBe(true);
    expect(parsed.events.map((e) => e.n)).toEqual([1, 2, 3]);
  });

  test('a URL-encoded form is one event; a repeated name becomes an array', () => {
    expect(parse('CallSid=CA1&To=%2B15551234&tag=a&tag=b+c', 'application/x-www-form-urlencoded; charset=utf-8'))
      .toEqual({ contentType: 'application/x-www-form-urlencoded', events: [{ CallSid: 'CA1', To: '+15551234', tag: ['a', 'b c'] }], isBatch: false });
  });

  test('structured +json media types are JSON', () => {
    expect(parse('{"a":1}', 'application/cloudevents+json').events).toEqual([{ a: 1 }]);
  });

  test.each([
    ['missing', undefined],
    ['text/plain', 'text/plain'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['xml', 'application/xml'],
    ['garbage', 'json'],
    ['latin-1 JSON', 'application/json; charset=iso-8859-1'],
  ])('fails with 415 when the content type is %s', (_name, contentType) => {
    expect(() => parse('{"a":1}', contentType)).toThrow(UnsupportedMediaTypeError);
  });

  test.each([
    ['empty', ''],
    ['not JSON', '{"a":'],
    ['a JSON string', '"hello"'],
    ['null', 'null'],
    ['an empty batch', '[]'],
    ['a batch with a non-object', '[{"a":1}, 2]'],
  ])('fails with 400 when the body is %s', (_name, body) => {
    expect(() => parse(body, 'application/json')).toThrow(MalformedPayloadError);
  });

  test('fails with 400 when the JSON nests too deep, however deep', () => {
    const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
    expect(parse(nested(64), 'application/json').events).toHaveLength(1);
    for (const depth of [65, 5_000, 200_000]) {
      expect(() => parse(nested(depth), 'application/json')).toThrow(/nests deeper than 64 levels/);
    }
  });

  test('fails with 400 on invalid UTF-8', () => {
    expect(() => parse(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'application/json'))
      .toThrow(/not valid UTF-8/);
  });

  test('the error message never quotes the body', () => {
    const secretish = 'tok_live_should_never_be_echoed';
    try {
      parse(`{"card":"${secretish}"`, 'application/json');
      throw new Error('expected a failure');
    } catch (error) {
      expect((error as Error).message).not.toContain(secretish);
    }
  });

  test('fails with 413 when the batch is larger than the limit', () => {
    const body = JSON.stringify(Array.from({ length: 11 }, (_, n) => ({ n })));
    expect(() => parse(body, 'application/json', 10)).toThrow(PayloadTooLargeError);
    expect(parse(body, 'application/json', 11).events).toHaveLength(11);
  });
});

describe('parseMediaType', () => {
  test('reads the type and quoted parameters, case-insensitively', () => {
    const media = parseMediaType('Application/JSON ; Charset="UTF-8"');
    expect(media?.type).toBe('application/json');
    expect(media?.params.get('charset')).toBe('UTF-8');
  });

  test('returns undefined for a value that is not a media type', () => {
    expect(parseMediaType('json')).toBeUndefined();
  });
});
