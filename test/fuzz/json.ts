/**
 * JSON helpers of the fuzzer's own, independent of lambda/: a scanner that finds duplicate keys
 * (JSON.parse silently keeps the last one), and a writer that puts one in on purpose.
 */

/**
 * The JSON pointer of the first object member whose name repeats an earlier one in the same
 * object, at any depth; undefined when there is none or when the text is not JSON. Names are
 * compared decoded, so `"a"` and `"\u0061"` are the same name.
 */
export function duplicateKeyPointer(text: string): string | undefined {
  let i = 0;
  let found: string | undefined;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const fail = (): never => {
    throw new SyntaxError('not JSON');
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const escape = (name: string) => name.replace(/~/g, '~0').replace(/\//g, '~1');
  const value = (pointer: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const names = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        const name = str();
        const here = `${pointer}/${escape(name)}`;
        if (names.has(name)) found ??= here;
        names.add(name);
        ws();
        if (text[i] !== ':') fail();
        i++;
        value(here);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let index = 0; ; index++) {
        value(`${pointer}/${index}`);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail();
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (literal === null) fail();
    i += (literal as RegExpExecArray)[0].length;
  };
  try {
    value('');
    ws();
    return i === text.length ? found : undefined;
  } catch {
    return undefined;
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One extra member to write into one object: before or after the member of the same name. */
export interface InjectedDuplicate {
  readonly target: { [key: string]: Json };
  readonly name: string;
  readonly value: Json;
  readonly first: boolean;
}

/** JSON.stringify, but with one duplicate member written into `inject.target`. */
export function stringifyWithDuplicate(value: Json, inject: InjectedDuplicate): string {
  if (Array.isArray(value)) return `[${value.map((v) => stringifyWithDuplicate(v, inject)).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const members: string[] = [];
  for (const [name, member] of Object.entries(value)) {
    const written = `${JSON.stringify(name)}:${stringifyWithDuplicate(member, inject)}`;
    const extra = value === inject.target && name === inject.name ? `${JSON.stringify(name)}:${JSON.stringify(inject.value)}` : undefined;
    if (extra !== undefined && inject.first) members.push(extra);
    members.push(written);
    if (extra !== undefined && !inject.first) members.push(extra);
  }
  return `{${members.join(',')}}`;
}

/** Every object (with at least one member) inside a JSON value, the value itself included. */
export function objectsIn(value: Json, out: { [key: string]: Json }[] = []): { [key: string]: Json }[] {
  if (Array.isArray(value)) {
    for (const v of value) objectsIn(v, out);
  } else if (value !== null && typeof value === 'object') {
    if (Object.keys(value).length > 0) out.push(value);
    for (const v of Object.values(value)) objectsIn(v, out);
  }
  return out;
}

export type { Json };
