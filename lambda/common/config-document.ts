/**
 * The start of every function's configuration: one versioned JSON document in one environment
 * variable, read once at cold start, and the typed readers each function's parse is built from.
 *
 * A reader takes a value out of the document and returns it typed, or throws a ConfigError that
 * names where it is (`auth.algorithm must be one of ...`). A parse builds its configuration from
 * what the readers return, never by casting the document. No runtime dependencies: lib/ imports it.
 */

/** The environment variable that carries every function's configuration document. */
export const CONFIG_ENV_VAR = 'WEBHOOK_INGRESS_CONFIG';

/** Thrown when the configuration document is unusable. A deployment bug, never a sender's. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(`invalid ${CONFIG_ENV_VAR}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** A JSON object (not an array, not null). */
export type JsonObject = Record<string, unknown>;

/**
 * The common start of every function's configuration: the variable is set, is a JSON object, and
 * has the version this code reads (`reader` says who, in the error: "this drain reads version").
 */
export function readConfigDocument(json: string | undefined, version: number, reader: string): JsonObject {
  if (json === undefined || json === '') throw new ConfigError('the variable is not set');
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new ConfigError('not JSON');
  }
  if (!isObject(doc)) throw new ConfigError('must be a JSON object');
  if (doc.version !== version) {
    throw new ConfigError(`version ${String(doc.version)} is not supported; ${reader} ${version}`);
  }
  return doc;
}

/** A JSON object (not an array, not null). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as a JSON object, or a ConfigError: `<where> must be an object`. */
export function requireObject(value: unknown, where: string): JsonObject {
  if (!isObject(value)) throw new ConfigError(`${where} must be an object`);
  return value;
}

/** `obj[key]` as a non-empty string, or a ConfigError naming `where.key`. */
export function requireString(obj: JsonObject, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(`${where}.${key} must be a non-empty string`);
  }
  return value;
}

/** `obj[key]` as a positive integer, or a ConfigError naming `where.key`. */
export function requirePositiveInt(obj: JsonObject, key: string, where: string): number {
  const value = obj[key];
  if (!isPositiveInt(value)) throw new ConfigError(`${where}.${key} must be a positive integer`);
  return value;
}

/** A whole number of at least 1. */
export function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** A whole number of at least 0. */
export function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** `obj[key]` as true or false, or a ConfigError naming `where.key`. */
export function requireBoolean(obj: JsonObject, key: string, where: string): boolean {
  const value = obj[key];
  if (typeof value !== 'boolean') throw new ConfigError(`${where}.${key} must be true or false`);
  return value;
}

/** `value` as one of `allowed`, or a ConfigError: `<where> must be one of a, b, c`. */
export function requireOneOf<const T extends string>(value: unknown, allowed: readonly T[], where: string): T {
  const found = allowed.find((choice) => choice === value);
  if (found === undefined) throw new ConfigError(`${where} must be one of ${allowed.join(', ')}`);
  return found;
}

/** `obj[key]` as a non-empty list of non-empty strings, or a ConfigError naming `where.key`. */
export function requireStringList(obj: JsonObject, key: string, where: string): string[] {
  const value = obj[key];
  if (!isStringList(value, (v) => v !== '') || value.length === 0) {
    throw new ConfigError(`${where}.${key} must be a non-empty list of non-empty strings`);
  }
  return value;
}

/** A list of strings, each passing `test` when given. */
export function isStringList(value: unknown, test: (item: string) => boolean = () => true): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string' && test(item));
}

/** `read(value)` when `value` is present, undefined when it is absent. */
export function optional<T>(value: unknown, read: (present: unknown) => T): T | undefined {
  return value === undefined ? undefined : read(value);
}

/** `obj` without the keys whose value is undefined: a parsed configuration holds what was present. */
export function withoutAbsent<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined)) as T;
}

/** `obj[key]` as a finite number, or a ConfigError naming `where.key`. */
export function requireNumber(obj: JsonObject, key: string, where: string): number {
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ConfigError(`${where}.${key} must be a number`);
  return value;
}

/** Throws a ConfigError `<where> <problem>` when a rule found a problem (see the rules in each function's config). */
export function refuseIf(problem: string | undefined, where: string): void {
  if (problem !== undefined) throw new ConfigError(`${where} ${problem}`);
}
