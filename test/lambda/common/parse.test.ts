import fc from 'fast-check';
import { MalformedPayloadError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../../lambda/common/errors';
import { fromApiGatewayEvent } from '../../../lambda/common/http';
import { countMembers, duplicateKeyPointer, MAX_POINTER_SHOWN, parseBody, parseJsonObject, parseMediaType, shownPointer } from '../../../lambda/common/parse';
import { apiGatewayEvent } from '../../support/signers';

function parse(body: string | Buffer, contentType: string | undefined, maxBatch = 100) {
  const headers: Record<string, string> = contentType === undefined ? {} : { 'Content-Type': contentType };
  return parseBody(fromApiGatewayEvent(apiGatewayEvent(body, { headers }), 0), maxBatch);
}

describe('parseBody', () => {
  test('a JSON object is one event', () => {
    expect(parse('{"id":"evt_1","n":1}', 'application/json; charset=utf-8'))
      .toEqual({ contentType: 'application/json', kind: 'json', events: [{ id: 'evt_1', n: 1 }], isBatch: false, eventJson: Buffer.from('{"id":"evt_1","n":1}') });
  });

  test('a JSON object carries its bytes without a byte order mark, for the record to splice', () => {
    // GIVEN a single JSON object sent with a UTF-8 byte order mark
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":"evt_bom"}')]);
    // WHEN it is parsed
    const parsed = parse(bytes, 'application/json');
    // THEN the event is read, and its bytes start after the mark
    expect(parsed.events).toEqual([{ id: 'evt_bom' }]);
    expect(parsed.eventJson?.toString('utf8')).toBe('{"id":"evt_bom"}');
  });

  test('a JSON array of objects is a batch of events, in order', () => {
    const parsed = parse('[{"n":1},{"n":2},{"n":3}]', 'application/json');
    expect(parsed.isBatch).toBe(true);
    expect(parsed.events.map((e) => e.n)).toEqual([1, 2, 3]);
  });

  test('a byte order mark before a form is dropped, as before JSON, not kept in the first name (found by the fuzzer)', () => {
    const [event] = parse('\ufeffid=a&note=b', 'application/x-www-form-urlencoded').events;
    expect(Object.keys(event)).toEqual(['id', 'note']);
  });

  test('form field names that Object.prototype has are ordinary fields, and __proto__ is one too', () => {
    // GIVEN a form whose names collide with Object.prototype's members (Twilio forms are signed as sent)
    const body = 'constructor=a&toString=b&hasOwnProperty=c&__proto__=d&valueOf=e&toString=f';
    // WHEN it is parsed
    const [event] = parse(body, 'application/x-www-form-urlencoded').events;
    // THEN every name is an own field with exactly the values sent, and no prototype changed
    expect(JSON.parse(JSON.stringify(event))).toEqual(JSON.parse('{"constructor":"a","toString":["b","f"],"hasOwnProperty":"c","__proto__":"d","valueOf":"e"}'));
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype);
    expect(Object.keys(event)).toEqual(['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']);
  });

  test('a URL-encoded form is one event; a repeated name becomes an array', () => {
    expect(parse('CallSid=CA1&To=%2B15551234&tag=a&tag=b+c', 'application/x-www-form-urlencoded; charset=utf-8'))
      .toEqual({ contentType: 'application/x-www-form-urlencoded', kind: 'form', events: [{ CallSid: 'CA1', To: '+15551234', tag: ['a', 'b c'] }], isBatch: false });
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

/** What went wrong, as the sender reads it; undefined when the body was accepted. */
function refusal(body: string | Buffer): string | undefined {
  try {
    parse(body, 'application/json');
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedPayloadError);
    return (error as Error).message;
  }
}

describe('duplicate keys', () => {
  test.each([
    ['at the top', '{"amount_total":-5,"amount_total":5}', '/amount_total'],
    ['deep inside', '{"data":{"object":{"id":"in_1","amount_total":-5,"amount_total":5}}}', '/data/object/amount_total'],
    ['in a batch element', '[{"type":"a"},{"id":"2","type":"a","type":"b"}]', '/1/type'],
    ['in an array inside an object', '{"lines":[{"x":1},{"x":1,"y":[{"q":1,"q":2}]}]}', '/lines/1/y/0/q'],
    ['spelled with escapes', '{"a":1,"\\u0061":2}', '/a'],
    ['spelled with escapes on both', '{"\\u00e9":1,"\\u00E9":2}', '/é'],
    ['named __proto__', '{"__proto__":{"admin":false},"__proto__":{"admin":true}}', '/__proto__'],
    ['empty', '{"":1,"":2}', '/'],
    ['with / and ~ (RFC 6901 escaping)', '{"a/b":{"m~n":1,"m~n":2}}', '/a~1b/m~0n'],
    ['inside a value that a later duplicate replaces', '{"o":{"k":1,"k":2},"o":3}', '/o/k'],
    ['with whitespace around them', '{ "a" : 1 ,\n  "a"\t: 2 }', '/a'],
  ])('fails with 400 naming the JSON pointer when a key is duplicated %s', (_name, body, pointer) => {
    expect(refusal(body)).toBe(`body has a duplicate key at JSON pointer ${pointer}; send each key once per object`);
  });

  test('the message never quotes a value', () => {
    const message = refusal('{"card":"4242424242424242","amount":-5,"amount":5}');
    expect(message).not.toMatch(/4242|-5/);
  });

  test('the message stays short whatever the key: its start and its end, whole characters only', () => {
    // GIVEN a repeated key of 100,000 characters, with emoji (surrogate pairs) where the message cuts it
    const key = `${'k'.repeat(38)}😀${'x'.repeat(100_000)}😀${'y'.repeat(58)}`;
    const message = refusal(`{${JSON.stringify(key)}:1,${JSON.stringify(key)}:2}`);
    // THEN the message shows its start and end, and drops the halves of the cut pairs
    expect(message).toBe(`body has a duplicate key at JSON pointer /${'k'.repeat(38)}…${'y'.repeat(58)}; send each key once per object`);
    expect(shownPointer(`/${key}`).length).toBeLessThanOrEqual(MAX_POINTER_SHOWN);
    expect(shownPointer('/short')).toBe('/short');
  });

  test('the exact pass ends on any text, even one that is not JSON: an answer or a SyntaxError, never a loop', () => {
    for (const text of ['{"a', '{"a":"\\', ',', '}}]]', '"', '{"a":1,"a"']) {
      try {
        duplicateKeyPointer(text);
      } catch (error) {
        expect(error).toBeInstanceOf(SyntaxError);
      }
    }
    expect(duplicateKeyPointer('{"a":1,"a"')).toBe('/a');
  });

  test('without WebAssembly, the exact pass alone decides', () => {
    jest.isolateModules(() => {
      jest.doMock('../../../lambda/common/json-members', () => ({ countMembersInText: () => undefined }));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { checkParsedJson } = require('../../../lambda/common/parse') as typeof import('../../../lambda/common/parse');
      const check = (text: string) => () => checkParsedJson(JSON.parse(text), text, Buffer.from(text));
      expect(check('{"a":{"b":1,"b":2}}')).toThrow(/duplicate key at JSON pointer \/a\/b;/);
      expect(check('{"a":{"b":1,"c":":"}}')).not.toThrow();
    });
  });

  test('fails as an internal error, not as the sender\'s, when the two counts disagree and no duplicate is found', () => {
    jest.isolateModules(() => {
      jest.doMock('../../../lambda/common/json-members', () => ({ countMembersInText: () => 99 }));
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { checkParsedJson } = require('../../../lambda/common/parse') as typeof import('../../../lambda/common/parse');
      const text = '{"a":1}';
      let thrown: unknown;
      try {
        checkParsedJson(JSON.parse(text), text, Buffer.from(text));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Error);
      expect((thrown as Error).name).toBe('Error');
      expect((thrown as Error).message).toBe('JSON member counts disagree (1 parsed, 99 in the text) and no duplicate key was found');
    });
  });

  test('distinct keys pass: same key in different objects, keys differing in case or by escaped spelling of other characters', () => {
    const body = '{"a":{"k":1},"b":{"k":1},"A":1,"a\\u0062":1,"ab2":[{"k":1},{"k":2}],"__proto__":{"k":1},"constructor":1}';
    expect(parse(body, 'application/json').events[0]).toEqual(JSON.parse(body));
    expect(Object.getPrototypeOf(parse(body, 'application/json').events[0])).toBe(Object.prototype);
  });

  test('colons, quotes and backslashes inside strings are not members', () => {
    const body = JSON.stringify({ url: 'https://x.example/a:b', quote: '":"', tail: '\\', 'k:ey': '\\":' });
    expect(refusal(body)).toBeUndefined();
  });

  test('the trigger\'s reader refuses them too', () => {
    const request = fromApiGatewayEvent(apiGatewayEvent('{"export_id":"a","export_id":"b"}', { headers: { 'Content-Type': 'application/json' } }), 0);
    expect(() => parseJsonObject(request)).toThrow(/duplicate key at JSON pointer \/export_id/);
  });
});

/**
 * JSON written the way senders may write it: any whitespace, keys spelled plainly or with every
 * character as a \u escape, and objects whose members may repeat a key. `members` is every member
 * written; `duplicate` the pointer of the first repeated key in text order.
 */
type Tree =
  | { readonly kind: 'scalar'; readonly value: string | number | boolean | null }
  | { readonly kind: 'array'; readonly items: readonly Tree[] }
  | { readonly kind: 'object'; readonly members: readonly (readonly [key: string, escaped: boolean, value: Tree])[] };

const special = fc.constantFrom(':', '"', '\\', '\\u0061', '~', '/', '~1', '__proto__', '', 'a', 'A', 'é', '😀', '\n', '\u2028', '\ud800', '{', '}', ',', '[');
const text = fc.array(fc.oneof(special, fc.string({ maxLength: 4 })), { maxLength: 6 }).map((parts) => parts.join(''));
/** Few distinct keys, so that objects often repeat one. */
const key = fc.oneof(fc.constantFrom('a', 'b', 'type', 'amount_total', '__proto__', ''), text);
const treeOf = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(text, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null)).map((value) => ({ kind: 'scalar' as const, value })),
    fc.array(tie('tree'), { maxLength: 4 }).map((items) => ({ kind: 'array' as const, items })),
    fc.array(fc.tuple(key, fc.boolean(), tie('tree')), { maxLength: 5 }).map((members) => ({ kind: 'object' as const, members })),
  ),
})).tree;
const whitespace = fc.array(fc.constantFrom('', ' ', '\n', '\t', '\r\n  '), { minLength: 12, maxLength: 12 });

function serialize(tree: Tree, ws: readonly string[], at = 0): string {
  const w = (n: number) => ws[(at + n) % ws.length];
  if (tree.kind === 'scalar') return JSON.stringify(tree.value);
  if (tree.kind === 'array') return `[${w(1)}${tree.items.map((item, i) => serialize(item, ws, at + i + 2)).join(`${w(2)},${w(3)}`)}${w(4)}]`;
  const keyText = (k: string, escaped: boolean) => (escaped ? `"${Array.from({ length: k.length }, (_, i) => `\\u${k.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"` : JSON.stringify(k));
  return `{${w(5)}${tree.members.map(([k, escaped, value], i) => `${keyText(k, escaped)}${w(6)}:${w(7)}${serialize(value, ws, at + i + 3)}`).join(`${w(8)},${w(9)}`)}${w(10)}}`;
}

const token = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');
/** The first repeated key in text order, found on the tree itself. */
function firstDuplicate(tree: Tree, path = ''): string | undefined {
  if (tree.kind === 'scalar') return undefined;
  if (tree.kind === 'array') {
    for (const [i, item] of tree.items.entries()) {
      const found = firstDuplicate(item, `${path}/${i}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const seen = new Set<string>();
  for (const [k, , value] of tree.members) {
    if (seen.has(k)) return `${path}/${token(k)}`;
    seen.add(k);
    const found = firstDuplicate(value, `${path}/${token(k)}`);
    if (found !== undefined) return found;
  }
  return undefined;
}

describe('duplicate keys, as properties over generated JSON', () => {
  test('a body is refused exactly when it repeats a key, naming the first one; else it parses as JSON.parse reads it', () => {
    fc.assert(fc.property(treeOf, whitespace, (tree, ws) => {
      const body = serialize({ kind: 'object', members: [['root', false, tree]] }, ws);
      const expected = firstDuplicate({ kind: 'object', members: [['root', false, tree]] });
      expect(duplicateKeyPointer(body)).toBe(expected);
      if (expected === undefined) {
        expect(refusal(body)).toBeUndefined();
        expect(parse(body, 'application/json').events[0]).toEqual(JSON.parse(body));
      } else if (expected.length <= MAX_POINTER_SHOWN) {
        expect(refusal(body)).toBe(`body has a duplicate key at JSON pointer ${expected}; send each key once per object`);
      } else {
        expect(refusal(body)).toMatch(/^body has a duplicate key at JSON pointer .*…/);
      }
    }), { numRuns: 3000 });
  });

  test('one injected duplicate at any depth is found, whatever the rest of the body', () => {
    fc.assert(fc.property(treeOf, whitespace, fc.nat(), fc.boolean(), (tree, ws, pick, escaped) => {
      // GIVEN a body without duplicates, and one object in it (chosen by `pick`) given a copy of its first key
      const unique = dedupe(tree);
      const objects = objectsOf(unique).filter((o) => o.members.length > 0);
      fc.pre(objects.length > 0);
      const target = objects[pick % objects.length];
      const [k] = target.members[0];
      (target.members as (readonly [string, boolean, Tree])[]).push([k, escaped, { kind: 'scalar', value: 5 }]);
      const body = serialize(unique, ws);
      // THEN it is refused, at that object's key (or an earlier copy, in text order)
      expect(firstDuplicate(unique)).toBeDefined();
      expect(duplicateKeyPointer(body)).toBe(firstDuplicate(unique));
      expect(refusal(body)).toMatch(/^body has a duplicate key at JSON pointer /);
    }), { numRuns: 2000 });
  });

  test('the walk counts one member per distinct key, and gives up past the depth limit', () => {
    fc.assert(fc.property(treeOf, (tree) => {
      const value = JSON.parse(serialize(dedupe(tree), ['']));
      expect(countMembers(value, 64)).toBe(JSON.stringify(value).split(/"(?:[^"\\]|\\.)*"|(:)/).filter((part) => part === ':').length);
    }), { numRuns: 1000 });
    expect(countMembers({ a: [{ b: 1 }] }, 3)).toBe(2);
    expect(countMembers({ a: [{ b: 1 }] }, 2)).toBe(-1);
  });
});

/** A copy of the tree with each object's repeated keys left out. */
function dedupe(tree: Tree): Tree {
  if (tree.kind === 'scalar') return tree;
  if (tree.kind === 'array') return { kind: 'array', items: tree.items.map(dedupe) };
  const seen = new Set<string>();
  return { kind: 'object', members: tree.members.filter(([k]) => !seen.has(k) && seen.add(k)).map(([k, e, v]) => [k, e, dedupe(v)] as const) };
}

function objectsOf(tree: Tree): Extract<Tree, { kind: 'object' }>[] {
  if (tree.kind === 'scalar') return [];
  if (tree.kind === 'array') return tree.items.flatMap(objectsOf);
  return [tree, ...tree.members.flatMap(([, , v]) => objectsOf(v))];
}

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
