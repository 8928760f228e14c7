import { resolvePointer } from '../../../lambda/common/json-pointer';

describe('resolvePointer', () => {
  test('follows RFC 6901, escapes included', () => {
    const doc = { 'a/b': { 'm~n': [10, 20] }, '': 1 };
    expect(resolvePointer(doc, '/a~1b/m~0n/1')).toBe(20);
    expect(resolvePointer(doc, '/')).toBe(1);
    expect(resolvePointer(doc, '/a~1b/m~0n/01')).toBeUndefined();
    expect(resolvePointer(doc, '/missing/x')).toBeUndefined();
    expect(resolvePointer(doc, '/toString')).toBeUndefined();
  });

  test('the empty pointer is the whole document', () => {
    const doc = { a: 1 };
    expect(resolvePointer(doc, '')).toBe(doc);
  });
});
