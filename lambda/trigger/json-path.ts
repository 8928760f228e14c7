/**
 * A small, safe subset of JSONPath (RFC 9535) for mapping a body's fields to run parameters.
 *
 * A path selects at most one value: the root `$`, then child segments, each a member name
 * (`.name`, `['name']`, `["name"]`) or an array index (`[0]`). Nothing else is accepted:
 * no wildcards, descendants (`..`), slices, unions, filters or script expressions. Paths are
 * compiled once, at cold start, and a path outside the subset is a configuration error.
 *
 * Selection only reads own properties of objects and elements of arrays, so no path reaches
 * a prototype (`$.constructor`, `$.__proto__`) unless the body itself has that member.
 */
import { isObject } from '../common/config-document';

/** One child segment of a compiled path. */
export type PathSegment =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'index'; readonly index: number };

/** The result of selecting a path: a value (possibly `null`), or nothing. */
export type Selection = { readonly found: true; readonly value: unknown } | { readonly found: false };

/** Longest path accepted, in characters. */
export const MAX_PATH_LENGTH = 1024;

/** Most segments a path may have; a JSON body nests no deeper than this (see ./parse). */
export const MAX_PATH_SEGMENTS = 64;

/** Largest array index accepted: the last index a JavaScript array can have. */
const MAX_INDEX = 2 ** 32 - 2;

/** Thrown by {@link compileJsonPath}. `offset` is the position in the path where reading failed. */
export class JsonPathSyntaxError extends Error {
  constructor(readonly reason: string, readonly offset: number) {
    super(`${reason} (at offset ${offset})`);
    this.name = 'JsonPathSyntaxError';
  }
}

const SHORTHAND_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const INDEX = /^[0-9]+/;

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', '/': '/', '\\': '\\', '"': '"', "'": "'",
};

/** What a character that opens an unsupported selector means, for the error message. */
function unsupported(c: string | undefined): string | undefined {
  switch (c) {
    case '*': return 'wildcards are not supported';
    case '?': return 'filter expressions are not supported';
    case '(': return 'script expressions are not supported';
    case ':': return 'slices are not supported';
    case '-': return 'negative indices are not supported';
    default: return undefined;
  }
}

/** Reads a quoted name starting at `start` (the quote). Returns the name and the offset after the closing quote. */
function readQuoted(path: string, start: number): [string, number] {
  const quote = path[start];
  let name = '';
  let i = start + 1;
  while (i < path.length) {
    const c = path[i];
    if (c === quote) return [name, i + 1];
    if (c < ' ') throw new JsonPathSyntaxError('control characters must be escaped in a quoted name', i);
    if (c !== '\\') {
      name += c;
      i += 1;
      continue;
    }
    const e = path[i + 1];
    if (e === 'u') {
      const hex = path.slice(i + 2, i + 6);
      if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw new JsonPathSyntaxError('\\u must be followed by four hex digits', i);
      name += String.fromCharCode(parseInt(hex, 16));
      i += 6;
    } else if (e !== undefined && e in SIMPLE_ESCAPES) {
      name += SIMPLE_ESCAPES[e];
      i += 2;
    } else {
      throw new JsonPathSyntaxError('unknown escape in a quoted name', i);
    }
  }
  throw new JsonPathSyntaxError('unterminated quoted name', start);
}

/**
 * Compiles a path of the accepted subset:
 *
 * ```
 * path    = "$" *segment
 * segment = "." name / "[" index "]" / "[" quoted "]"
 * name    = (ALPHA / "_") *(ALPHA / DIGIT / "_")
 * index   = "0" / (DIGIT1 *DIGIT)                     ; non-negative, no leading zeros
 * quoted  = "'" *char "'" / DQUOTE *char DQUOTE       ; JSON escapes: \" \' \\ \/ \b \f \n \r \t \uXXXX
 * ```
 *
 * No blank space anywhere. Throws {@link JsonPathSyntaxError} naming what is wrong and where.
 */
export function compileJsonPath(path: string): readonly PathSegment[] {
  if (path.length > MAX_PATH_LENGTH) throw new JsonPathSyntaxError(`a path may have at most ${MAX_PATH_LENGTH} characters`, MAX_PATH_LENGTH);
  if (path[0] !== '$') throw new JsonPathSyntaxError('a path must start with $', 0);
  const segments: PathSegment[] = [];
  let i = 1;
  while (i < path.length) {
    if (segments.length === MAX_PATH_SEGMENTS) throw new JsonPathSyntaxError(`a path may have at most ${MAX_PATH_SEGMENTS} segments`, i);
    const c = path[i];
    if (c === '.') {
      const next = path[i + 1];
      if (next === '.') throw new JsonPathSyntaxError('descendant segments (..) are not supported', i);
      const why = unsupported(next);
      if (why !== undefined) throw new JsonPathSyntaxError(why, i + 1);
      const match = SHORTHAND_NAME.exec(path.slice(i + 1));
      if (match === null) {
        throw new JsonPathSyntaxError("expected a name of letters, digits and _ after '.'; write other names as ['name']", i + 1);
      }
      segments.push({ kind: 'name', name: match[0] });
      i += 1 + match[0].length;
    } else if (c === '[') {
      const open = path[i + 1];
      let end: number;
      if (open === "'" || open === '"') {
        const [name, after] = readQuoted(path, i + 1);
        segments.push({ kind: 'name', name });
        end = after;
      } else {
        const match = INDEX.exec(path.slice(i + 1));
        if (match === null) {
          throw new JsonPathSyntaxError(unsupported(open) ?? "expected an index or a quoted name after '['", i + 1);
        }
        const digits = match[0];
        if (digits.length > 1 && digits.startsWith('0')) throw new JsonPathSyntaxError('an index has no leading zeros', i + 1);
        const index = Number(digits);
        if (!(index <= MAX_INDEX)) throw new JsonPathSyntaxError(`an index may be at most ${MAX_INDEX}`, i + 1);
        segments.push({ kind: 'index', index });
        end = i + 1 + digits.length;
      }
      if (path[end] !== ']') {
        const why = path[end] === ',' ? 'unions are not supported' : unsupported(path[end]);
        throw new JsonPathSyntaxError(why ?? "expected ']'", end);
      }
      i = end + 1;
    } else {
      throw new JsonPathSyntaxError("expected '.' or '['", i);
    }
  }
  return segments;
}

/**
 * Selects a compiled path in a JSON document. A name selects an object's own member, an index
 * an array's element; anything else (a missing member, an index past the end, a name on an
 * array, an index on an object, any step through a primitive) selects nothing.
 */
export function selectPath(document: unknown, segments: readonly PathSegment[]): Selection {
  let current = document;
  for (const segment of segments) {
    if (segment.kind === 'name') {
      if (!isObject(current) || !Object.hasOwn(current, segment.name)) return { found: false };
      current = current[segment.name];
    } else {
      if (!Array.isArray(current) || segment.index >= current.length) return { found: false };
      current = current[segment.index];
    }
  }
  return { found: true, value: current };
}
