import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Lazy, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { PAYLOAD_SCHEMA_MODULE_FILE, SCHEMA_RUNTIME_MODULE_IDS } from '../../lambda/ingest/schema-runtime';
import { PayloadSchema, PayloadValidation, stageHandlerAsset } from '../../lib/payload-schema';

const OWNER = "WebhookStreamSource 'App/Stripe'";

/** A Stripe `invoice.paid` event, trimmed to the fields a consumer relies on. */
const INVOICE_PAID = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['id', 'object', 'type', 'created', 'data'],
  properties: {
    id: { type: 'string', pattern: '^evt_' },
    object: { const: 'event' },
    type: { const: 'invoice.paid' },
    created: { type: 'integer' },
    data: {
      type: 'object',
      required: ['object'],
      properties: {
        object: {
          type: 'object',
          required: ['id', 'amount_paid', 'currency'],
          properties: {
            id: { type: 'string' },
            amount_paid: { type: 'integer', minimum: 0 },
            currency: { type: 'string', minLength: 3, maxLength: 3 },
            customer_email: { type: ['string', 'null'], format: 'email' },
            lines: { type: 'array', uniqueItems: true, items: { $ref: '#/$defs/line' } },
          },
        },
      },
    },
  },
  $defs: {
    line: { type: 'object', required: ['id'], properties: { id: { type: 'string' }, amount: { type: 'integer' } } },
  },
};

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'payload-schema-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writeFile(name: string, content: string): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/** A stand-in for assets/ingest: an index.js and a file in a subfolder. */
function fakeBundle(name: string, indexJs = 'exports.handler = async () => ({ statusCode: 204 });\n'): string {
  const dir = path.join(tmp, name, 'ingest');
  fs.mkdirSync(path.join(dir, 'nested'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.js'), indexJs);
  fs.writeFileSync(path.join(dir, 'nested', 'data.txt'), 'bundled\n');
  return dir;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

describe('PayloadValidation._bind', () => {
  test('one schema: the config fragment names the mode and the module, and pins its hash', () => {
    // GIVEN
    const validation = PayloadValidation.strict(PayloadSchema.fromObject(INVOICE_PAID));

    // WHEN
    const binding = validation._bind(OWNER);

    // THEN
    const source = binding.files[PAYLOAD_SCHEMA_MODULE_FILE];
    expect(Object.keys(binding.files)).toEqual([PAYLOAD_SCHEMA_MODULE_FILE]);
    expect(binding.config).toEqual({ mode: 'strict', module: 'payload-schemas.js', sha256: sha256(source), unmatchedTypes: 'accept' });
    expect(binding.eventTypes).toEqual([]);
    expect(source).toMatch(/^"use strict";\n/);
    expect(source).toContain('exports.format = 1;');
    expect(source).toContain('exports.otherTypes = schemaModule(');
  });

  test('the generated code requires only the bundled schema runtime modules', () => {
    // GIVEN a schema that uses every runtime helper: formats, string lengths, deep equality
    const binding = PayloadValidation.quarantine(PayloadSchema.fromObject(INVOICE_PAID))._bind(OWNER);

    // WHEN
    const required = [...binding.files[PAYLOAD_SCHEMA_MODULE_FILE].matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);

    // THEN
    expect(new Set(required)).toEqual(new Set(['ajv/dist/runtime/ucs2length', 'ajv/dist/runtime/equal']));
    expect(required.every((id) => SCHEMA_RUNTIME_MODULE_IDS.includes(id))).toBe(true);
    expect(binding.config.mode).toBe('quarantine');
  });

  test('the same schemas generate the same module, so the asset hash is stable', () => {
    const bind = () => PayloadValidation.strictByEventType({
      'invoice.paid': PayloadSchema.fromObject(INVOICE_PAID),
      'customer.created': PayloadSchema.fromObject({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } }),
    })._bind(OWNER);
    expect(bind().files).toEqual(bind().files);
  });

  test('per event type: one validator per type, sorted, and the rule for other types', () => {
    // GIVEN
    const customer = PayloadSchema.fromObject({ type: 'object', properties: { email: { type: 'string', format: 'email' } } });
    const invoice = PayloadSchema.fromObject(INVOICE_PAID);

    // WHEN
    const accepting = PayloadValidation.strictByEventType({ 'invoice.paid': invoice, 'customer.created': customer })._bind(OWNER);
    const rejecting = PayloadValidation.quarantineByEventType({ 'invoice.paid': invoice }, { rejectOtherTypes: true })._bind(OWNER);
    const fallback = PayloadValidation.strictByEventType({ 'invoice.paid': invoice }, { otherTypesSchema: customer })._bind(OWNER);

    // THEN
    expect(accepting.eventTypes).toEqual(['customer.created', 'invoice.paid']);
    expect(accepting.config).toMatchObject({ mode: 'strict', unmatchedTypes: 'accept' });
    expect(accepting.files[PAYLOAD_SCHEMA_MODULE_FILE]).toContain('byType["customer.created"] = schemaModule(');
    expect(accepting.files[PAYLOAD_SCHEMA_MODULE_FILE]).toContain('exports.otherTypes = null;');
    expect(rejecting.config).toMatchObject({ mode: 'quarantine', unmatchedTypes: 'reject' });
    expect(fallback.files[PAYLOAD_SCHEMA_MODULE_FILE]).toContain('exports.otherTypes = schemaModule(');
  });

  test('draft-07 schemas compile too, chosen by their $schema', () => {
    const draft07 = PayloadSchema.fromObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { ref: { $ref: '#/definitions/ref' }, pair: { type: 'array', items: [{ type: 'string' }, { type: 'integer' }], minItems: 2, additionalItems: false } },
      definitions: { ref: { type: 'string', pattern: '^refs/heads/' } },
    });
    expect(() => PayloadValidation.strict(draft07)._bind(OWNER)).not.toThrow();
  });

  test('a $ref to an $id the schema declares is local', () => {
    const schema = PayloadSchema.fromObject({
      $id: 'https://schemas.example.com/invoice.json',
      type: 'object',
      properties: { customer: { $ref: 'customer.json' } },
      $defs: { customer: { $id: 'customer.json', type: 'object', properties: { id: { type: 'string' } } } },
    });
    expect(() => PayloadValidation.strict(schema)._bind(OWNER)).not.toThrow();
  });

  test('fromFile reads the file at synth, relative to the directory it was created in', () => {
    // GIVEN
    writeFile('schemas/invoice.paid.json', JSON.stringify(INVOICE_PAID));
    const cwd = process.cwd();
    let schema: PayloadSchema;
    try {
      process.chdir(tmp);
      schema = PayloadSchema.fromFile('schemas/invoice.paid.json');
    } finally {
      process.chdir(cwd);
    }

    // WHEN
    const fromFile = PayloadValidation.strict(schema)._bind(OWNER);
    const fromObject = PayloadValidation.strict(PayloadSchema.fromObject(INVOICE_PAID))._bind(OWNER);

    // THEN
    expect(schema.toString()).toBe(`file ${path.join(tmp, 'schemas', 'invoice.paid.json')}`);
    expect(fromFile.files).toEqual(fromObject.files);
  });

  test('fromObject copies the schema, so later changes are not seen', () => {
    const object: Record<string, any> = { type: 'object', properties: { id: { type: 'string' } } };
    const schema = PayloadSchema.fromObject(object);
    const before = PayloadValidation.strict(schema)._bind(OWNER).config.sha256;
    object.properties.id.type = 'integer';
    expect(PayloadValidation.strict(schema)._bind(OWNER).config.sha256).toBe(before);
  });
});

describe('PayloadValidation synth failures', () => {
  const bindOne = (schema: PayloadSchema) => PayloadValidation.strictByEventType({ 'invoice.paid': schema })._bind(OWNER);

  test('fails when a schema does not compile in strict mode (a typo such as "requried")', () => {
    const typo = PayloadSchema.fromObject({ type: 'object', requried: ['id'], properties: { id: { type: 'string' } } });
    expect(() => bindOne(typo)).toThrow(
      `WebhookStreamSource 'App/Stripe': schema for 'invoice.paid' (inline schema) does not compile: strict mode: unknown keyword: "requried"`,
    );
  });

  test('fails when a required property is not defined, or a format is unknown', () => {
    const required = PayloadSchema.fromObject({ type: 'object', required: ['ammount'], properties: { amount: { type: 'integer' } } });
    expect(() => bindOne(required)).toThrow(/schema for 'invoice.paid' \(inline schema\) does not compile: strict mode: required property "ammount" is not defined/);
    const format = PayloadSchema.fromObject({ type: 'object', properties: { email: { type: 'string', format: 'emial' } } });
    expect(() => bindOne(format)).toThrow(/does not compile: unknown format "emial"/);
  });

  test('fails when the one schema for every event does not compile, naming it the payload schema', () => {
    const bad = PayloadSchema.fromObject({ type: 'object', minimum: 'five' });
    expect(() => PayloadValidation.quarantine(bad)._bind(OWNER)).toThrow(/^WebhookStreamSource 'App\/Stripe': payload schema \(inline schema\) does not compile: /);
  });

  test('fails when a schema has a remote $ref', () => {
    const remote = PayloadSchema.fromObject({
      type: 'object',
      properties: { customer: { $ref: 'https://schemas.example.com/customer.json#/$defs/customer' } },
    });
    expect(() => bindOne(remote)).toThrow(
      "WebhookStreamSource 'App/Stripe': schema for 'invoice.paid' (inline schema) uses a remote $ref 'https://schemas.example.com/customer.json#/$defs/customer' at '#/properties/customer/$ref'; a pinned schema must be self-contained",
    );
    const relative = PayloadSchema.fromObject({ type: 'object', properties: { customer: { $ref: 'customer.json' } } });
    expect(() => bindOne(relative)).toThrow(/uses a remote \$ref 'customer.json'/);
    const metaSchema = PayloadSchema.fromObject({ allOf: [{ $ref: 'http://json-schema.org/draft-07/schema#' }] });
    expect(() => bindOne(metaSchema)).toThrow(/uses a remote \$ref 'http:\/\/json-schema.org\/draft-07\/schema#' at '#\/allOf\/0\/\$ref'/);
  });

  test('fails when the schema file cannot be read, or is not JSON', () => {
    const missing = path.join(tmp, 'missing.json');
    expect(() => bindOne(PayloadSchema.fromFile(missing))).toThrow(
      `WebhookStreamSource 'App/Stripe': schema for 'invoice.paid' (file ${missing}) cannot be read from ${missing}: ENOENT`,
    );
    const folder = path.join(tmp, 'a-folder.json');
    fs.mkdirSync(folder, { recursive: true });
    expect(() => bindOne(PayloadSchema.fromFile(folder))).toThrow(/cannot be read from .*a-folder\.json: EISDIR/);
    const notJson = writeFile('not-json.json', '{ "type": "object", }');
    expect(() => bindOne(PayloadSchema.fromFile(notJson))).toThrow(/\(file .*not-json\.json\) in .*not-json\.json is not JSON: /);
    const notObject = writeFile('array.json', '[]');
    expect(() => bindOne(PayloadSchema.fromFile(notObject))).toThrow(/array\.json\) must be a JSON object/);
  });

  test('fails when $schema names a dialect other than 2020-12 or draft-07', () => {
    const draft04 = PayloadSchema.fromObject({ $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' });
    expect(() => bindOne(draft04)).toThrow(/has \$schema 'http:\/\/json-schema.org\/draft-04\/schema#'; use 'https:\/\/json-schema.org\/draft\/2020-12\/schema' or/);
  });

  test('fails when a schema is asynchronous', () => {
    expect(() => bindOne(PayloadSchema.fromObject({ $async: true, type: 'object' }))).toThrow(/uses \$async; asynchronous schemas are not supported/);
  });

  test('fails when a schema holds an unresolved token', () => {
    const token = Lazy.string({ produce: () => 'invoice.paid' });
    expect(() => bindOne(PayloadSchema.fromObject({ type: 'object', properties: { type: { const: token } } })))
      .toThrow(/contains an unresolved token; a pinned schema must be literal JSON/);
  });

  test('fails when a schema compiles to more code than allowed', () => {
    // GIVEN an enum of 25,000 values: far beyond any one event's schema
    const huge = PayloadSchema.fromObject({ type: 'string', enum: Array.from({ length: 25_000 }, (_, i) => `value-${i}`) });

    // THEN
    expect(() => bindOne(huge)).toThrow(/schema for 'invoice.paid' \(inline schema\) compiles to \d+ KiB of code, more than the 256 KiB allowed; pin only the events you receive/);
  });

  test('fails when the generated code requires a module the handler does not bundle', () => {
    // GIVEN a handler whose runtime list lacks deep equality
    jest.isolateModules(() => {
      jest.doMock('../../lambda/ingest/schema-runtime', () => {
        const actual = jest.requireActual('../../lambda/ingest/schema-runtime');
        return { ...actual, SCHEMA_RUNTIME_MODULE_IDS: actual.SCHEMA_RUNTIME_MODULE_IDS.filter((id: string) => id !== 'ajv/dist/runtime/equal') };
      });
      const isolated: typeof import('../../lib/payload-schema') = require('../../lib/payload-schema');
      const schema = isolated.PayloadSchema.fromObject({ type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } });

      // THEN
      expect(() => isolated.PayloadValidation.strict(schema)._bind(OWNER)).toThrow(
        "WebhookStreamSource 'App/Stripe': payload schema (inline schema) compiles to code that requires 'ajv/dist/runtime/equal', which the handler does not bundle",
      );
    });
    jest.dontMock('../../lambda/ingest/schema-runtime');
  });

  test('fails when the event type map is empty, or a type is empty', () => {
    expect(() => PayloadValidation.strictByEventType({})).toThrow(
      'PayloadValidation.strictByEventType: schemas must map at least one event type to a schema; for one schema for every event, use PayloadValidation.strict(schema)',
    );
    expect(() => PayloadValidation.quarantineByEventType({ '': PayloadSchema.fromObject({}) })).toThrow(/event types must be literal, non-empty strings/);
  });

  test('fails when both a schema for other types and rejectOtherTypes are given', () => {
    const schema = PayloadSchema.fromObject({ type: 'object' });
    expect(() => PayloadValidation.strictByEventType({ 'invoice.paid': schema }, { otherTypesSchema: schema, rejectOtherTypes: true }))
      .toThrow(/give otherTypesSchema or rejectOtherTypes, not both/);
  });

  test('fails when fromObject is not given an object, or fromFile an empty path', () => {
    expect(() => PayloadSchema.fromObject([] as unknown as Record<string, unknown>)).toThrow('PayloadSchema.fromObject: the schema must be a JSON object');
    expect(() => PayloadSchema.fromFile(' ')).toThrow(/PayloadSchema.fromFile: the path must be a non-empty string/);
  });
});

describe('stageHandlerAsset', () => {
  const FILES = { 'payload-schemas.js': '"use strict";\nexports.format = 1;\n' };

  test('copies the bundle and writes the files beside index.js, leaving the bundle as it was', () => {
    // GIVEN
    const bundle = fakeBundle('copy');
    const root = path.join(tmp, 'staging-copy');

    // WHEN
    const staged = stageHandlerAsset(bundle, FILES, root);

    // THEN
    expect(path.dirname(staged)).toBe(root);
    expect(path.basename(staged)).toMatch(/^ingest-[0-9a-f]{32}$/);
    expect(fs.readFileSync(path.join(staged, 'index.js'), 'utf8')).toBe(fs.readFileSync(path.join(bundle, 'index.js'), 'utf8'));
    expect(fs.readFileSync(path.join(staged, 'nested', 'data.txt'), 'utf8')).toBe('bundled\n');
    expect(fs.readFileSync(path.join(staged, 'payload-schemas.js'), 'utf8')).toBe(FILES['payload-schemas.js']);
    expect(fs.readdirSync(bundle).sort()).toEqual(['index.js', 'nested']);
    expect(fs.readdirSync(root)).toEqual([path.basename(staged)]);
    expect(fs.statSync(path.join(staged, 'payload-schemas.js')).mode & 0o777).toBe(0o644);
    expect(fs.statSync(root).mode & 0o777).toBe(0o700);
  });

  test('the folder is named by its content: same content, same folder; other content, another', () => {
    const bundle = fakeBundle('names');
    const root = path.join(tmp, 'staging-names');
    const first = stageHandlerAsset(bundle, FILES, root);
    expect(stageHandlerAsset(bundle, { ...FILES }, root)).toBe(first);
    expect(stageHandlerAsset(bundle, { 'payload-schemas.js': 'exports.format = 2;\n' }, root)).not.toBe(first);
    fs.writeFileSync(path.join(bundle, 'index.js'), 'exports.handler = async () => ({ statusCode: 500 });\n');
    expect(stageHandlerAsset(bundle, FILES, root)).not.toBe(first);
  });

  test('a staged folder whose content changed is replaced', () => {
    const bundle = fakeBundle('tamper');
    const root = path.join(tmp, 'staging-tamper');
    const staged = stageHandlerAsset(bundle, FILES, root);
    fs.writeFileSync(path.join(staged, 'payload-schemas.js'), 'exports.format = 999;\n');
    fs.writeFileSync(path.join(staged, 'extra.js'), '');
    expect(stageHandlerAsset(bundle, FILES, root)).toBe(staged);
    expect(fs.readFileSync(path.join(staged, 'payload-schemas.js'), 'utf8')).toBe(FILES['payload-schemas.js']);
    expect(fs.existsSync(path.join(staged, 'extra.js'))).toBe(false);
  });

  test('lambda.Code.fromAsset gives the same asset hash wherever the folder was staged', () => {
    // GIVEN the same bundle and files, staged under two roots (two machines)
    const bundle = fakeBundle('hash');
    const bind = (dir: string) => lambda.Code.fromAsset(dir).bind(new Stack(new App(), 'Hash'));
    const a = bind(stageHandlerAsset(bundle, FILES, path.join(tmp, 'machine-a')));
    const b = bind(stageHandlerAsset(bundle, FILES, path.join(tmp, 'machine-b')));
    const other = bind(stageHandlerAsset(bundle, { 'payload-schemas.js': '' }, path.join(tmp, 'machine-a')));

    // THEN
    expect(a.s3Location?.objectKey).toBe(b.s3Location?.objectKey);
    expect(other.s3Location?.objectKey).not.toBe(a.s3Location?.objectKey);
  });

  test('by default, stages under a private folder in the OS temp folder', () => {
    const staged = stageHandlerAsset(fakeBundle('default'), FILES);
    try {
      expect(path.dirname(path.dirname(staged))).toBe(os.tmpdir());
      expect(path.basename(path.dirname(staged))).toMatch(/^cdk-webhook-ingress-/);
      expect(fs.statSync(path.dirname(staged)).mode & 0o077).toBe(0);
    } finally {
      fs.rmSync(staged, { recursive: true, force: true });
    }
  });

  test('fails when the bundle has no index.js', () => {
    const empty = path.join(tmp, 'empty-bundle');
    fs.mkdirSync(empty, { recursive: true });
    expect(() => stageHandlerAsset(empty, FILES, path.join(tmp, 'staging-empty'))).toThrow(
      `cdk-webhook-ingress: the handler bundle is missing at ${empty}; run 'npm run bundle'`,
    );
  });

  test('fails when a file name is a path, or one the bundle already uses', () => {
    const bundle = fakeBundle('names-bad');
    const root = path.join(tmp, 'staging-bad');
    expect(() => stageHandlerAsset(bundle, { 'index.js': '' }, root)).toThrow(/cannot stage 'index.js' beside the handler/);
    expect(() => stageHandlerAsset(bundle, { '../escape.js': '' }, root)).toThrow(/cannot stage '..\/escape.js' beside the handler/);
    expect(() => stageHandlerAsset(bundle, { 'nested/x.js': '' }, root)).toThrow(/must be a plain file name/);
  });

  test('fails when the staging folder is writable by others', () => {
    const shared = path.join(tmp, 'shared-root');
    fs.mkdirSync(shared, { recursive: true });
    fs.chmodSync(shared, 0o777);
    expect(() => stageHandlerAsset(fakeBundle('shared'), FILES, shared)).toThrow(/the staging folder .*shared-root must be a folder owned by the current user that only they can write to/);
  });
});
