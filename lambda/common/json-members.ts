/**
 * Counts the object members of a JSON text from its bytes, without parsing it: the `:` separators
 * outside strings. Valid JSON only (JSON.parse accepted it). Run in WebAssembly (SIMD, 64 bytes a
 * step; source in ./json-members.wat), it costs a few percent of the JSON.parse of the same text.
 */

/** The assembled ./json-members.wat, base64; `node scripts/build-json-members.mjs` writes this line. */
export const JSON_MEMBERS_MODULE = 'AGFzbQEAAAABEgNgAABgBXt7e3t7AX5gAX8BfwMEAwABAgUDAQACBgsCfgFCAAt+AUIACwcZAwZtZW1vcnkCAAVyZXNldAAABHNjYW4AAgrnAgMKAEIAJABCACQBCzIAIAAgBP0j/WStIAEgBP0j/WStQhCGhCACIAT9I/1krUIghiADIAT9I/1krUIwhoSEC6YCBAF/AX4Eewh+AkADQCABIABPDQEgAf0ABAAhAyAB/QAEECEEIAH9AAQgIQUgAf0ABDAhBiADIAQgBSAGQdwA/Q8QASEHIAMgBCAFIAZBIv0PEAEhCCADIAQgBSAGQTr9DxABIQkgByMAQn+FgyEHIAdCAYYjAIQhCiAHQqrVqtWq1arVqn8gCkJ/hYODIQsgCyAHfCEMIAwgC1StJABC1arVqtWq1arVACAMQgGGhSAKgyENIAggDUJ/hYMhDiAOIA5CAYaFIQ4gDiAOQgKGhSEOIA4gDkIEhoUhDiAOIA5CCIaFIQ4gDiAOQhCGhSEOIA4gDkIghoUhDiAOIwGFIQ4gDkI/hyQBIAIgCSAOQn+Fg3t8IQIgAUHAAGohAQwACwsgAqcL';

/** Bytes copied into the module's memory per call (its memory holds two 64 KiB pages). */
const CHUNK = 64 * 1024;

/** The part of the WebAssembly JavaScript API used here; the TypeScript libs this project builds with (ES2022, node) do not declare it. */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => unknown;
  readonly Instance: new (module: unknown) => { readonly exports: unknown };
}

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer };
  reset(): void;
  scan(length: number): number;
}

function instantiate(): { readonly memory: Uint8Array; readonly api: Exports } | undefined {
  const wasm = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  // `node --jitless` has no WebAssembly: the caller then relies on its exact pass alone.
  if (wasm === undefined) return undefined;
  const api = new wasm.Instance(new wasm.Module(Buffer.from(JSON_MEMBERS_MODULE, 'base64'))).exports as Exports;
  return { memory: new Uint8Array(api.memory.buffer), api };
}

const scanner = instantiate();

/**
 * The number of object members in a valid JSON text, counted on its UTF-8 bytes; undefined when
 * WebAssembly is unavailable. For any other input the result means nothing.
 */
export function countMembersInText(json: Uint8Array): number | undefined {
  if (scanner === undefined) return undefined;
  const { memory, api } = scanner;
  api.reset();
  let members = 0;
  for (let offset = 0; offset < json.length; offset += CHUNK) {
    const length = Math.min(CHUNK, json.length - offset);
    memory.set(length === json.length ? json : json.subarray(offset, offset + length), 0);
    const padded = (length + 63) & ~63;
    memory.fill(0, length, padded);
    members += api.scan(padded);
  }
  return members;
}
