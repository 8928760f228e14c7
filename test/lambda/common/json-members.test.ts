import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { countMembersInText, JSON_MEMBERS_MODULE } from '../../../lambda/common/json-members';

/** The reference: a byte-by-byte scan of valid JSON for `:` outside strings. */
function referenceCount(text: string): number {
  let members = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === ':') {
      members++;
    }
  }
  return members;
}

const count = (text: string) => countMembersInText(Buffer.from(text, 'utf8'));

/** Strings rich in what the scan must get right: quotes, backslashes, colons, escapes, non-ASCII. */
const tricky = fc.array(fc.constantFrom('"', '\\', '\\\\', ':', '":', '\\":', 'a', 'é', '😀', '\n', '\u2028', '\ud800', ' ', '{', '}', ','), { maxLength: 40 })
  .map((parts) => parts.join(''));
const jsonValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(tricky, fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(tricky, fc.string()), tie('value'), { maxKeys: 5 }),
  ),
})).value;

describe('countMembersInText', () => {
  test('the shipped module is json-members.wat, assembled', async () => {
    // GIVEN the WebAssembly text beside the module
    const wat = readFileSync(join(__dirname, '..', '..', '..', 'lambda', 'common', 'json-members.wat'), 'utf8');
    // WHEN wabt assembles it, as scripts/build-json-members.mjs does
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wabt = await (require('wabt') as () => Promise<{ parseWat(name: string, text: string, features: object): { validate(): void; toBinary(o: object): { buffer: Uint8Array }; destroy(): void } }>)();
    const module = wabt.parseWat('json-members.wat', wat, { simd: true });
    module.validate();
    const assembled = Buffer.from(module.toBinary({}).buffer).toString('base64');
    module.destroy();
    // THEN the embedded bytes are those (else: node scripts/build-json-members.mjs)
    expect(JSON_MEMBERS_MODULE).toBe(assembled);
  });

  test.each([
    ['an empty object', '{}', 0],
    ['a scalar', '"a:b"', 0],
    ['colons inside strings', '{"a:b":"c:d","e":"f"}', 2],
    ['an escaped quote before a colon inside a string', '{"a\\":":1}', 1],
    ['an escaped backslash before the closing quote', '{"a\\\\":1,"b":"\\\\"}', 2],
    ['whitespace around the separators', ' { "a" :\n1 ,\t"b"\r\n: [ {"c" : 2} ] } ', 3],
    ['a leading byte order mark', '\ufeff{"a":1}', 1],
    ['a batch', '[{"a":1},{"a":2,"b":{"c":3}}]', 4],
    ['duplicate keys, all counted', '{"a":1,"a":{"b":2,"b":3}}', 4],
  ])('counts %s', (_name, text, members) => {
    expect(count(text)).toBe(members);
  });

  test('agrees with a byte-by-byte scan on any JSON, at any alignment', () => {
    fc.assert(fc.property(jsonValue, fc.nat({ max: 130 }), fc.boolean(), (value, indent, pretty) => {
      const text = `${' '.repeat(indent)}${JSON.stringify(value, null, pretty ? 2 : undefined)}`;
      expect(count(text)).toBe(referenceCount(text));
    }), { numRuns: 2000 });
  });

  test('carries its state across 64-byte blocks and 64 KiB chunks: runs of backslashes and strings that straddle them', () => {
    for (const boundary of [64, 128, 64 * 1024, 128 * 1024]) {
      for (let run = 1; run <= 5; run++) {
        // A run of escaped backslashes that ends the string, and one that ends in an escaped quote.
        for (const inner of ['\\\\'.repeat(run), `${'\\\\'.repeat(run - 1)}\\":::`]) {
          for (let shift = -8; shift <= 8; shift++) {
            // GIVEN a string whose run of backslashes ends at `boundary + shift`, then colons inside strings
            const prefix = '{"pad":"';
            const pad = 'x'.repeat(boundary + shift - prefix.length - inner.length);
            const text = `${prefix}${pad}${inner}","k":":::"}`;
            // WHEN it counts THEN it finds the two members, and no colon inside a string
            expect(Object.keys(JSON.parse(text))).toEqual(['pad', 'k']);
            expect({ boundary, run, inner, shift, members: count(text) }).toEqual({ boundary, run, inner, shift, members: 2 });
          }
        }
      }
    }
  });

  test('counts a body of several chunks like one', () => {
    const body = JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ id: `e:${i}`, note: 'quote " and \\ and : here', nested: { [`k${i}`]: [i, { a: 'b' }] } })));
    expect(body.length).toBeGreaterThan(2 * 64 * 1024);
    expect(count(body)).toBe(3000 * 5);
  });
});
