/**
 * Validates the trigger's configuration document (./trigger-config) once, at cold start. A
 * document that fails here is a deployment bug: the handler refuses to start rather than answer
 * senders with a half-understood configuration.
 */
import { checkAuth, checkSecretSettings, ConfigError, isObject, readConfigDocument, requirePositiveInt, requireString } from '../common/config';
import { compileJsonPath, JsonPathSyntaxError } from './json-path';
import { TRIGGER_CONFIG_VERSION, type ParameterTypeName, type TriggerConfig } from './config';

/** The JSON types a parameter may be required to have. */
export const PARAMETER_TYPES: readonly ParameterTypeName[] = ['string', 'number', 'integer', 'boolean', 'object', 'array'];

/** A state machine name: 1 to 80 characters, none of them blank, a bracket, a wildcard or punctuation Step Functions refuses. */
const STATE_MACHINE_NAME = String.raw`[^\s<>{}\[\]?*"#%\\^|~${'`'}$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}`;

/** `arn:<partition>:states:<region>:<account>:stateMachine:<name>`. */
const STATE_MACHINE_ARN = new RegExp(`^arn:(aws[a-z-]*):states:([a-z0-9-]+):(\\d{12}):stateMachine:(${STATE_MACHINE_NAME})$`);

/** A version number or an alias name after a state machine's ARN. */
const QUALIFIER = /^[A-Za-z0-9_.-]{1,80}$/;

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** The parts of a state machine's ARN, or undefined when it is not one (a version's or alias's ARN is not). */
export function parseStateMachineArn(arn: string): { partition: string; region: string; account: string; name: string } | undefined {
  const match = STATE_MACHINE_ARN.exec(arn);
  return match === null ? undefined : { partition: match[1], region: match[2], account: match[3], name: match[4] };
}

/** True when `value` has the JSON type `type`. `integer` is a whole number; `number` any finite number. */
export function hasParameterType(value: unknown, type: ParameterTypeName): boolean {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'boolean': return typeof value === 'boolean';
    case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array': return Array.isArray(value);
  }
}

function requireBoolean(obj: Record<string, unknown>, key: string, where: string): boolean {
  const value = obj[key];
  if (typeof value !== 'boolean') throw new ConfigError(`${where}.${key} must be true or false`);
  return value;
}

function checkTarget(target: unknown): void {
  if (!isObject(target)) throw new ConfigError('target must be an object');
  const stateMachineArn = requireString(target, 'stateMachineArn', 'target');
  const arn = requireString(target, 'arn', 'target');
  if (parseStateMachineArn(stateMachineArn) === undefined) {
    throw new ConfigError('target.stateMachineArn must be a state machine ARN, arn:<partition>:states:<region>:<account>:stateMachine:<name>');
  }
  const qualifier = arn.startsWith(`${stateMachineArn}:`) ? arn.slice(stateMachineArn.length + 1) : undefined;
  if (arn !== stateMachineArn && !(qualifier !== undefined && QUALIFIER.test(qualifier))) {
    throw new ConfigError('target.arn must be target.stateMachineArn, or it followed by :<version> or :<alias>');
  }
}

function checkParameters(value: unknown): void {
  if (!Array.isArray(value)) throw new ConfigError('parameters must be a list');
  const names = new Set<string>();
  value.forEach((mapping: unknown, i) => {
    const where = `parameters[${i}]`;
    if (!isObject(mapping)) throw new ConfigError(`${where} must be an object`);
    const name = requireString(mapping, 'name', where);
    if (names.has(name)) throw new ConfigError(`${where}.name '${name}' is used twice; parameter names must be unique`);
    names.add(name);
    const required = requireBoolean(mapping, 'required', where);
    const type = mapping.type;
    if (type !== undefined && !(PARAMETER_TYPES as readonly unknown[]).includes(type)) {
      throw new ConfigError(`${where}.type must be one of ${PARAMETER_TYPES.join(', ')}`);
    }
    const from = mapping.from;
    if (!isObject(from)) throw new ConfigError(`${where}.from must be an object`);
    const kinds = ['jsonPath', 'header', 'value'].filter((k) => Object.hasOwn(from, k));
    if (kinds.length !== 1) throw new ConfigError(`${where}.from must have exactly one of jsonPath, header or value`);
    switch (kinds[0]) {
      case 'jsonPath': {
        const path = from.jsonPath;
        if (typeof path !== 'string') throw new ConfigError(`${where}.from.jsonPath must be a string`);
        try {
          compileJsonPath(path);
        } catch (error) {
          if (!(error instanceof JsonPathSyntaxError)) throw error;
          throw new ConfigError(`${where}.from.jsonPath '${path}' is not supported: ${error.message}`);
        }
        return;
      }
      case 'header':
        if (typeof from.header !== 'string' || !HEADER_NAME.test(from.header)) {
          throw new ConfigError(`${where}.from.header must be a lower-case header name`);
        }
        if (type !== undefined && type !== 'string') throw new ConfigError(`${where}.type must be string or absent: a header's value is a string`);
        return;
      case 'value':
        if (from.value === null && required) throw new ConfigError(`${where} is required but its static value is null`);
        if (type !== undefined && from.value !== null && !hasParameterType(from.value, type as ParameterTypeName)) {
          throw new ConfigError(`${where}.from.value is not of type ${String(type)}`);
        }
        return;
    }
  });
}

function checkHeaderList(value: unknown, where: string): void {
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && HEADER_NAME.test(h))) {
    throw new ConfigError(`${where} must be a list of lower-case header names`);
  }
}

/** Parses and validates the trigger's configuration document. Throws ConfigError. */
export function parseTriggerConfig(json: string | undefined): TriggerConfig {
  const doc = readConfigDocument(json, TRIGGER_CONFIG_VERSION, 'this handler reads trigger version');
  requireString(doc, 'source', 'config');
  checkTarget(doc.target);
  checkAuth(doc.auth);
  checkSecretSettings(doc);
  if (doc.headerAliases !== undefined && !(isObject(doc.headerAliases)
    && Object.entries(doc.headerAliases).every(([k, v]) => HEADER_NAME.test(k) && typeof v === 'string' && HEADER_NAME.test(v)))) {
    throw new ConfigError('headerAliases must map lower-case header names to lower-case header names');
  }
  checkParameters(doc.parameters);
  if (doc.validation !== 'strict' && doc.validation !== 'lenient') throw new ConfigError('validation must be one of strict, lenient');
  requireBoolean(doc, 'includeBody', 'config');
  checkHeaderList(doc.idempotencyHeaders, 'idempotencyHeaders');
  requirePositiveInt(doc, 'maxBodyBytes', 'config');
  requirePositiveInt(doc, 'retryAfterSeconds', 'config');
  return doc as unknown as TriggerConfig;
}
