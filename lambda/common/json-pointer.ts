import type { JsonObject } from './parse';

/** An RFC 6901 pointer split into its decoded reference tokens, once per pointer. */
export type CompiledPointer = readonly string[];

const ARRAY_INDEX = /^(0|[1-9]\d*)$/;
const compiled = new Map<string, CompiledPointer>();

/** The pointer's reference tokens (`~1` and `~0` decoded); `''` (the whole document) has none. */
export function compilePointer(pointer: string): CompiledPointer {
  let tokens = compiled.get(pointer);
  if (tokens === undefined) {
    tokens = pointer === '' ? [] : pointer.slice(1).split('/').map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'));
    compiled.set(pointer, tokens);
  }
  return tokens;
}

/** Resolves a compiled pointer. Returns undefined when any step is missing. */
export function resolveTokens(document: unknown, tokens: CompiledPointer): unknown {
  let current: unknown = document;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (Array.isArray(current)) {
      if (!ARRAY_INDEX.test(token)) return undefined;
      current = current[Number(token)];
    } else if (typeof current === 'object' && current !== null && Object.prototype.hasOwnProperty.call(current, token)) {
      current = (current as JsonObject)[token];
    } else {
      return undefined;
    }
  }
  return current;
}

/** Resolves an RFC 6901 JSON pointer. Returns undefined when any step is missing. */
export function resolvePointer(document: unknown, pointer: string): unknown {
  return resolveTokens(document, compilePointer(pointer));
}
