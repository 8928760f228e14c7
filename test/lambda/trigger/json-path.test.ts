import { compileJsonPath, JsonPathSyntaxError, MAX_PATH_SEGMENTS, selectPath } from '../../../lambda/trigger/json-path';

describe('compileJsonPath', () => {
  test.each([
    ['$', []],
    ['$.export_id', [{ kind: 'name', name: 'export_id' }]],
    ['$.items[0].uri', [{ kind: 'name', name: 'items' }, { kind: 'index', index: 0 }, { kind: 'name', name: 'uri' }]],
    ["$['a b']", [{ kind: 'name', name: 'a b' }]],
    ['$["a.b"][12]', [{ kind: 'name', name: 'a.b' }, { kind: 'index', index: 12 }]],
    [String.raw`$['it\'s']`, [{ kind: 'name', name: "it's" }]],
    [String.raw`$["say \"hi\""]`, [{ kind: 'name', name: 'say "hi"' }]],
    [String.raw`$['back\\slash\u00e9\n']`, [{ kind: 'name', name: 'back\\slashé\n' }]],
    ["$['']", [{ kind: 'name', name: '' }]],
    ['$._private.A1', [{ kind: 'name', name: '_private' }, { kind: 'name', name: 'A1' }]],
  ])('accepts %s', (path, segments) => {
    expect(compileJsonPath(path)).toEqual(segments);
  });

  test.each([
    ['export_id', /must start with \$ \(at offset 0\)/],
    ['$.items[*]', /wildcards are not supported \(at offset 8\)/],
    ['$.*', /wildcards are not supported/],
    ['$..uri', /descendant segments \(\.\.\) are not supported/],
    ['$.items[?(@.uri)]', /filter expressions are not supported/],
    ['$.items[(@.length-1)]', /script expressions are not supported/],
    ['$.items[-1]', /negative indices are not supported/],
    ['$.items[0:2]', /slices are not supported/],
    ["$['a','b']", /unions are not supported/],
    ['$.items[01]', /no leading zeros/],
    ['$.items[99999999999]', /an index may be at most/],
    ['$.a-b', /expected '\.' or '\['/],
    ['$.1st', /expected a name of letters, digits and _ after '\.'; write other names as \['name'\]/],
    ["$['open", /unterminated quoted name/],
    [String.raw`$['\x']`, /unknown escape/],
    ["$['a\tb']", /control characters must be escaped/],
    ['$[ 0 ]', /expected an index or a quoted name/],
    ['$.a ', /expected '\.' or '\['/],
    ['$' + '.a'.repeat(MAX_PATH_SEGMENTS + 1), /at most 64 segments/],
  ])('fails when the path is %s', (path, message) => {
    expect(() => compileJsonPath(path)).toThrow(JsonPathSyntaxError);
    expect(() => compileJsonPath(path)).toThrow(message);
  });
});

describe('selectPath', () => {
  const doc = JSON.parse('{"a":{"b":[10,{"c":null}]},"n":0,"__proto__":{"x":1}}') as unknown;
  test.each([
    ['$', { found: true, value: doc }],
    ['$.a.b[0]', { found: true, value: 10 }],
    ['$.a.b[1].c', { found: true, value: null }],
    ['$.n', { found: true, value: 0 }],
    ["$['__proto__'].x", { found: true, value: 1 }],
    ['$.a.b[2]', { found: false }],
    ['$.a[0]', { found: false }],
    ['$.a.b.length', { found: false }],
    ['$.n.toFixed', { found: false }],
    ['$.constructor', { found: false }],
    ['$.a.hasOwnProperty', { found: false }],
    ['$.a.b[1].c.d', { found: false }],
  ])('%s', (path, selection) => {
    expect(selectPath(doc, compileJsonPath(path))).toEqual(selection);
  });
});
