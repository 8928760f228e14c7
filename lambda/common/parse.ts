import {
  MalformedPayloadError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from './errors';
import { singleHeader, type WebhookRequest } from './http';
import { countMembersInText } from './json-members';

export type JsonObject = { [key: string]: unknown };

/** What the Content-Type says the body is. */
export type BodyKind = 'json' | 'form' | 'multipart';

/** The Content-Type, read once: what the body is, for every stage that reads it. */
export interface ContentDecision {
  readonly kind: BodyKind;
  /** The media type, lower-case and without parameters. */
  readonly mediaType: string;
  /** The header's value as sent (a multipart body's boundary is read from it). */
  readonly header: string;
}

export interface ParsedBody {
  /** The media type, lower-case and without parameters. */
  readonly contentType: string;
  readonly kind: BodyKind;
  /** One entry per event: one for a JSON object, N for a JSON array batch. */
  readonly events: readonly JsonObject[];
  /** True when the body was a JSON array. */
  readonly isBatch: boolean;
  /**
   * The sender's bytes of the one event, when the body was a single JSON object parsed whole from
   * them (valid UTF-8, as the parser checked), a leading byte order mark left out: a record can
   * carry them as they are instead of serializing the event again.
   */
  readonly eventJson?: Buffer;
  /** The one event's id, when reading the body already had to name it (a multipart body's files are stored under it). */
  readonly eventId?: string;
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
const MULTIPART = 'multipart/form-data';

/** True when the request declares a URL-encoded form body. */
export function isFormRequest(request: WebhookRequest): boolean {
  const values = request.headers.get('content-type');
  return values?.length === 1 && parseMediaType(values[0])?.type === FORM;
}

/**
 * The name/value pairs of a URL-encoded form, in order, `+` read as a space. A leading UTF-8 byte
 * order mark is dropped, as it is from a JSON body, so it never becomes part of the first name.
 */
export function formPairs(rawBody: Buffer): [string, string][] {
  return [...new URLSearchParams(rawBody.toString('utf8').replace(/^\uFEFF/, '')).entries()];
}

/**
 * Adds a form field to `fields`: a repeated name becomes an array of its values, in order. Names
 * are own data properties whatever they are: `constructor` or `toString` never reads the
 * prototype's, and `__proto__` is a field, not the object's prototype.
 */
export function addFormField(fields: { [name: string]: unknown }, name: string, value: string): void {
  const existing = Object.prototype.hasOwnProperty.call(fields, name) ? fields[name] : undefined;
  const next = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  Object.defineProperty(fields, name, { value: next, enumerable: true, writable: true, configurable: true });
}

/** A form as one object (see addFormField). */
function formObject(pairs: readonly [string, string][]): JsonObject {
  const event: JsonObject = {};
  for (const [name, value] of pairs) addFormField(event, name, value);
  return event;
}

const JSON_SUFFIX = /^application\/[a-z0-9!#$&^_.-]+\+json$/;

function kindOf(type: string): BodyKind | undefined {
  if (type === 'application/json' || JSON_SUFFIX.test(type)) return 'json';
  if (type === FORM) return 'form';
  return type === MULTIPART ? 'multipart' : undefined;
}

/** The bodies a request path reads: a trigger takes JSON; a stream source JSON, forms and multipart forms. */
export type AcceptedBodies = 'json' | 'any';

const WANTED: Readonly<Record<AcceptedBodies, string>> = { json: 'application/json', any: `application/json or ${FORM}` };

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The deepest nesting of objects and arrays a JSON body may have. Vendors' events stay far below it. */
export const MAX_JSON_DEPTH = 64;

/**
 * The number of object members in a parsed JSON value, or -1 when its objects and arrays nest
 * deeper than `max`: the depth check and the member count in one walk. The recursion goes at most
 * `max + 1` deep, whatever the input.
 */
export function countMembers(value: unknown, max: number): number {
  return typeof value === 'object' && value !== null ? countIn(value, max) : 0;
}

/** countMembers of an object or array; leaves are counted where they are met, without a call each. */
function countIn(value: object, max: number): number {
  if (max < 1) return -1;
  let members = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item !== 'object' || item === null) continue;
      const inner = countIn(item, max - 1);
      if (inner < 0) return -1;
      members += inner;
    }
    return members;
  }
  for (const key in value) {
    members += 1;
    const item: unknown = (value as Record<string, unknown>)[key];
    if (typeof item !== 'object' || item === null) continue;
    const inner = countIn(item, max - 1);
    if (inner < 0) return -1;
    members += inner;
  }
  return members;
}

const BACKSLASH = 0x5c;

/** The index of the quote that closes the string opening at `start` (the text's end if none does). */
function stringEnd(text: string, start: number): number {
  let end = start;
  for (;;) {
    end = text.indexOf('"', end + 1);
    if (end < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end;
  }
}

/** An RFC 6901 reference token. */
const referenceToken = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The RFC 6901 pointer of the first member, in text order, whose key an earlier member of the same
 * object already has; undefined when there is none. Keys compare decoded (`"a"` and `"\u0061"` are
 * one key). `text` must be valid JSON; objects and arrays are tracked on a list, not by recursion.
 */
export function duplicateKeyPointer(text: string): string | undefined {
  /** One per open object or array: the keys seen (objects), the token of the current member or element. */
  const open: { keys?: Set<string>; token: string; index: number; expectKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = open[open.length - 1];
    if (c === '"') {
      const end = stringEnd(text, i);
      if (top?.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        top.token = key;
        if (top.keys!.has(key)) return open.map((o) => `/${referenceToken(o.token)}`).join('');
        top.keys!.add(key);
        top.expectKey = false;
      }
      i = end;
    } else if (c === '{') {
      open.push({ keys: new Set(), token: '', index: 0, expectKey: true });
    } else if (c === '[') {
      open.push({ token: '0', index: 0, expectKey: false });
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',' && top !== undefined) {
      if (top.keys === undefined) top.token = String(++top.index);
      else top.expectKey = true;
    }
  }
  return undefined;
}

/** How much of a pointer an error message shows: keys come from the sender and can be any length. */
export const MAX_POINTER_SHOWN = 100;

/**
 * The pointer as a message shows it: whole when short, else its start and its end (where the
 * duplicate key is) around an ellipsis, never splitting a surrogate pair.
 */
export function shownPointer(pointer: string): string {
  if (pointer.length <= MAX_POINTER_SHOWN) return pointer;
  const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
  const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;
  let head = pointer.slice(0, 40);
  if (isHigh(head.charCodeAt(head.length - 1))) head = head.slice(0, -1);
  let tail = pointer.slice(-(MAX_POINTER_SHOWN - 41));
  if (isLow(tail.charCodeAt(0))) tail = tail.slice(1);
  return `${head}…${tail}`;
}

/**
 * Refuses a parsed body that nests deeper than MAX_JSON_DEPTH or has a duplicate key at any depth.
 * JSON.parse keeps only the last of duplicate keys, so a schema check, an id or a route would see
 * a value other than the one a first-wins consumer reads from the sender's bytes. One walk over the
 * parsed value checks the depth and counts its members; a scan of the bytes counts the members the
 * text has (./json-members); fewer in the value means a duplicate, which an exact pass then names.
 */
export function checkParsedJson(value: unknown, text: string, bytes: Uint8Array): void {
  const members = countMembers(value, MAX_JSON_DEPTH);
  if (members < 0) throw new MalformedPayloadError(`body nests deeper than ${MAX_JSON_DEPTH} levels`);
  const inText = countMembersInText(bytes);
  if (inText === members) return;
  const pointer = duplicateKeyPointer(text);
  if (pointer !== undefined) {
    throw new MalformedPayloadError(`body has a duplicate key at JSON pointer ${shownPointer(pointer)}; send each key once per object`);
  }
  // Without WebAssembly the exact pass alone decides; with it, the counts must agree.
  if (inText !== undefined) throw new Error(`JSON member counts disagree (${members} parsed, ${inText} in the text) and no duplicate key was found`);
}

/**
 * Reads the Content-Type, once: a 400 when it is sent more than once, a 415 when it is missing, of
 * a type `accepted` leaves out, or (JSON and forms) of a charset other than UTF-8. Multipart is
 * only decided here; whether a source takes it is the source's call.
 */
export function decideContent(request: WebhookRequest, accepted: AcceptedBodies): ContentDecision {
  const header = singleHeader(request, 'content-type');
  if (header === undefined) throw new UnsupportedMediaTypeError(`Content-Type header is required; send ${WANTED[accepted]}`);
  // A sender sends the same Content-Type request after request: the last accepted one is remembered.
  const last = lastDecision[accepted];
  if (last !== undefined && last.header === header) return last;
  const decision = decideMediaType(header, accepted);
  lastDecision[accepted] = decision;
  return decision;
}

/** The last Content-Type accepted, per kind of request path. */
const lastDecision: { [accepted in AcceptedBodies]?: ContentDecision } = {};

function decideMediaType(header: string, accepted: AcceptedBodies): ContentDecision {
  const wanted = WANTED[accepted];
  const media = parseMediaType(header);
  const kind = media === undefined ? undefined : kindOf(media.type);
  if (media === undefined || kind === undefined || (accepted === 'json' && kind !== 'json')) {
    throw new UnsupportedMediaTypeError(`unsupported Content-Type; send ${wanted}`);
  }
  const charset = kind === 'multipart' ? undefined : media.params.get('charset');
  if (charset !== undefined && !['utf-8', 'utf8'].includes(charset.toLowerCase())) {
    throw new UnsupportedMediaTypeError('unsupported charset; send UTF-8');
  }
  return { kind, mediaType: media.type, header };
}

/** The body as UTF-8 text: an empty body or invalid UTF-8 is a 400. A leading byte order mark is dropped. */
function decodeBody(request: WebhookRequest): string {
  if (request.rawBody.length === 0) throw new MalformedPayloadError('body is empty');
  try {
    return utf8.decode(request.rawBody);
  } catch (cause) {
    throw new MalformedPayloadError('body is not valid UTF-8', { cause });
  }
}

/** The body's bytes without a leading UTF-8 byte order mark (EF BB BF), which the decoder skips. */
function withoutBom(raw: Buffer): Buffer {
  return raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw;
}

/**
 * Parses JSON text (`bytes` are its UTF-8), refusing nesting deeper than MAX_JSON_DEPTH and
 * duplicate keys. Errors never quote the text.
 */
function parseJsonText(text: string, bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    if (cause instanceof RangeError) throw new MalformedPayloadError(`body nests deeper than ${MAX_JSON_DEPTH} levels`, { cause });
    throw new MalformedPayloadError('body is not valid JSON', { cause });
  }
  checkParsedJson(value, text, bytes);
  return value;
}

/**
 * Reads the body as one JSON object (`application/json` or `application/*+json`, UTF-8), as a
 * trigger takes it.
 */
export function parseJsonObject(request: WebhookRequest): JsonObject {
  decideContent(request, 'json');
  const value = parseJsonText(decodeBody(request), request.rawBody);
  if (!isJsonObject(value)) throw new MalformedPayloadError('body must be a JSON object');
  return value;
}

/**
 * Reads a JSON or form body as its Content-Type decided. A JSON object is one event; a JSON array
 * of objects is a batch of events; a URL-encoded form is one event. Anything else is a 415
 * (unsupported type) or a 400 (unreadable body). Without a decision, the Content-Type is read here.
 */
export function parseBody(request: WebhookRequest, maxBatchRecords: number, content: ContentDecision = decideContent(request, 'any')): ParsedBody {
  if (content.kind === 'multipart') throw new UnsupportedMediaTypeError(`unsupported Content-Type; send ${WANTED.any}`);
  const text = decodeBody(request);
  if (content.kind === 'form') {
    return { contentType: FORM, kind: 'form', events: [formObject(formPairs(request.rawBody))], isBatch: false };
  }
  const value = parseJsonText(text, request.rawBody);
  const contentType = content.mediaType;
  if (isJsonObject(value)) return { contentType, kind: 'json', events: [value], isBatch: false, eventJson: withoutBom(request.rawBody) };
  if (!Array.isArray(value)) throw new MalformedPayloadError('body must be a JSON object or an array of JSON objects');
  if (value.length === 0) throw new MalformedPayloadError('batch is empty');
  if (value.length > maxBatchRecords) {
    throw new PayloadTooLargeError(`batch has ${value.length} events; this source accepts at most ${maxBatchRecords}`);
  }
  value.forEach((event, index) => {
    if (!isJsonObject(event)) throw new MalformedPayloadError(`batch element ${index} is not a JSON object`);
  });
  return { contentType, kind: 'json', events: value as JsonObject[], isBatch: true };
}
