import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { ConfigError } from '../../../lambda/common/config-document';
import { parsePayloadValidationConfig } from '../../../lambda/ingest/config';
import { errorResponse } from '../../../lambda/common/http';
import {
  MAX_REPORTED_VIOLATIONS,
  SchemaViolationError,
  describeViolations,
  loadPayloadValidator,
  validateEvent,
  type PayloadValidator,
} from '../../../lambda/ingest/schema';
import {
  SCHEMA_RUNTIME_MODULE_IDS,
  SchemaRuntimeError,
  evaluateSchemaModule,
  requireSchemaRuntime,
  type CompiledValidator,
} from '../../../lambda/ingest/schema-runtime';
import { PayloadSchema, PayloadValidation, stageHandlerAsset, type PayloadValidationBinding } from '../../../lib/payload-schema';

const ROOT = path.join(__dirname, '..', '..', '..');
const OWNER = "WebhookStreamSource 'App/Stripe'";

/**
 * Stripe's `invoice.paid`, pinned the way a consumer would: Stripe may add fields anywhere
 * except `request`, whose shape is pinned with `additionalProperties: false`.
 */
const INVOICE_PAID_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://schemas.example.com/stripe/invoice.paid.json',
  type: 'object',
  required: ['id', 'object', 'api_version', 'created', 'livemode', 'type', 'data', 'request'],
  properties: {
    id: { type: 'string', pattern: '^evt_[A-Za-z0-9]+$' },
    object: { const: 'event' },
    api_version: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}' },
    created: { type: 'integer', minimum: 0 },
    livemode: { type: 'boolean' },
    pending_webhooks: { type: 'integer', minimum: 0 },
    type: { const: 'invoice.paid' },
    request: {
      type: 'object',
      required: ['id', 'idempotency_key'],
      properties: { id: { type: ['string', 'null'] }, idempotency_key: { type: ['string', 'null'] } },
      additionalProperties: false,
    },
    data: {
      type: 'object',
      required: ['object'],
      properties: { object: { $ref: '#/$defs/invoice' } },
    },
  },
  $defs: {
    invoice: {
      type: 'object',
      required: ['id', 'object', 'amount_due', 'amount_paid', 'currency', 'customer', 'status', 'lines'],
      properties: {
        id: { type: 'string', pattern: '^in_' },
        object: { const: 'invoice' },
        amount_due: { type: 'integer' },
        amount_paid: { type: 'integer', minimum: 0 },
        amount_remaining: { type: 'integer' },
        currency: { type: 'string', pattern: '^[a-z]{3}$' },
        customer: { type: 'string', pattern: '^cus_' },
        customer_email: { type: ['string', 'null'], format: 'email' },
        status: { enum: ['draft', 'open', 'paid', 'uncollectible', 'void'] },
        paid: { type: 'boolean' },
        metadata: { type: 'object', additionalProperties: { type: 'string', maxLength: 500 } },
        lines: {
          type: 'object',
          required: ['object', 'data', 'has_more'],
          properties: {
            object: { const: 'list' },
            data: { type: 'array', items: { $ref: '#/$defs/lineItem' } },
            has_more: { type: 'boolean' },
            url: { type: 'string' },
          },
        },
        status_transitions: {
          type: 'object',
          properties: { paid_at: { type: ['integer', 'null'] } },
        },
      },
    },
    lineItem: {
      type: 'object',
      required: ['id', 'amount', 'currency', 'period'],
      properties: {
        id: { type: 'string' },
        amount: { type: 'integer' },
        currency: { type: 'string', pattern: '^[a-z]{3}$' },
        description: { type: ['string', 'null'], maxLength: 5000 },
        period: {
          type: 'object',
          required: ['start', 'end'],
          properties: { start: { type: 'integer' }, end: { type: 'integer' } },
        },
      },
    },
  },
};

function invoicePaid(): Record<string, any> {
  return {
    id: 'evt_1PqRsT2eZvKYlo2C0aBcDeFg',
    object: 'event',
    api_version: '2024-06-20',
    created: 1767225600,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'invoice.paid',
    data: {
      object: {
        id: 'in_1PqRsT2eZvKYlo2C',
        object: 'invoice',
        amount_due: 2000,
        amount_paid: 2000,
        amount_remaining: 0,
        currency: 'usd',
        customer: 'cus_Q1w2e3r4',
        customer_email: 'jenny.rosen@example.com',
        status: 'paid',
        paid: true,
        metadata: { order_id: '6735' },
        lines: {
          object: 'list',
          data: [{ id: 'il_1', amount: 2000, currency: 'usd', description: '1 × Pro', period: { start: 1767225600, end: 1769904000 } }],
          has_more: false,
          url: '/v1/invoices/in_1PqRsT2eZvKYlo2C/lines',
        },
        status_transitions: { paid_at: 1767225600 },
      },
    },
  };
}

/** A Segment `track` call: ISO 8601 timestamps and an email trait. Draft-07. */
const TRACK_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  required: ['type', 'messageId', 'timestamp', 'event'],
  properties: {
    type: { const: 'track' },
    messageId: { type: 'string', minLength: 1 },
    timestamp: { type: 'string', format: 'date-time' },
    sentAt: { type: 'string', format: 'date-time' },
    userId: { type: ['string', 'null'] },
    event: { type: 'string' },
    properties: { type: 'object' },
    context: {
      type: 'object',
      properties: { traits: { type: 'object', properties: { email: { type: 'string', format: 'email' } } } },
    },
  },
};

function track(): Record<string, any> {
  return {
    type: 'track',
    messageId: 'ajs-next-1767225600000-4b3c2d1e',
    timestamp: '2026-01-01T00:00:00.000Z',
    sentAt: '2026-01-01T00:00:00.120Z',
    userId: 'user_42',
    event: 'Order Completed',
    properties: { total: 20 },
    context: { traits: { email: 'jenny.rosen@example.com' } },
  };
}

const CUSTOMER_CREATED_SCHEMA = {
  type: 'object',
  required: ['type', 'data'],
  properties: {
    type: { const: 'customer.created' },
    data: { type: 'object', required: ['object'], properties: { object: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^cus_' } } } } },
  },
};

let tmp: string;
let bundleDir: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'schema-test-'));
  bundleDir = path.join(tmp, 'bundle', 'ingest');
  fs.mkdirSync(bundleDir, { recursive: true });
  fs.writeFileSync(path.join(bundleDir, 'index.js'), 'exports.handler = async () => ({ statusCode: 204 });\n');
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Synth: compile and stage as the construct does. Cold start: load from the staged folder. */
function deploy(validation: PayloadValidation, bundle = bundleDir): { binding: PayloadValidationBinding; dir: string; validator: PayloadValidator } {
  const binding = validation._bind(OWNER);
  const dir = stageHandlerAsset(bundle, binding.files, path.join(tmp, 'staging'));
  return { binding, dir, validator: loadPayloadValidator(dir, binding.config) };
}

describe('validateEvent with one pinned schema', () => {
  let validator: PayloadValidator;
  beforeAll(() => {
    validator = deploy(PayloadValidation.strict(PayloadSchema.fromObject(INVOICE_PAID_SCHEMA))).validator;
  });

  test('a valid event passes', () => {
    expect(validator.mode).toBe('strict');
    expect(validateEvent(validator, 'invoice.paid', invoicePaid())).toEqual({ valid: true });
  });

  test('drift: a field the vendor adds is accepted where additionalProperties allows it', () => {
    // GIVEN new fields on the event and on the invoice
    const event = invoicePaid();
    event.context = 'acct_1';
    event.data.object.rendering = { template: null };

    // THEN
    expect(validateEvent(validator, 'invoice.paid', event)).toEqual({ valid: true });
  });

  test('drift: fails when the vendor adds a field where the schema pins additionalProperties: false', () => {
    const event = invoicePaid();
    event.request.source = 'dashboard';
    expect(validateEvent(validator, 'invoice.paid', event)).toEqual({
      valid: false,
      errors: [{ path: '/request/source', message: 'is not allowed by the schema (additionalProperties)' }],
    });
  });

  test('drift: fails when the vendor removes a required field, naming its path', () => {
    const event = invoicePaid();
    delete event.data.object.amount_paid;
    expect(validateEvent(validator, 'invoice.paid', event)).toEqual({
      valid: false,
      errors: [{ path: '/data/object/amount_paid', message: 'is required' }],
    });
  });

  test('fails when a field has the wrong type, naming its JSON pointer', () => {
    const event = invoicePaid();
    event.data.object.amount_paid = '2000';
    expect(validateEvent(validator, 'invoice.paid', event)).toEqual({
      valid: false,
      errors: [{ path: '/data/object/amount_paid', message: 'must be integer' }],
    });
    const nested = invoicePaid();
    nested.data.object.lines.data[0].period.end = 1769904000.5;
    expect(validateEvent(validator, 'invoice.paid', nested)).toEqual({
      valid: false,
      errors: [{ path: '/data/object/lines/data/0/period/end', message: 'must be integer' }],
    });
  });

  test('fails when the event is not an object at all', () => {
    expect(validateEvent(validator, 'invoice.paid', [1, 2])).toEqual({ valid: false, errors: [{ path: '', message: 'must be object' }] });
  });

  test('never reports the values of the event, only paths and what the schema wants', () => {
    // GIVEN values a sender might fill with personal data, each breaking a different keyword
    const secret = 'PII-jane.doe-1970-01-01';
    const breakages: ((e: Record<string, any>) => void)[] = [
      (e) => { e.data.object.customer_email = secret; },
      (e) => { e.data.object.amount_paid = secret; },
      (e) => { e.data.object.status = secret; },
      (e) => { e.data.object.object = secret; },
      (e) => { e.data.object.metadata.note = secret.repeat(30); },
      (e) => { e.id = secret; },
    ];

    for (const breakIt of breakages) {
      const event = invoicePaid();
      breakIt(event);

      // WHEN
      const result = validateEvent(validator, 'invoice.paid', event);

      // THEN
      expect(result.valid).toBe(false);
      expect(JSON.stringify(result)).not.toContain('PII');
    }
  });

  test('reports at most a few violations', () => {
    // GIVEN an anyOf whose every branch fails: ajv reports each branch, then anyOf itself
    const { validator: many } = deploy(PayloadValidation.strict(PayloadSchema.fromObject({
      type: 'object',
      properties: { plan: { anyOf: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((v) => ({ const: v })) } },
    })));

    // WHEN
    const result = validateEvent(many, null, { plan: 'z' });

    // THEN
    expect(result.valid).toBe(false);
    if (!result.valid) {
      expect(result.errors).toHaveLength(MAX_REPORTED_VIOLATIONS);
      expect(result.errors[0]).toEqual({ path: '/plan', message: 'must be equal to constant' });
    }
  });

  test('the event is never changed', () => {
    const event = invoicePaid();
    const before = JSON.stringify(event);
    validateEvent(validator, 'invoice.paid', event);
    event.data.object.amount_paid = 'x';
    validateEvent(validator, 'invoice.paid', event);
    expect(JSON.stringify({ ...event, data: { object: { ...event.data.object, amount_paid: 2000 } } })).toBe(before);
  });
});

describe('validateEvent: formats', () => {
  let validator: PayloadValidator;
  beforeAll(() => {
    validator = deploy(PayloadValidation.quarantine(PayloadSchema.fromObject(TRACK_SCHEMA))).validator;
  });

  test('date-time and email are checked', () => {
    expect(validator.mode).toBe('quarantine');
    expect(validateEvent(validator, 'track', track())).toEqual({ valid: true });

    const badMonth = track();
    badMonth.timestamp = '2026-13-01T00:00:00Z';
    expect(validateEvent(validator, 'track', badMonth)).toEqual({
      valid: false, errors: [{ path: '/timestamp', message: 'must match format "date-time"' }],
    });

    const noZone = track();
    noZone.sentAt = '2026-01-01T00:00:00';
    expect(validateEvent(validator, 'track', noZone)).toEqual({
      valid: false, errors: [{ path: '/sentAt', message: 'must match format "date-time"' }],
    });

    const badEmail = track();
    badEmail.context.traits.email = 'jenny.rosen at example.com';
    expect(validateEvent(validator, 'track', badEmail)).toEqual({
      valid: false, errors: [{ path: '/context/traits/email', message: 'must match format "email"' }],
    });
  });
});

describe('validateEvent: schemas per event type', () => {
  const byType = {
    'invoice.paid': PayloadSchema.fromObject(INVOICE_PAID_SCHEMA),
    'customer.created': PayloadSchema.fromObject(CUSTOMER_CREATED_SCHEMA),
  };
  const customerCreated = () => ({ type: 'customer.created', data: { object: { id: 'cus_Q1w2e3r4' } } });

  test('each type gets its own schema', () => {
    // GIVEN
    const { validator } = deploy(PayloadValidation.strictByEventType(byType));

    // THEN
    expect(validateEvent(validator, 'invoice.paid', invoicePaid())).toEqual({ valid: true });
    expect(validateEvent(validator, 'customer.created', customerCreated())).toEqual({ valid: true });
    // the invoice is not a customer, nor the other way round
    expect(validateEvent(validator, 'customer.created', invoicePaid())).toMatchObject({ valid: false, errors: [{ path: '/type' }] });
    expect(validateEvent(validator, 'invoice.paid', customerCreated())).toMatchObject({ valid: false });
  });

  test('by default, a type without a schema is accepted as it is, and so is an event without a type', () => {
    const { validator, binding } = deploy(PayloadValidation.strictByEventType(byType));
    expect(binding.config.unmatchedTypes).toBe('accept');
    expect(validateEvent(validator, 'charge.refunded', { anything: true })).toEqual({ valid: true });
    expect(validateEvent(validator, null, 'not even an object')).toEqual({ valid: true });
    // types are matched exactly; names on Object.prototype are not types
    expect(validateEvent(validator, 'Invoice.Paid', {})).toEqual({ valid: true });
    expect(validateEvent(validator, 'constructor', {})).toEqual({ valid: true });
    expect(validateEvent(validator, '__proto__', {})).toEqual({ valid: true });
  });

  test('fails when the type has no schema and rejectOtherTypes is set', () => {
    const { validator } = deploy(PayloadValidation.quarantineByEventType(byType, { rejectOtherTypes: true }));
    const rejected = { valid: false, errors: [{ path: '', message: 'no schema accepts events of this type' }] };
    expect(validateEvent(validator, 'charge.refunded', { id: 'evt_2' })).toEqual(rejected);
    expect(validateEvent(validator, null, { id: 'evt_2' })).toEqual(rejected);
    expect(validateEvent(validator, 'invoice.paid', invoicePaid())).toEqual({ valid: true });
  });

  test('otherTypesSchema applies to unlisted types and to events without a type', () => {
    // GIVEN every Stripe event shares an envelope
    const envelope = PayloadSchema.fromObject({ type: 'object', required: ['id', 'type', 'data'], properties: { id: { type: 'string', pattern: '^evt_' }, type: { type: 'string' }, data: { type: 'object' } } });
    const { validator } = deploy(PayloadValidation.strictByEventType(byType, { otherTypesSchema: envelope }));

    // THEN
    expect(validateEvent(validator, 'charge.refunded', { id: 'evt_2', type: 'charge.refunded', data: {} })).toEqual({ valid: true });
    expect(validateEvent(validator, 'charge.refunded', { id: 'ch_2', type: 'charge.refunded', data: {} })).toEqual({
      valid: false, errors: [{ path: '/id', message: 'must match pattern "^evt_"' }],
    });
    expect(validateEvent(validator, null, { id: 'evt_3', type: 'x' })).toEqual({ valid: false, errors: [{ path: '/data', message: 'is required' }] });
  });
});

describe('the schema runtime shim', () => {
  test('the generated module needs nothing but the shim: it runs in an empty V8 context', () => {
    // GIVEN the module for several schemas, and a context with no require, module or process
    const { binding, dir } = deploy(PayloadValidation.strictByEventType(
      { 'invoice.paid': PayloadSchema.fromObject(INVOICE_PAID_SCHEMA), track: PayloadSchema.fromObject(TRACK_SCHEMA) },
      { otherTypesSchema: PayloadSchema.fromObject({ type: 'object', properties: { tags: { type: 'array', uniqueItems: true } } }) },
    ));
    const source = fs.readFileSync(path.join(dir, binding.config.module), 'utf8');
    const requested: string[] = [];
    const shim = (id: string) => {
      requested.push(id);
      return requireSchemaRuntime(id);
    };
    const context = vm.createContext({});

    // WHEN
    const define = vm.runInContext(`(function (exports, require, module) {\n${source}\n})`, context, { filename: binding.config.module });
    const module = { exports: {} as Record<string, any> };
    define(module.exports, shim, module);

    // THEN every runtime module was asked for, through the shim only
    expect(new Set(requested)).toEqual(new Set(SCHEMA_RUNTIME_MODULE_IDS));
    expect(vm.runInContext('typeof require + typeof module + typeof process', context)).toBe('undefinedundefinedundefined');
    const invoice: CompiledValidator = module.exports.byType['invoice.paid'];
    const trackValidator: CompiledValidator = module.exports.byType.track;
    expect(invoice(invoicePaid())).toBe(true);
    expect(trackValidator({ ...track(), timestamp: 'yesterday' })).toBe(false);
    expect(module.exports.otherTypes({ tags: ['a', 'a'] })).toBe(false);
  });

  test('fails when generated code requires anything else', () => {
    expect(() => requireSchemaRuntime('ajv')).toThrow(SchemaRuntimeError);
    expect(() => requireSchemaRuntime('node:fs')).toThrow(
      "generated schema code requires 'node:fs', which is not one of the bundled schema runtime modules (ajv-formats/dist/formats, ajv/dist/runtime/equal, ajv/dist/runtime/ucs2length)",
    );
    expect(() => requireSchemaRuntime('constructor')).toThrow(SchemaRuntimeError);
    const source = 'exports.format = 1; const E = require("ajv/dist/runtime/validation_error"); exports.byType = {}; exports.otherTypes = null;';
    expect(() => evaluateSchemaModule(source, 'payload-schemas.js')).toThrow(/requires 'ajv\/dist\/runtime\/validation_error'/);
  });

  test('fails when the module has another format', () => {
    expect(() => evaluateSchemaModule('exports.format = 2;', 'payload-schemas.js')).toThrow(
      'payload-schemas.js has format 2; this handler reads format 1',
    );
    expect(() => evaluateSchemaModule('exports.format = 1; exports.byType = { a: 1 };', 'payload-schemas.js')).toThrow(/does not export byType validators/);
  });

  test('a handler bundled by esbuild validates with the staged module, loading nothing from node_modules', () => {
    // GIVEN a handler entry bundled like lambda/ingest (esbuild CLI, cjs, node22) into a folder
    // outside the project, so nothing resolves from the project's node_modules
    const entry = path.join(tmp, 'entry', 'index.ts');
    fs.mkdirSync(path.dirname(entry), { recursive: true });
    fs.writeFileSync(entry, [
      `import { loadPayloadValidator, validateEvent } from ${JSON.stringify(path.join(ROOT, 'lambda', 'ingest', 'schema'))};`,
      'const validator = loadPayloadValidator(__dirname, JSON.parse(process.env.PAYLOAD_VALIDATION as string));',
      "let input = '';",
      "process.stdin.on('data', (chunk) => { input += chunk; }).on('end', () => {",
      '  const cases: [string | null, unknown][] = JSON.parse(input);',
      '  process.stdout.write(JSON.stringify(cases.map(([type, event]) => validateEvent(validator, type, event))));',
      '});',
      '',
    ].join('\n'));
    const bundle = path.join(tmp, 'esbuild', 'ingest');
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'esbuild'), [
      entry, '--bundle', '--platform=node', '--target=node22', '--format=cjs', '--minify', '--log-level=warning', `--outfile=${path.join(bundle, 'index.js')}`,
    ], { cwd: ROOT });
    // and a guard that refuses every require but Node's built-ins
    const guard = path.join(tmp, 'guard.cjs');
    fs.writeFileSync(guard, [
      "const Module = require('node:module');",
      'const load = Module._load;',
      'Module._load = function (request, parent, isMain) {',
      "  if (isMain || Module.isBuiltin(request)) return load.apply(this, arguments);",
      "  throw new Error('blocked require of ' + request);",
      '};',
      '',
    ].join('\n'));
    // (the guard works: from the project, ajv itself would be refused)
    expect(() => execFileSync(process.execPath, ['--require', guard, '-e', "require('ajv/dist/runtime/equal')"], { cwd: ROOT, stdio: 'pipe' }))
      .toThrow(/blocked require of ajv\/dist\/runtime\/equal/);
    const { binding, dir } = deploy(PayloadValidation.strictByEventType(
      { 'invoice.paid': PayloadSchema.fromObject(INVOICE_PAID_SCHEMA), track: PayloadSchema.fromObject(TRACK_SCHEMA) },
      { otherTypesSchema: PayloadSchema.fromObject({ type: 'object', properties: { tags: { type: 'array', uniqueItems: true, items: { type: 'string', maxLength: 3 } } } }) },
    ), bundle);
    const wrongType = invoicePaid();
    wrongType.data.object.amount_paid = '2000';
    const cases = [
      ['invoice.paid', invoicePaid()],
      ['invoice.paid', wrongType],
      ['track', track()],
      ['track', { ...track(), timestamp: '2026-02-30T00:00:00Z' }],
      ['other', { tags: ['abc', 'abc'] }],
      ['other', { tags: ['abcd'] }],
    ];

    // WHEN the staged folder runs as Lambda would run it
    const output = execFileSync(process.execPath, ['--require', guard, path.join(dir, 'index.js')], {
      cwd: dir,
      input: JSON.stringify(cases),
      env: { PATH: process.env.PATH, PAYLOAD_VALIDATION: JSON.stringify(binding.config) },
    }).toString('utf8');

    // THEN
    expect(JSON.parse(output)).toEqual([
      { valid: true },
      { valid: false, errors: [{ path: '/data/object/amount_paid', message: 'must be integer' }] },
      { valid: true },
      { valid: false, errors: [{ path: '/timestamp', message: 'must match format "date-time"' }] },
      { valid: false, errors: [{ path: '/tags', message: 'must NOT have duplicate items (items ## 1 and 0 are identical)' }] },
      { valid: false, errors: [{ path: '/tags/0', message: 'must NOT have more than 3 characters' }] },
    ]);
  });
});

describe('loadPayloadValidator and the config fragment', () => {
  test('fails when the staged module is not the one the configuration pins', () => {
    // GIVEN
    const { binding, dir } = deploy(PayloadValidation.strict(PayloadSchema.fromObject(CUSTOMER_CREATED_SCHEMA)));
    const copy = path.join(tmp, 'tampered');
    fs.cpSync(dir, copy, { recursive: true });
    fs.appendFileSync(path.join(copy, binding.config.module), '\nexports.otherTypes = () => true;\n');

    // THEN
    expect(() => loadPayloadValidator(copy, binding.config)).toThrow(ConfigError);
    expect(() => loadPayloadValidator(copy, binding.config)).toThrow(/payloadValidation.module payload-schemas.js has SHA-256 [0-9a-f]{64}, but the configuration expects/);
  });

  test('fails when the module is missing', () => {
    const { binding } = deploy(PayloadValidation.strict(PayloadSchema.fromObject(CUSTOMER_CREATED_SCHEMA)));
    expect(() => loadPayloadValidator(bundleDir, binding.config)).toThrow(/payloadValidation.module payload-schemas.js cannot be read: ENOENT/);
  });

  test('parsePayloadValidationConfig accepts what the construct writes', () => {
    const { binding } = deploy(PayloadValidation.quarantine(PayloadSchema.fromObject(CUSTOMER_CREATED_SCHEMA)));
    expect(parsePayloadValidationConfig(JSON.parse(JSON.stringify(binding.config)))).toEqual(binding.config);
  });

  test('fails when the config fragment is malformed', () => {
    const good = { mode: 'strict', module: 'payload-schemas.js', sha256: 'a'.repeat(64), unmatchedTypes: 'accept' };
    expect(() => parsePayloadValidationConfig('strict')).toThrow('invalid WEBHOOK_INGRESS_CONFIG: payloadValidation must be an object');
    expect(() => parsePayloadValidationConfig({ ...good, mode: 'lenient' })).toThrow(/payloadValidation.mode must be one of strict, quarantine/);
    expect(() => parsePayloadValidationConfig({ ...good, module: '../index.js' })).toThrow(/payloadValidation.module must be a file name ending in .js/);
    expect(() => parsePayloadValidationConfig({ ...good, sha256: 'ABC' })).toThrow(/payloadValidation.sha256 must be 64 lower-case hex digits/);
    expect(() => parsePayloadValidationConfig({ ...good, unmatchedTypes: 'drop' })).toThrow(/payloadValidation.unmatchedTypes must be one of accept, reject/);
  });
});

describe('SchemaViolationError', () => {
  test('answers 400 naming the path and what is wrong, never the value', () => {
    // GIVEN
    const violations = [{ path: '/data/object/amount_paid', message: 'must be integer' }];

    // WHEN
    const response = errorResponse(new SchemaViolationError(violations, 2), 'corr-1');

    // THEN
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      error: 'SchemaViolation',
      message: 'event 2 does not match its schema: /data/object/amount_paid must be integer',
      correlationId: 'corr-1',
    });
    expect(new SchemaViolationError([{ path: '', message: 'must be object' }]).message).toBe('the event does not match its schema: (the event) must be object');
    expect(describeViolations([{ path: '/a', message: 'is required' }, { path: '/b', message: 'must be string' }])).toBe('/a is required; /b must be string');
  });
});
