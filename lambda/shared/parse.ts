import {
  MalformedPayloadError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from './errors';
import { singleHeader, type WebhookRequest } from './http';

export type JsonObject = { [key: string]: unknown };

export interface ParsedBody {
  /** The media type, lower-case and without parameters. */
  readonly contentType: string;
  /** One entry per event: one for a JSON object, N for a JSON array batch. */
  readonly events: readonly JsonObject[];
  /** True when the body was a JSON array. */
  readonly isBatch: boolean;
}

export interface MediaType {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
}

/** Parses a Content-Type value (RFC 9110 section 8.3.1). Returns undefined when it is not one. */
export function parseMediaType(value: string): MediaType | undefined {
  const [essence, ...rest] = value.split(';');
  const type = essence.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+*-]+$/.test(type)) return undefined;
  const params = new Map<string, string>();
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq <= 0) continue;
    const name = param.slice(0, eq).trim().toLowerCase();
    let v = param.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    params.set(name, v);
  }
  return { type, params };
}

const FORM = 'application/x-www-form-urlencoded';

/** True when the request declares a URL-encoded form body. */
export function isFormRequest(request: WebhookRequest): boolean {
  const values = request.headers.get('content-type');
  return values?.length === 1 && parseMediaType(values[0])?.type === FORM;
}

/** The name/value pairs of a URL-encoded form, in order, `+` read as a space. */
export function formPairs(rawBody: Buffer): [string, string][] {
  return [...new URLSearchParams(rawBody.toString('utf8')).entries()];
}

/** A form as one object; a repeated name becomes an array of its values, in order. */
function formObject(pairs: readonly [string, string][]): JsonObject {
  const event: JsonObject = {};
  for (const [name, value] of pairs) {
    const existing = event[name];
    if (existing === undefined) event[name] = value;
    else event[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return event;
}

function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(type);
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The deepest nesting of objects and arrays a JSON body may have. Vendors' events stay far below it. */
export const MAX_JSON_DEPTH = 64;

/** True when objects and arrays nest deeper than `max`. The recursion goes at most `max + 1` deep, whatever the input. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max < 1) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestsDeeperThan(value[i], max - 1)) return true;
    return false;
  }
  for (const key in value) {
    if (nestsDeeperThan((value as Record<string, unknown>)[key], max - 1)) return true;
  }
  return false;
}

/**
 * Checks the content type (one of `accepted`, UTF-8) and decodes the body as text. Another type
 * or charset is a 415; an empty body or invalid UTF-8 is a 400.
 */
function decodeBody(request: WebhookRequest, accepted: 'json' | 'jsonOrForm'): { type: string; text: string } {
  const wanted = accepted === 'json' ? 'application/json' : `application/json or ${FORM}`;
  const header = singleHeader(request, 'content-type');
  if (header === undefined) throw new UnsupportedMediaTypeError(`Content-Type header is required; send ${wanted}`);
  const media = parseMediaType(header);
  if (media === undefined || !(isJsonMediaType(media.type) || (accepted === 'jsonOrForm' && media.type === FORM))) {
    throw new UnsupportedMediaTypeError(`unsupported Content-Type; send ${wanted}`);
  }
  const charset = media.params.get('charset');
  if (charset !== undefined && !['utf-8', 'utf8'].includes(charset.toLowerCase())) {
    throw new UnsupportedMediaTypeError('unsupported charset; send UTF-8');
  }
  if (request.rawBody.length === 0) throw new MalformedPayloadError('body is empty');
  try {
    return { type: media.type, text: utf8.decode(request.rawBody) };
  } catch (cause) {
    throw new MalformedPayloadError('body is not valid UTF-8', { cause });
  }
}

/** Parses JSON text, refusing nesting deeper than MAX_JSON_DEPTH. Errors never quote the text. */
function parseJsonText(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    if (cause instanceof RangeError) throw new MalformedPayloadError(`body nests deeper than ${MAX_JSON_DEPTH} levels`, { cause });
    throw new MalformedPayloadError('body is not valid JSON', { cause });
  }
  if (nestsDeeperThan(value, MAX_JSON_DEPTH)) throw new MalformedPayloadError(`body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return value;
}

/**
 * Reads the body as one JSON object (`application/json` or `application/*+json`, UTF-8), as a
 * trigger takes it.
 */
export function parseJsonObject(request: WebhookRequest): JsonObject {
  const value = parseJsonText(decodeBody(request, 'json').text);
  if (!isJsonObject(value)) throw new MalformedPayloadError('body must be a JSON object');
  return value;
}

/**
 * Reads the body by its content type. A JSON object is one event; a JSON array of objects is a
 * batch of events; a URL-encoded form is one event. Anything else is a 415 (unsupported type) or
 * a 400 (unreadable body).
 */
export function parseBody(request: WebhookRequest, maxBatchRecords: number): ParsedBody {
  const { type, text } = decodeBody(request, 'jsonOrForm');
  if (type === FORM) {
    return { contentType: FORM, events: [formObject(formPairs(request.rawBody))], isBatch: false };
  }
  const value = parseJsonText(text);
  const media = { type };

  if (isJsonObject(value)) return { contentType: media.type, events: [value], isBatch: false };
  if (!Array.isArray(value)) throw new MalformedPayloadError('body must be a JSON object or an array of JSON objects');
  if (value.length === 0) throw new MalformedPayloadError('batch is empty');
  if (value.length > maxBatchRecords) {
    throw new PayloadTooLargeError(`batch has ${value.length} events; this source accepts at most ${maxBatchRecords}`);
  }
  value.forEach((event, index) => {
    if (!isJsonObject(event)) throw new MalformedPayloadError(`batch element ${index} is not a JSON object`);
  });
  return { contentType: media.type, events: value as JsonObject[], isBatch: true };
}
