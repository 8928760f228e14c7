/**
 * Payload validation against pinned JSON Schemas, handler side.
 *
 * The schemas were compiled at synth time into one standalone module (see schema-runtime.ts);
 * the handler reads it once, at cold start, and never runs ajv's compiler. A verdict lists at
 * most {@link MAX_REPORTED_VIOLATIONS} violations, each a JSON pointer (RFC 6901) into the event
 * and a message. Messages come from the schema, never from the event's values, which may be
 * personal data.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../common/config-document';
import { parsePayloadValidationConfig } from './config';
import { WebhookError } from '../common/errors';
import {
  evaluateSchemaModule,
  requireSchemaRuntime,
  type CompiledValidator,
  type CompiledValidatorError,
  type GeneratedSchemaModule,
  type PayloadValidationConfig,
} from './schema-runtime';

export type { PayloadValidationConfig } from './schema-runtime';

/** Violations reported per event. ajv stops at the first failing keyword, so usually one. */
export const MAX_REPORTED_VIOLATIONS = 5;

/** One way an event breaks its schema. */
export interface SchemaViolation {
  /** A JSON pointer into the event: `''` is the event itself, `/data/object/amount` a field. */
  readonly path: string;
  /** What is wrong, such as `must be integer`, from the schema only. */
  readonly message: string;
}

export type ValidationResult =
  | { readonly valid: true }
  | { readonly valid: false; readonly errors: readonly SchemaViolation[] };

/** The loaded validators and what to do with an event. */
export interface PayloadValidator {
  readonly mode: PayloadValidationConfig['mode'];
  readonly unmatchedTypes: PayloadValidationConfig['unmatchedTypes'];
  readonly schemas: GeneratedSchemaModule;
}

const NO_SCHEMA: readonly SchemaViolation[] = Object.freeze([{ path: '', message: 'no schema accepts events of this type' }]);

/**
 * Checks the configuration fragment, reads the generated module beside the handler, checks it is
 * the one the construct generated, and evaluates it with the bundled schema runtime as its only
 * `require`. Call once, at cold start. Throws ConfigError.
 *
 * @param dir the folder that holds the handler, `__dirname` of the bundle
 */
export function loadPayloadValidator(dir: string, fragment: PayloadValidationConfig): PayloadValidator {
  const config = parsePayloadValidationConfig(fragment);
  const file = path.join(dir, config.module);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`payloadValidation.module ${config.module} cannot be read: ${(error as Error).message}`);
  }
  const sha256 = createHash('sha256').update(source, 'utf8').digest('hex');
  if (sha256 !== config.sha256) {
    throw new ConfigError(`payloadValidation.module ${config.module} has SHA-256 ${sha256}, but the configuration expects ${config.sha256}`);
  }
  return { mode: config.mode, unmatchedTypes: config.unmatchedTypes, schemas: evaluateSchemaModule(source, file, requireSchemaRuntime) };
}

/** Longest path or message reported; longer ones are cut, so a sender cannot make a reason huge. */
const MAX_TEXT_LENGTH = 256;

function clip(text: string): string {
  return text.length <= MAX_TEXT_LENGTH ? text : `${text.slice(0, MAX_TEXT_LENGTH - 1)}…`;
}

/** Escapes one JSON pointer reference token (RFC 6901 section 3). */
function pointerToken(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * ajv's error as a violation. ajv's messages name keywords and schema values only; the event's
 * values never appear. For a missing or unexpected property, the path points at the property.
 */
function toViolation(error: CompiledValidatorError): SchemaViolation {
  const params = error.params ?? {};
  switch (error.keyword) {
    case 'required':
      if (typeof params.missingProperty === 'string') {
        return { path: `${error.instancePath}/${pointerToken(params.missingProperty)}`, message: 'is required' };
      }
      break;
    case 'additionalProperties':
      if (typeof params.additionalProperty === 'string') {
        return { path: `${error.instancePath}/${pointerToken(params.additionalProperty)}`, message: 'is not allowed by the schema (additionalProperties)' };
      }
      break;
    case 'unevaluatedProperties':
      if (typeof params.unevaluatedProperty === 'string') {
        return { path: `${error.instancePath}/${pointerToken(params.unevaluatedProperty)}`, message: 'is not allowed by the schema (unevaluatedProperties)' };
      }
      break;
  }
  return { path: error.instancePath, message: error.message ?? `must pass the ${error.keyword} keyword` };
}

function verdict(validate: CompiledValidator, event: unknown): ValidationResult {
  if (validate(event)) return { valid: true };
  const errors = (validate.errors ?? []).slice(0, MAX_REPORTED_VIOLATIONS).map(toViolation)
    .map((v) => ({ path: clip(v.path), message: clip(v.message) }));
  return { valid: false, errors: errors.length > 0 ? errors : [{ path: '', message: 'does not match the schema' }] };
}

/**
 * Validates one event against the schema for its type: the type's own, else the schema for
 * other types, else the configured rule for unmatched types (accept, or reject). An event with no
 * type only ever gets the schema for other types.
 *
 * The event is never modified.
 */
export function validateEvent(validator: PayloadValidator, eventType: string | null, event: unknown): ValidationResult {
  const { byType, otherTypes } = validator.schemas;
  const validate = eventType !== null && Object.prototype.hasOwnProperty.call(byType, eventType) ? byType[eventType] : otherTypes;
  if (validate === null) {
    return validator.unmatchedTypes === 'accept' ? { valid: true } : { valid: false, errors: NO_SCHEMA };
  }
  return verdict(validate, event);
}

/** One line for logs, the quarantine reason and 400 answers: `/data/object/amount must be integer; ...`. */
export function describeViolations(errors: readonly SchemaViolation[]): string {
  return errors.map((e) => `${e.path === '' ? '(the event)' : e.path} ${e.message}`).join('; ');
}

/** 400: in strict mode, an event does not match its schema. The message names paths, never values. */
export class SchemaViolationError extends WebhookError {
  readonly violations: readonly SchemaViolation[];
  readonly eventIndex?: number;

  /** @param eventIndex the event's index, for a batch */
  constructor(violations: readonly SchemaViolation[], eventIndex?: number) {
    super(400, `${eventIndex === undefined ? 'the event' : `event ${eventIndex}`} does not match its schema: ${describeViolations(violations)}`);
    this.name = 'SchemaViolationError';
    this.violations = violations;
    this.eventIndex = eventIndex;
  }
}
