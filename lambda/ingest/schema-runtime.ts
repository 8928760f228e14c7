/**
 * The contract between the synth-time schema compiler (lib/payload-schema.ts) and the handler
 * (lambda/ingest/schema.ts) for pinned JSON Schemas.
 *
 * At synth, ajv compiles each schema into standalone JavaScript. That code `require()`s a few ajv
 * runtime helpers. In the Lambda, no `node_modules` exists: only the esbuild bundle does. So the
 * handler evaluates the generated module with {@link requireSchemaRuntime} as its `require`, which
 * maps exactly the ids below to modules this file requires with literal ids, so that esbuild puts
 * them in the bundle. The synth side refuses generated code that requires any other id.
 *
 * lib/ imports this file at synth time for the ids and types; the loaders below only run when a
 * generated module asks for them.
 */
import * as vm from 'node:vm';

/** The file beside the handler's index.js that holds the generated validators. */
export const PAYLOAD_SCHEMA_MODULE_FILE = 'payload-schemas.js';

/** Bumped whenever the generated module's exports change shape. A handler refuses any other. */
export const PAYLOAD_SCHEMA_MODULE_FORMAT = 1;

/**
 * Every module id generated validators may require, each with a loader that esbuild can follow.
 *
 * - `ajv/dist/runtime/equal`: deep equality, for `const`, `enum` of objects and `uniqueItems`.
 * - `ajv/dist/runtime/ucs2length`: string length in code points, for `minLength`/`maxLength`.
 * - `ajv-formats/dist/formats`: the format checkers that are functions rather than regular
 *   expressions (`date-time`, `date`, `time`, `uri`, `regex`, ...); regular-expression formats
 *   such as `email` are inlined into the generated code.
 *
 * Not listed, on purpose: `ajv/dist/runtime/validation_error` (only `$async` schemas use it, and
 * they are refused), `ajv/dist/runtime/re2` (only with ajv's `regExp` option), `uri`, `quote`,
 * `parseJson` and `timestamp` (compile time or JTD only).
 */
export const SCHEMA_RUNTIME_MODULES: Readonly<Record<string, () => unknown>> = Object.freeze({
  'ajv/dist/runtime/equal': () => require('ajv/dist/runtime/equal'),
  'ajv/dist/runtime/ucs2length': () => require('ajv/dist/runtime/ucs2length'),
  'ajv-formats/dist/formats': () => require('ajv-formats/dist/formats'),
});

/** The ids of {@link SCHEMA_RUNTIME_MODULES}, sorted. */
export const SCHEMA_RUNTIME_MODULE_IDS: readonly string[] = Object.freeze(Object.keys(SCHEMA_RUNTIME_MODULES).sort());

/** Thrown when generated code requires a module the handler bundle does not carry. */
export class SchemaRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaRuntimeError';
  }
}

/** The `require` generated validators get: the listed modules, and nothing else. */
export function requireSchemaRuntime(id: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(SCHEMA_RUNTIME_MODULES, id)) {
    throw new SchemaRuntimeError(
      `generated schema code requires '${id}', which is not one of the bundled schema runtime modules (${SCHEMA_RUNTIME_MODULE_IDS.join(', ')})`,
    );
  }
  return SCHEMA_RUNTIME_MODULES[id]();
}

/** One error as ajv reports it; only the fields the handler reads. */
export interface CompiledValidatorError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

/** A validation function from ajv's standalone code: returns the verdict, leaves errors on itself. */
export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: readonly CompiledValidatorError[] | null;
}

/** What the generated module exports. */
export interface GeneratedSchemaModule {
  readonly format: number;
  /** One validator per listed event type, in a prototype-free object. */
  readonly byType: Readonly<Record<string, CompiledValidator>>;
  /** The validator for every event whose type is not listed, or null. */
  readonly otherTypes: CompiledValidator | null;
}

/** The handler's configuration for payload validation: the fragment the construct writes. */
export interface PayloadValidationConfig {
  /** `strict`: an invalid event fails the request with 400. `quarantine`: it goes to quarantine. */
  readonly mode: 'strict' | 'quarantine';
  /** The generated module's file name, beside the handler's index.js. */
  readonly module: string;
  /** SHA-256 of the module's text, hex. The handler refuses a module that does not match. */
  readonly sha256: string;
  /**
   * What happens to an event whose type has no schema and no `otherTypes` validator (events
   * without a type included): accepted as is, or treated as invalid (400 or quarantine).
   */
  readonly unmatchedTypes: 'accept' | 'reject';
}

/**
 * Evaluates generated module text as CommonJS, with `requireFn` as its only `require`. The code
 * gets no `module` or `require` of the handler's own; `__filename` names the file in stack traces.
 */
export function evaluateSchemaModule(
  source: string,
  filename: string,
  requireFn: (id: string) => unknown = requireSchemaRuntime,
): GeneratedSchemaModule {
  const run = vm.compileFunction(source, ['exports', 'require', 'module'], { filename }) as (
    exports: unknown, require: (id: string) => unknown, module: { exports: unknown },
  ) => void;
  const module: { exports: Record<string, unknown> } = { exports: {} };
  run(module.exports, requireFn, module);
  const exported = module.exports;
  if (exported.format !== PAYLOAD_SCHEMA_MODULE_FORMAT) {
    throw new SchemaRuntimeError(
      `${filename} has format ${String(exported.format)}; this handler reads format ${PAYLOAD_SCHEMA_MODULE_FORMAT}`,
    );
  }
  const byType = exported.byType;
  if (typeof byType !== 'object' || byType === null
    || !Object.values(byType).every((v) => typeof v === 'function')
    || (exported.otherTypes !== null && typeof exported.otherTypes !== 'function')) {
    throw new SchemaRuntimeError(`${filename} does not export byType validators and otherTypes`);
  }
  return exported as unknown as GeneratedSchemaModule;
}
