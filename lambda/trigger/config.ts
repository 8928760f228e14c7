/**
 * The trigger function's configuration: the document WebhookTrigger (lib/) writes, and its one
 * parse at cold start. A document that fails the parse is a deployment bug: the handler refuses to
 * start rather than answer senders with a half-understood configuration. No runtime dependencies
 * beyond ./json-path: lib/ imports it.
 */
import { parseAuthConfig, readHeaderAliases, readSecretSettings, type AuthConfig } from '../common/auth-config';
import {
  ConfigError, readConfigDocument, requireBoolean, requireObject, requireOneOf, requirePositiveInt, requireString,
  withoutAbsent,
} from '../common/config-document';
import { compileJsonPath, JsonPathSyntaxError } from './json-path';

/** Bumped whenever the document changes shape. A handler refuses any other version. */
export const TRIGGER_CONFIG_VERSION = 1;

/** The JSON types a mapped parameter may be required to have. */
export type ParameterTypeName = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

/** Where one run parameter comes from. */
export type ParameterSource =
  /** A JSONPath-like reference into the body: `$.export_id`, `$.items[0].uri`, `$['a b']`. */
  | { readonly jsonPath: string }
  /** A request header, lower-case name. */
  | { readonly header: string }
  /** A fixed value. */
  | { readonly value: unknown };

export interface ParameterMapping {
  /** The parameter's name in the run input's `parameters`. */
  readonly name: string;
  readonly from: ParameterSource;
  /** A missing (or null) value is a validation error. */
  readonly required: boolean;
  /** The value must have this JSON type. Absent: any. */
  readonly type?: ParameterTypeName;
}

export interface TriggerConfig {
  readonly version: number;
  /** Written into every run input as `source`. */
  readonly source: string;
  /**
   * What StartExecution starts: a state machine, or one of its versions or aliases, by ARN.
   * `stateMachineArn` is the state machine's own ARN (for execution ARNs).
   */
  readonly target: {
    readonly arn: string;
    readonly stateMachineArn: string;
  };
  readonly auth: AuthConfig;
  readonly secretCacheTtlSeconds: number;
  /** How long AWSPREVIOUS is still accepted after a rotation, in seconds. Absent: 24 hours. */
  readonly previousSecretGraceSeconds?: number;
  /** Headers read under another name when absent (Standard Webhooks' svix-*). */
  readonly headerAliases?: Readonly<Record<string, string>>;
  readonly parameters: readonly ParameterMapping[];
  /**
   * `strict`: a missing or mistyped parameter is a 400 naming it, and no run starts.
   * `lenient`: the run starts, carrying `validationErrors`, for the state machine to fail visibly.
   */
  readonly validation: 'strict' | 'lenient';
  /** Include the parsed body in the run input as `body`. */
  readonly includeBody: boolean;
  /**
   * Lower-case headers whose value names the delivery, in order of preference, such as
   * `idempotency-key` then the sender's delivery id. The first present one makes the
   * correlation id; without any, a hash of the body does.
   */
  readonly idempotencyHeaders: readonly string[];
  readonly maxBodyBytes: number;
  /** Seconds sent in `Retry-After` with a 429 or 503. */
  readonly retryAfterSeconds: number;
}

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

function readTarget(value: unknown): TriggerConfig['target'] {
  const target = requireObject(value, 'target');
  const stateMachineArn = requireString(target, 'stateMachineArn', 'target');
  const arn = requireString(target, 'arn', 'target');
  if (parseStateMachineArn(stateMachineArn) === undefined) {
    throw new ConfigError('target.stateMachineArn must be a state machine ARN, arn:<partition>:states:<region>:<account>:stateMachine:<name>');
  }
  const qualifier = arn.startsWith(`${stateMachineArn}:`) ? arn.slice(stateMachineArn.length + 1) : undefined;
  if (arn !== stateMachineArn && !(qualifier !== undefined && QUALIFIER.test(qualifier))) {
    throw new ConfigError('target.arn must be target.stateMachineArn, or it followed by :<version> or :<alias>');
  }
  return { arn, stateMachineArn };
}

function readParameters(value: unknown): ParameterMapping[] {
  if (!Array.isArray(value)) throw new ConfigError('parameters must be a list');
  const names = new Set<string>();
  return value.map((item: unknown, i) => {
    const where = `parameters[${i}]`;
    const mapping = requireObject(item, where);
    const name = requireString(mapping, 'name', where);
    if (names.has(name)) throw new ConfigError(`${where}.name '${name}' is used twice; parameter names must be unique`);
    names.add(name);
    const required = requireBoolean(mapping, 'required', where);
    const type = mapping.type === undefined ? undefined : requireOneOf(mapping.type, PARAMETER_TYPES, `${where}.type`);
    const from = readParameterSource(mapping.from, where, required, type);
    return withoutAbsent({ name, from, required, type });
  });
}

function readParameterSource(value: unknown, where: string, required: boolean, type: ParameterTypeName | undefined): ParameterSource {
  const from = requireObject(value, `${where}.from`);
  const kinds = ['jsonPath', 'header', 'value'].filter((k) => Object.hasOwn(from, k));
  if (kinds.length !== 1) throw new ConfigError(`${where}.from must have exactly one of jsonPath, header or value`);
  const { jsonPath, header, value: fixed } = from;
  if (kinds[0] === 'jsonPath') {
    if (typeof jsonPath !== 'string') throw new ConfigError(`${where}.from.jsonPath must be a string`);
    try {
      compileJsonPath(jsonPath);
    } catch (error) {
      if (!(error instanceof JsonPathSyntaxError)) throw error;
      throw new ConfigError(`${where}.from.jsonPath '${jsonPath}' is not supported: ${error.message}`);
    }
    return { jsonPath };
  }
  if (kinds[0] === 'header') {
    if (typeof header !== 'string' || !HEADER_NAME.test(header)) throw new ConfigError(`${where}.from.header must be a lower-case header name`);
    if (type !== undefined && type !== 'string') throw new ConfigError(`${where}.type must be string or absent: a header's value is a string`);
    return { header };
  }
  if (fixed === null && required) throw new ConfigError(`${where} is required but its static value is null`);
  if (type !== undefined && fixed !== null && !hasParameterType(fixed, type)) {
    throw new ConfigError(`${where}.from.value is not of type ${type}`);
  }
  return { value: fixed };
}

function readHeaderList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && HEADER_NAME.test(h))) {
    throw new ConfigError(`${where} must be a list of lower-case header names`);
  }
  return value;
}

/** Parses and validates the trigger's configuration document. Throws ConfigError. */
export function parseTriggerConfig(json: string | undefined): TriggerConfig {
  const doc = readConfigDocument(json, TRIGGER_CONFIG_VERSION, 'this handler reads trigger version');
  const source = requireString(doc, 'source', 'config');
  const target = readTarget(doc.target);
  const auth = parseAuthConfig(doc.auth);
  const secretSettings = readSecretSettings(doc);
  const headerAliases = readHeaderAliases(doc.headerAliases, (name) => HEADER_NAME.test(name));
  const parameters = readParameters(doc.parameters);
  const validation = requireOneOf(doc.validation, ['strict', 'lenient'], 'validation');
  const includeBody = requireBoolean(doc, 'includeBody', 'config');
  const idempotencyHeaders = readHeaderList(doc.idempotencyHeaders, 'idempotencyHeaders');
  const maxBodyBytes = requirePositiveInt(doc, 'maxBodyBytes', 'config');
  const retryAfterSeconds = requirePositiveInt(doc, 'retryAfterSeconds', 'config');
  return withoutAbsent({
    version: TRIGGER_CONFIG_VERSION,
    source,
    target,
    auth,
    ...secretSettings,
    headerAliases,
    parameters,
    validation,
    includeBody,
    idempotencyHeaders,
    maxBodyBytes,
    retryAfterSeconds,
  });
}
