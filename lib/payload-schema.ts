import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Size, Token } from 'aws-cdk-lib';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import type AjvCore from 'ajv/dist/core';
import standaloneCode from 'ajv/dist/standalone';
import addFormats from 'ajv-formats';
import {
  PAYLOAD_SCHEMA_MODULE_FILE,
  PAYLOAD_SCHEMA_MODULE_FORMAT,
  SCHEMA_RUNTIME_MODULE_IDS,
  evaluateSchemaModule,
  requireSchemaRuntime,
  type PayloadValidationConfig,
} from '../lambda/ingest/schema-runtime';

const DRAFT_07 = /^http:\/\/json-schema\.org\/draft-07\/schema#?$/;
const DRAFT_2020_12 = /^https:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/;
const EVENT_TYPE_MAX_LENGTH = 256;

/** A placeholder base URI, so that relative `$id`s and `$ref`s resolve. Never fetched. */
const ROOT_BASE = 'https://payload-schema.invalid/root.json';

/** Keywords whose value is one schema, a list of schemas, or a map of names to schemas. */
const SUBSCHEMA = ['additionalItems', 'additionalProperties', 'contains', 'contentSchema', 'else', 'if', 'items', 'not', 'propertyNames', 'then', 'unevaluatedItems', 'unevaluatedProperties'];
const SUBSCHEMA_LIST = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'];
const SUBSCHEMA_MAP = ['$defs', 'definitions', 'dependentSchemas', 'patternProperties', 'properties', 'dependencies'];

type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A pinned JSON Schema for webhook events, compiled at synth time into standalone validation
 * code that ships beside the handler. The handler never compiles a schema, so a schema costs
 * nothing at cold start beyond loading its code.
 *
 * Dialects: JSON Schema 2020-12 (the default, when the schema has no `$schema`) and draft-07
 * (`"$schema": "http://json-schema.org/draft-07/schema#"`). Any other `$schema` fails synthesis.
 *
 * The schema is compiled with ajv in strict mode, so an unknown keyword (a typo such as
 * `requried`), an unknown format, a `required` property that `properties` does not define, or a
 * keyword that does not apply to the declared type fails synthesis. Union types such as
 * `["string", "null"]` are allowed. Formats come from ajv-formats (`date-time`, `email`, `uri`,
 * `uuid`, ...).
 *
 * The schema must be self-contained: every `$ref` points inside it (`#/$defs/...`, or an `$id`
 * it declares). Nothing is fetched, at synth or at run time. Its compiled code may be at most
 * {@link PayloadSchema.MAX_COMPILED_SIZE}.
 *
 * Validation never changes an event: no defaults are filled in, no types coerced, no additional
 * properties removed.
 *
 * @example
 * PayloadSchema.fromFile('schemas/invoice.paid.json');
 * PayloadSchema.fromObject({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } });
 */
export class PayloadSchema {
  /**
   * The most standalone code one schema may compile to: 256 KiB.
   *
   * The handler parses the generated code at every cold start, and the code grows with the
   * schema: a realistic vendor event schema compiles to some tens of KiB. A schema past this size
   * is almost always a whole API description pasted in; pin the events you receive instead.
   */
  public static readonly MAX_COMPILED_SIZE: Size = Size.kibibytes(256);

  /**
   * A JSON Schema in a JSON file, read at synth time.
   *
   * @param filePath the file, absolute or relative to the current directory
   */
  public static fromFile(filePath: string): PayloadSchema {
    if (typeof filePath !== 'string' || filePath.trim() === '') {
      throw new Error(`PayloadSchema.fromFile: the path must be a non-empty string, got '${String(filePath)}'`);
    }
    const absolute = path.resolve(filePath);
    return new PayloadSchema(`file ${absolute}`, () => {
      let text: string;
      try {
        text = fs.readFileSync(absolute, 'utf8');
      } catch (error) {
        throw new SchemaProblem(`cannot be read from ${absolute}: ${(error as Error).message}`);
      }
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new SchemaProblem(`in ${absolute} is not JSON: ${(error as Error).message}`);
      }
    });
  }

  /**
   * A JSON Schema given as an object. It is copied now, so later changes to the object are not
   * seen.
   */
  public static fromObject(schema: { [key: string]: any }): PayloadSchema {
    if (!isObject(schema)) {
      throw new Error('PayloadSchema.fromObject: the schema must be a JSON object');
    }
    const copy: unknown = JSON.parse(JSON.stringify(schema));
    return new PayloadSchema('inline schema', () => JSON.parse(JSON.stringify(copy)));
  }

  private constructor(private readonly description: string, private readonly load: () => unknown) {}

  /** Where the schema comes from, such as `file /app/schemas/invoice.paid.json`. */
  public toString(): string {
    return this.description;
  }

  /**
   * Reads and checks the schema and compiles it to standalone CommonJS code that exports one
   * validation function.
   *
   * @param owner names the construct in error messages, such as `WebhookStreamSource 'App/Stripe'`
   * @param label names the schema in error messages, such as `schema for 'invoice.paid'`
   * @internal
   */
  public _compile(owner: string, label: string): string {
    const fail = (problem: string): never => {
      throw new Error(`${owner}: ${label} (${this.description}) ${problem}`);
    };
    let schema: unknown;
    try {
      schema = this.load();
    } catch (error) {
      if (error instanceof SchemaProblem) fail(error.message);
      throw error;
    }
    if (!isObject(schema)) return fail('must be a JSON object');
    if (Token.isUnresolved(JSON.stringify(schema))) {
      fail('contains an unresolved token; a pinned schema must be literal JSON');
    }
    if (schema.$async !== undefined) fail('uses $async; asynchronous schemas are not supported');
    const remote = findRemoteRef(schema);
    if (remote !== undefined) {
      fail(`uses a remote $ref '${remote.ref}' at '${remote.at}'; a pinned schema must be self-contained: `
        + "copy the referenced schema under $defs and point at it with '#/$defs/<name>'");
    }
    const ajv = newAjv(schema.$schema, fail);
    let code: string;
    try {
      code = standaloneCode(ajv, ajv.compile(schema));
    } catch (error) {
      if (error instanceof RangeError) fail(`is too large or too deeply nested to compile: ${error.message}`);
      return fail(`does not compile: ${(error as Error).message}`);
    }
    const size = Buffer.byteLength(code, 'utf8');
    const limit = PayloadSchema.MAX_COMPILED_SIZE.toBytes();
    if (size > limit) {
      fail(`compiles to ${kib(size)} of code, more than the ${kib(limit)} allowed; pin only the events you receive`);
    }
    const unknown = requiredIds(code).filter((id) => !SCHEMA_RUNTIME_MODULE_IDS.includes(id));
    if (unknown.length > 0) {
      fail(`compiles to code that requires '${unknown.join("', '")}', which the handler does not bundle (it bundles ${SCHEMA_RUNTIME_MODULE_IDS.join(', ')})`);
    }
    return code;
  }
}

/** A problem with the schema itself; the caller adds who and which. */
class SchemaProblem extends Error {}

function kib(bytes: number): string {
  return `${Math.ceil(bytes / 1024)} KiB`;
}

function newAjv(dialect: unknown, fail: (problem: string) => never): AjvCore {
  const options = {
    strict: true,
    allowUnionTypes: true,
    // Stop at the first failing keyword: cheaper, and no error list a sender can grow.
    allErrors: false,
    // Never copy the event's values into errors.
    verbose: false,
    $data: false,
    coerceTypes: false,
    useDefaults: false,
    removeAdditional: false,
    code: { source: true, esm: false, lines: false, optimize: true },
  } as const;
  let ajv: AjvCore;
  if (dialect === undefined || (typeof dialect === 'string' && DRAFT_2020_12.test(dialect))) {
    ajv = new Ajv2020(options);
  } else if (typeof dialect === 'string' && DRAFT_07.test(dialect)) {
    ajv = new Ajv(options);
  } else {
    return fail(`has $schema '${String(dialect)}'; use 'https://json-schema.org/draft/2020-12/schema' or 'http://json-schema.org/draft-07/schema#', or leave it out for 2020-12`);
  }
  addFormats(ajv as Ajv);
  return ajv;
}

/** Every `require("...")` in generated code. ajv writes them with double quotes. */
function requiredIds(code: string): string[] {
  const ids = new Set<string>();
  for (const match of code.matchAll(/\brequire\s*\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\)/g)) {
    const literal = match[1];
    ids.add(literal.startsWith('"') ? JSON.parse(literal) : literal.slice(1, -1));
  }
  return [...ids].sort();
}

function resolveUri(ref: string, base: string): string | undefined {
  try {
    return new URL(ref, base).href;
  } catch {
    return undefined;
  }
}

function withoutFragment(uri: string): string {
  const hash = uri.indexOf('#');
  return hash < 0 ? uri : uri.slice(0, hash);
}

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The first `$ref` (or `$dynamicRef`, `$recursiveRef`) that points outside the schema: to a
 * document that is neither the schema itself nor one of the `$id`s it declares.
 */
function findRemoteRef(root: JsonObject): { ref: string; at: string } | undefined {
  const documents = new Set<string>();
  const refs: { ref: string; resolved: string | undefined; at: string }[] = [];

  const visit = (node: unknown, base: string, at: string): void => {
    if (!isObject(node)) return;
    let scope = base;
    if (typeof node.$id === 'string') {
      scope = resolveUri(node.$id, base) ?? base;
      documents.add(withoutFragment(scope));
    }
    for (const keyword of ['$ref', '$dynamicRef', '$recursiveRef']) {
      const ref = node[keyword];
      if (typeof ref === 'string') refs.push({ ref, resolved: resolveUri(ref, scope), at: `${at}/${keyword}` });
    }
    for (const keyword of SUBSCHEMA) visit(node[keyword], scope, `${at}/${keyword}`);
    for (const keyword of SUBSCHEMA_LIST) {
      const list = node[keyword];
      if (Array.isArray(list)) list.forEach((item, i) => visit(item, scope, `${at}/${keyword}/${i}`));
    }
    for (const keyword of SUBSCHEMA_MAP) {
      const map = node[keyword];
      if (isObject(map)) {
        for (const [name, sub] of Object.entries(map)) visit(sub, scope, `${at}/${keyword}/${escapePointer(name)}`);
      }
    }
  };

  documents.add(withoutFragment(ROOT_BASE));
  visit(root, ROOT_BASE, '#');
  const remote = refs.find((r) => r.resolved === undefined || !documents.has(withoutFragment(r.resolved)));
  return remote === undefined ? undefined : { ref: remote.ref, at: remote.at };
}

/** Options for {@link PayloadValidation.strictByEventType} and {@link PayloadValidation.quarantineByEventType}. */
export interface EventTypeValidationOptions {
  /**
   * The schema for events whose type is not listed, and for events without a type.
   *
   * @default - no schema: such events follow `rejectOtherTypes`
   */
  readonly otherTypesSchema?: PayloadSchema;

  /**
   * Whether an event whose type is not listed (or that has no type) is invalid, when there is no
   * `otherTypesSchema`: answered 400 in strict mode, quarantined otherwise. To drop such events
   * silently instead, list the types you want in the source's allowed event types.
   *
   * @default false - such events are accepted as they are, unvalidated
   */
  readonly rejectOtherTypes?: boolean;
}

/**
 * What the construct needs from a {@link PayloadValidation}.
 *
 * @internal
 */
export interface PayloadValidationBinding {
  /** The fragment of the handler's configuration document. */
  readonly config: PayloadValidationConfig;
  /** Files to write beside the handler's index.js, name to content. */
  readonly files: { readonly [fileName: string]: string };
  /** Event types with a schema of their own, sorted. Empty for one schema for every event. */
  readonly eventTypes: readonly string[];
}

type Mode = PayloadValidationConfig['mode'];

/**
 * Whether and how a webhook source validates each event against a pinned JSON Schema, and what
 * happens to an event that does not match.
 *
 * - strict: the request is answered 400, naming the failing JSON pointer and what is wrong
 *   (never the value), and nothing from it is written. Senders retry 4xx rarely; use this when
 *   you control the sender, or when a wrong event must never be acknowledged.
 * - quarantine: the event goes to the quarantine destination with the reason, is counted in a
 *   metric, and the sender gets its 202. Use this for vendors whose payloads drift.
 *
 * Validation happens after the event type filter: events of types the source does not allow are
 * dropped before any schema is consulted.
 *
 * @example
 * PayloadValidation.quarantineByEventType({
 *   'invoice.paid': PayloadSchema.fromFile('schemas/invoice.paid.json'),
 *   'customer.created': PayloadSchema.fromFile('schemas/customer.created.json'),
 * }, { rejectOtherTypes: true });
 */
export class PayloadValidation {
  /** The most code the schemas of one source may compile to, together: 1 MiB. */
  public static readonly MAX_MODULE_SIZE: Size = Size.mebibytes(1);

  /** Every event must match `schema`; an event that does not is answered 400. */
  public static strict(schema: PayloadSchema): PayloadValidation {
    return new PayloadValidation('strict', {}, schema, false);
  }

  /** Every event must match `schema`; an event that does not is quarantined with the reason. */
  public static quarantine(schema: PayloadSchema): PayloadValidation {
    return new PayloadValidation('quarantine', {}, schema, false);
  }

  /**
   * Each event must match the schema for its type, matched exactly and case-sensitively against
   * the event type the source extracts; an event that does not is answered 400.
   *
   * @param schemas event type to schema
   */
  public static strictByEventType(schemas: { [eventType: string]: PayloadSchema }, options: EventTypeValidationOptions = {}): PayloadValidation {
    return PayloadValidation.byEventType('strict', 'strictByEventType', schemas, options);
  }

  /**
   * Each event must match the schema for its type, matched exactly and case-sensitively against
   * the event type the source extracts; an event that does not is quarantined with the reason.
   *
   * @param schemas event type to schema
   */
  public static quarantineByEventType(schemas: { [eventType: string]: PayloadSchema }, options: EventTypeValidationOptions = {}): PayloadValidation {
    return PayloadValidation.byEventType('quarantine', 'quarantineByEventType', schemas, options);
  }

  private static byEventType(
    mode: Mode,
    factory: string,
    schemas: { [eventType: string]: PayloadSchema },
    options: EventTypeValidationOptions,
  ): PayloadValidation {
    const where = `PayloadValidation.${factory}`;
    if (!isObject(schemas) || Object.keys(schemas).length === 0) {
      throw new Error(`${where}: schemas must map at least one event type to a schema; for one schema for every event, use PayloadValidation.${mode}(schema)`);
    }
    for (const [type, schema] of Object.entries(schemas)) {
      if (type === '' || type.length > EVENT_TYPE_MAX_LENGTH || Token.isUnresolved(type)) {
        throw new Error(`${where}: event types must be literal, non-empty strings of at most ${EVENT_TYPE_MAX_LENGTH} characters, got '${type}'`);
      }
      if (!(schema instanceof PayloadSchema)) {
        throw new Error(`${where}: the schema for '${type}' must be a PayloadSchema, such as PayloadSchema.fromFile(...)`);
      }
    }
    if (options.otherTypesSchema !== undefined && options.rejectOtherTypes === true) {
      throw new Error(`${where}: give otherTypesSchema or rejectOtherTypes, not both; with a schema for other types, none are rejected for lack of one`);
    }
    return new PayloadValidation(mode, { ...schemas }, options.otherTypesSchema, options.rejectOtherTypes ?? false);
  }

  private constructor(
    private readonly mode: Mode,
    private readonly byType: { readonly [eventType: string]: PayloadSchema },
    private readonly otherTypes: PayloadSchema | undefined,
    private readonly rejectOtherTypes: boolean,
  ) {}

  /**
   * Compiles every schema and generates the module the handler loads.
   *
   * The module (CommonJS) exports `format`, `byType` (event type to validation function, in an
   * object without a prototype) and `otherTypes` (a validation function, or null). Each function
   * is ajv's standalone code: `validate(event)` returns a boolean and leaves `validate.errors`.
   *
   * @param owner names the construct in error messages, such as `WebhookStreamSource 'App/Stripe'`
   * @internal
   */
  public _bind(owner: string): PayloadValidationBinding {
    const eventTypes = Object.keys(this.byType).sort();
    const single = eventTypes.length === 0;
    const parts = [
      '"use strict";',
      '// Generated by cdk-webhook-ingress at synth time: ajv standalone code for pinned JSON Schemas. Do not edit.',
      `exports.format = ${PAYLOAD_SCHEMA_MODULE_FORMAT};`,
      'function schemaModule(define) { const module = { exports: {} }; define(module, module.exports); return module.exports; }',
      'const byType = Object.create(null);',
    ];
    for (const type of eventTypes) {
      const code = this.byType[type]._compile(owner, `schema for '${type}'`);
      parts.push(`byType[${JSON.stringify(type)}] = schemaModule(function (module, exports) {\n${code}\n});`);
    }
    parts.push('exports.byType = byType;');
    if (this.otherTypes === undefined) {
      parts.push('exports.otherTypes = null;');
    } else {
      const code = this.otherTypes._compile(owner, single ? 'payload schema' : 'schema for other event types');
      parts.push(`exports.otherTypes = schemaModule(function (module, exports) {\n${code}\n});`);
    }
    const source = `${parts.join('\n')}\n`;

    const size = Buffer.byteLength(source, 'utf8');
    const limit = PayloadValidation.MAX_MODULE_SIZE.toBytes();
    if (size > limit) {
      throw new Error(`${owner}: the schemas compile to ${kib(size)} of code, more than the ${kib(limit)} allowed for one source`);
    }
    // Load it the way the handler will, so that a module the handler cannot load fails here.
    try {
      evaluateSchemaModule(source, PAYLOAD_SCHEMA_MODULE_FILE, requireSchemaRuntime);
    } catch (error) {
      throw new Error(`${owner}: the generated schema module does not load: ${(error as Error).message}`);
    }
    return {
      config: {
        mode: this.mode,
        module: PAYLOAD_SCHEMA_MODULE_FILE,
        sha256: createHash('sha256').update(source, 'utf8').digest('hex'),
        unmatchedTypes: this.rejectOtherTypes ? 'reject' : 'accept',
      },
      files: { [PAYLOAD_SCHEMA_MODULE_FILE]: source },
      eventTypes,
    };
  }
}

const STAGED_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface TreeEntry {
  readonly name: string;
  readonly content: Buffer;
}

/** Every regular file under `dir`, with `/`-separated relative names, sorted. */
function readTree(dir: string): TreeEntry[] {
  const entries: TreeEntry[] = [];
  const walk = (relative: string): void => {
    for (const item of fs.readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const name = relative === '' ? item.name : `${relative}/${item.name}`;
      if (item.isDirectory()) walk(name);
      else if (item.isFile()) entries.push({ name, content: fs.readFileSync(path.join(dir, name)) });
      else throw new Error(`cdk-webhook-ingress: ${path.join(dir, name)} is neither a file nor a folder; the handler bundle must hold plain files`);
    }
  };
  walk('');
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function digestTree(entries: readonly TreeEntry[]): string {
  const hash = createHash('sha256');
  for (const entry of entries) {
    hash.update(`${entry.name}\0${entry.content.length}\0`);
    hash.update(entry.content);
  }
  return hash.digest('hex');
}

/** A folder of our own under the OS temp folder, writable only by the current user. */
function defaultStagingRoot(): string {
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `cdk-webhook-ingress-${user}`);
}

function ensurePrivateFolder(root: string): void {
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(root);
  const foreign = typeof process.getuid === 'function' && stat.uid !== process.getuid();
  if (!stat.isDirectory() || foreign || (process.platform !== 'win32' && (stat.mode & 0o022) !== 0)) {
    throw new Error(`cdk-webhook-ingress: the staging folder ${root} must be a folder owned by the current user that only they can write to`);
  }
}

/**
 * Copies a prebundled handler folder and writes `files` beside its index.js, in a folder named
 * after a hash of the result, and returns that folder for `lambda.Code.fromAsset`.
 *
 * The folder is `<os temp>/cdk-webhook-ingress-<uid>/<bundle name>-<hash>/`: outside the package
 * (which may be read-only in node_modules, and whose build tree stays clean) and outside the
 * cloud assembly (CDK copies the asset there itself). The root is private to the current user.
 * Identical content gives the identical path and the identical CDK asset hash, on any machine, and
 * is staged once; the folder is written elsewhere and renamed into place, so a concurrent synth
 * never sees half of it. A folder whose content no longer matches its name is replaced.
 *
 * @param bundleDir the prebundled handler, such as `assets/ingest`; must contain index.js
 * @param files file name to content, written beside index.js; names must be plain file names
 *   that the bundle does not already use
 * @param stagingRoot where the staged folders go
 * @internal
 * @jsii ignore
 */
export function stageHandlerAsset(
  bundleDir: string,
  files: { readonly [fileName: string]: string },
  stagingRoot: string = defaultStagingRoot(),
): string {
  if (!fs.existsSync(path.join(bundleDir, 'index.js'))) {
    throw new Error(`cdk-webhook-ingress: the handler bundle is missing at ${bundleDir}; run 'npm run bundle'`);
  }
  const bundle = readTree(bundleDir);
  const taken = new Set(bundle.map((e) => e.name));
  const extra: TreeEntry[] = Object.entries(files).map(([name, content]) => {
    if (!STAGED_FILE_NAME.test(name) || taken.has(name)) {
      throw new Error(`cdk-webhook-ingress: cannot stage '${name}' beside the handler: it must be a plain file name that the bundle does not use`);
    }
    return { name, content: Buffer.from(content, 'utf8') };
  });
  const entries = [...bundle, ...extra].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const digest = digestTree(entries);
  ensurePrivateFolder(stagingRoot);
  const target = path.join(stagingRoot, `${path.basename(path.resolve(bundleDir))}-${digest.slice(0, 32)}`);
  const isComplete = (): boolean => fs.existsSync(target) && digestTree(readTree(target)) === digest;
  if (isComplete()) return target;

  const scratch = fs.mkdtempSync(path.join(stagingRoot, '.staging-'));
  try {
    for (const entry of entries) {
      const file = path.join(scratch, ...entry.name.split('/'));
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
      fs.writeFileSync(file, entry.content);
      // Lambda runs the code as another user: the files must be readable by all.
      fs.chmodSync(file, 0o644);
    }
    fs.chmodSync(scratch, 0o755);
    try {
      fs.renameSync(scratch, target);
    } catch (error) {
      if (isComplete()) return target; // a concurrent synth staged the same content first
      if (!fs.existsSync(target)) throw error;
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(scratch, target);
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return target;
}
