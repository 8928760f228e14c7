import { createHash } from 'node:crypto';
import type { PayloadRef } from './claim-check';
import { KINESIS_LIMITS } from '../common/kinesis-limits';
import { NEVER_FORWARDED_HEADERS, type FieldSource, type IngestConfig } from './config';
import { PayloadTooLargeError } from '../common/errors';
import { singleHeader, type WebhookRequest } from '../common/http';
import { compilePointer, resolveTokens, type CompiledPointer } from '../common/json-pointer';
import type { JsonObject, ParsedBody } from '../common/parse';

/** What a consumer reads from the stream: one envelope per event, as UTF-8 JSON. */
export interface Envelope {
  readonly id: string;
  readonly type: string | null;
  /** ISO 8601, from the event or the sender's headers; null when the sender gives none. */
  readonly timestamp: string | null;
  /** The sender's sub-account, such as a Stripe Connect account; only on sources that have one. */
  readonly account?: string | null;
  readonly source: string;
  /** ISO 8601, when API Gateway received the request. */
  readonly receivedAt: string;
  readonly correlationId: string;
  /** Allowlisted request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType: string;
  /** The event itself, unless it is too large for a record. */
  readonly payload?: JsonObject;
  /** Where the event's bytes are in S3, when it was too large for a record (claim check). */
  readonly payloadRef?: PayloadRef;
  /** Why the event is in the quarantine stream: its schema violations (paths and rules, never values). */
  readonly quarantine?: { readonly reason: string; readonly violations: readonly { readonly path: string; readonly message: string }[] };
}

/** Checks one event against its pinned schema. */
export type EventCheck = (type: string | null, event: JsonObject, index: number) =>
  | { readonly valid: true }
  | { readonly valid: false; readonly reason: string; readonly violations: readonly { readonly path: string; readonly message: string }[] };

/** Stores bytes that do not fit in a record; see ./claim-check. */
export interface PayloadStore {
  put(bytes: Buffer, meta: { source: string; eventId: string; contentType: string; index?: number }): Promise<PayloadRef>;
}

export interface OutgoingRecord {
  readonly envelope: Envelope;
  /** The stream the record goes to: the source's, or a route's. */
  readonly streamName: string;
  readonly partitionKey: string;
  /** The serialized envelope. */
  readonly data: Buffer;
}

export interface EnvelopeResult {
  readonly records: readonly OutgoingRecord[];
  /** Events left out because their type is not allowed. */
  readonly ignored: number;
  /** Records that go to the quarantine stream instead. */
  readonly quarantined: number;
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Where a metadata field is read, compiled once per configuration: a header, or a JSON pointer's tokens. */
type FieldReader = { readonly header: string; readonly pointer?: undefined } | { readonly header?: undefined; readonly pointer: CompiledPointer };

function fieldReader(source: FieldSource | undefined): FieldReader | undefined {
  if (source === undefined) return undefined;
  return 'header' in source ? { header: source.header.toLowerCase() } : { pointer: compilePointer(source.jsonPointer) };
}

function rawField(reader: FieldReader | undefined, request: WebhookRequest, event: JsonObject): unknown {
  if (reader === undefined) return undefined;
  if (reader.header !== undefined) return singleHeader(request, reader.header);
  return resolveTokens(event, reader.pointer);
}

/** What a source's envelopes need of its configuration, worked out once per container. */
interface EnvelopePlan {
  readonly id?: FieldReader;
  readonly type?: FieldReader;
  readonly timestamp?: FieldReader;
  readonly account?: FieldReader;
  readonly partitionKey?: FieldReader;
  /** The allowlisted headers that may be forwarded. */
  readonly forwarded: readonly string[];
  /**
   * Each forwarded name as a JSON member's start (`"user-agent":`), when the headers' JSON may be
   * written name by name in allowlist order; undefined when JSON.stringify would order or drop a
   * name differently (an array index such as `1` goes first; `__proto__` is no own property).
   */
  readonly forwardedKeys?: readonly string[];
  readonly allowed?: ReadonlySet<string>;
  /** The stream of each routed type: the first route that names it. */
  readonly routes?: ReadonlyMap<string, string>;
  /** `,"source":"<source>","receivedAt":` */
  readonly sourceJson: string;
}

const plans = new WeakMap<IngestConfig, EnvelopePlan>();

function envelopePlan(config: IngestConfig): EnvelopePlan {
  let plan = plans.get(config);
  if (plan === undefined) {
    const { metadata } = config;
    let routes: Map<string, string> | undefined;
    for (const route of config.routes ?? []) {
      routes ??= new Map();
      for (const type of route.eventTypes) if (!routes.has(type)) routes.set(type, route.streamName);
    }
    const forwarded = config.headerAllowlist.filter((name) => !NEVER_FORWARDED_HEADERS.includes(name));
    plan = {
      id: fieldReader(metadata.id),
      type: fieldReader(metadata.type),
      timestamp: fieldReader(metadata.timestamp),
      account: fieldReader(metadata.account),
      partitionKey: fieldReader(config.partitionKey),
      forwarded,
      forwardedKeys: forwarded.some((name) => /^(?:0|[1-9]\d*)$/.test(name) || name === '__proto__') ? undefined : forwarded.map((name) => `${JSON.stringify(name)}:`),
      allowed: config.allowedEventTypes === undefined ? undefined : new Set(config.allowedEventTypes),
      routes,
      sourceJson: `,"source":${JSON.stringify(config.source)},"receivedAt":`,
    };
    plans.set(config, plan);
  }
  return plan;
}

/** The ISO 8601 text of one second, up to its `.`, kept for the next time in the same second. */
interface SecondText {
  second: number;
  text: string;
}

/** The largest time a Date holds, in ms either side of the epoch. */
const MAX_DATE_MS = 8.64e15;

/**
 * A time in ms as `new Date(ms).toISOString()` writes it, or null for no valid date. Consecutive
 * times in the same second (the requests and events of a burst) reuse that second's text.
 */
export function isoTime(ms: number, last: SecondText = eventSecond): string | null {
  if (!(Math.abs(ms) <= MAX_DATE_MS)) return null;
  const t = Math.trunc(ms);
  const second = Math.floor(t / 1000);
  const milli = t - second * 1000;
  if (!(milli >= 0 && milli < 1000)) return new Date(t).toISOString();
  if (second !== last.second) {
    last.text = new Date(second * 1000).toISOString().slice(0, -4);
    last.second = second;
  }
  return `${last.text}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

const eventSecond: SecondText = { second: NaN, text: '' };
const receivedSecond: SecondText = { second: NaN, text: '' };

/** Unix seconds, Unix milliseconds or an ISO 8601 string, as ISO 8601; null when unreadable. */
export function toIsoTimestamp(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return isoTime(Math.abs(value) < 1e11 ? value * 1000 : value);
  if (typeof value === 'string' && /^\d{1,13}$/.test(value)) return toIsoTimestamp(Number(value));
  if (typeof value === 'string' && value !== '') return isoTime(Date.parse(value));
  return null;
}

function digest(parts: readonly (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 32);
}

/** Kinesis partition keys are 1 to 256 characters; longer keys are hashed, keeping them stable. */
export function toPartitionKey(value: string): string {
  return value.length <= KINESIS_LIMITS.maxPartitionKeyLength ? value : digest([value]);
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Printable ASCII but `"` and `\`: a string JSON.stringify writes as it is, between quotes. */
const JSON_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const jsonString = (value: string) => (JSON_PLAIN.test(value) ? `"${value}"` : JSON.stringify(value));

/** The allowlisted headers the request has, and their JSON as JSON.stringify writes it. */
function allowlistedHeaders(request: WebhookRequest, plan: EnvelopePlan): { readonly headers: Readonly<Record<string, string>>; readonly json: string } {
  const { forwarded, forwardedKeys } = plan;
  let headers: Record<string, string> | undefined;
  let json = '';
  for (let i = 0; i < forwarded.length; i++) {
    const values = request.headers.get(forwarded[i]);
    if (values === undefined) continue;
    const value = values.length === 1 ? values[0] : values.join(', ');
    (headers ??= {})[forwarded[i]] = value;
    // Written name by name: the header values are usually plain text, which needs no escaping.
    if (forwardedKeys !== undefined) json += `${json === '' ? '{' : ','}${forwardedKeys[i]}${jsonString(value)}`;
  }
  if (headers === undefined) return { headers: NO_HEADERS, json: '{}' };
  return { headers, json: forwardedKeys === undefined ? JSON.stringify(headers) : `${json}}` };
}

function eventIdWith(plan: EnvelopePlan, config: IngestConfig, request: WebhookRequest, event: JsonObject, index: number, isBatch: boolean): string {
  const id = scalarText(rawField(plan.id, request, event));
  if (id !== undefined) return plan.id?.header !== undefined && isBatch ? `${id}:${index}` : id;
  return digest([config.source, '\n', isBatch ? JSON.stringify(event) : request.rawBody]);
}

/**
 * The id of one event: from the configured field; `<id>:<index>` when a header names one id for
 * a whole batch; else a hash of the source and the event's bytes, so that a redelivered event
 * gets the same id again.
 */
export function eventIdOf(config: IngestConfig, request: WebhookRequest, event: JsonObject, index: number, isBatch: boolean): string {
  return eventIdWith(envelopePlan(config), config, request, event, index, isBatch);
}

/** A JSON string, or null. */
const jsonOrNull = (value: string | null | undefined) => (value === null || value === undefined ? 'null' : JSON.stringify(value));

/**
 * The envelope's JSON up to its payload, `{"id":...,"payload":`, written as JSON.stringify writes
 * the envelope (same members, same order, same escaping). `shared` is what every envelope of the
 * request has from `,"source":` on.
 */
function envelopeHead(envelope: Envelope, shared: string): string {
  const account = envelope.account === undefined ? '' : `,"account":${jsonOrNull(envelope.account)}`;
  return `{"id":${JSON.stringify(envelope.id)},"type":${jsonOrNull(envelope.type)},"timestamp":${envelope.timestamp === null ? 'null' : `"${envelope.timestamp}"`}${account}${shared}`;
}

/** The envelope's JSON after its payload: its quarantine, if any, and the closing brace. */
function envelopeTail(envelope: Envelope): string {
  return envelope.quarantine === undefined ? '}' : `,"quarantine":${JSON.stringify(envelope.quarantine)}}`;
}

/**
 * The envelope as record bytes, with the payload given as JSON: the event's raw bytes are spliced
 * in byte for byte (same keys, in the same order, as JSON.stringify would write; re-serializing a
 * large event costs more than verifying and parsing it), into one buffer.
 */
function serialize(head: string, payload: Buffer | string, tail: string): Buffer {
  if (typeof payload === 'string') return Buffer.from(head + payload + tail, 'utf8');
  const headBytes = Buffer.byteLength(head, 'utf8');
  const data = Buffer.allocUnsafe(headBytes + payload.length + tail.length);
  data.write(head, 0, 'utf8');
  payload.copy(data, headBytes);
  data.write(tail, headBytes + payload.length, 'utf8');
  return data;
}

function recordSize(data: Buffer, partitionKey: string): number {
  return data.length + Buffer.byteLength(partitionKey, 'utf8');
}

/** What the envelopes of one request share. */
interface RequestFacts {
  readonly config: IngestConfig;
  readonly plan: EnvelopePlan;
  readonly request: WebhookRequest;
  readonly body: ParsedBody;
  readonly correlationId: string;
  /** Allowlisted request headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly receivedAt: string;
  /** The envelopes' JSON from `,"source":` to `"payload":`, the same for every event. */
  readonly shared: string;
  readonly store?: PayloadStore;
}

type Verdict = ReturnType<EventCheck>;
const VALID: Verdict = { valid: true };

function envelopeOf(facts: RequestFacts, event: JsonObject, id: string, type: string | null, verdict: Verdict): Envelope {
  const { plan, request } = facts;
  const timestamp = toIsoTimestamp(rawField(plan.timestamp, request, event));
  const { source } = facts.config;
  const { receivedAt, correlationId, headers } = facts;
  const contentType = facts.body.contentType;
  const envelope: { -readonly [K in keyof Envelope]: Envelope[K] } = facts.config.metadata.account === undefined
    ? { id, type, timestamp, source, receivedAt, correlationId, headers, contentType, payload: event }
    : { id, type, timestamp, account: scalarText(rawField(plan.account, request, event)) ?? null, source, receivedAt, correlationId, headers, contentType, payload: event };
  if (!verdict.valid) envelope.quarantine = { reason: verdict.reason, violations: verdict.violations };
  return envelope;
}

/** The claim check: the event's bytes go to the store, and the envelope carries their reference instead. */
async function claimChecked(facts: RequestFacts, store: PayloadStore, envelope: Envelope, event: JsonObject, index: number): Promise<Envelope> {
  const { body, config } = facts;
  // What the payload would have been: the JSON bytes received for a single JSON event (any JSON
  // media type, without a byte order mark), under its media type; else the event's JSON (an element
  // of a batch, the fields of a form), as application/json.
  const raw = body.eventJson;
  const payloadRef = await store.put(raw ?? Buffer.from(JSON.stringify(event), 'utf8'), {
    source: config.source,
    eventId: envelope.id,
    contentType: raw === undefined ? 'application/json' : body.contentType,
    index: body.isBatch ? index : undefined,
  });
  const { payload: _omitted, ...rest } = envelope;
  return { ...rest, payloadRef };
}

function tooLarge(index: number, size: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `event ${index} is ${size} bytes as a stream record; a Kinesis record holds at most ${KINESIS_LIMITS.maxBytesPerRecord} bytes`,
  );
}

function streamOf(facts: RequestFacts, envelope: Envelope, valid: boolean): string {
  if (!valid) return facts.config.quarantineStreamName as string;
  const { type } = envelope;
  return (type === null ? undefined : facts.plan.routes?.get(type)) ?? facts.config.streamName;
}

/**
 * The event's record with the payload in it: the raw bytes spliced in, else serialized again
 * (the sender's whitespace must not be what pushes an event out of its record). Undefined when it
 * fits no record and the source has a payload store; a 413 when it fits none and has no store.
 */
function recordWithPayload(facts: RequestFacts, event: JsonObject, index: number, envelope: Envelope, partitionKey: string, valid: boolean): OutgoingRecord | undefined {
  const rawPayload = facts.body.eventJson;
  const head = envelopeHead(envelope, facts.shared);
  const tail = envelopeTail(envelope);
  let data = serialize(head, rawPayload ?? JSON.stringify(event), tail);
  if (rawPayload !== undefined && recordSize(data, partitionKey) > KINESIS_LIMITS.maxBytesPerRecord) {
    data = serialize(head, JSON.stringify(event), tail);
  }
  const size = recordSize(data, partitionKey);
  if (size <= KINESIS_LIMITS.maxBytesPerRecord) return { envelope, streamName: streamOf(facts, envelope, valid), partitionKey, data };
  if (facts.store === undefined) throw tooLarge(index, size);
  return undefined;
}

/** The event's record behind a claim check: the payload in the store, its reference in the envelope. */
async function claimCheckedRecord(facts: RequestFacts, event: JsonObject, index: number, first: Envelope, partitionKey: string, valid: boolean): Promise<OutgoingRecord> {
  const envelope = await claimChecked(facts, facts.store as PayloadStore, first, event, index);
  const data = Buffer.from(JSON.stringify(envelope), 'utf8');
  const size = recordSize(data, partitionKey);
  if (size > KINESIS_LIMITS.maxBytesPerRecord) throw tooLarge(index, size);
  return { envelope, streamName: streamOf(facts, envelope, valid), partitionKey, data };
}

/**
 * Wraps each parsed event in an envelope and serializes it as a Kinesis record: the payload
 * spliced in, else serialized again, else behind a claim check. An event too large for a record
 * goes to the payload store, when there is one, and its record carries a `payloadRef` instead;
 * without a store it is a 413.
 */
export async function buildRecords(
  config: IngestConfig,
  request: WebhookRequest,
  body: ParsedBody,
  correlationId: string,
  store?: PayloadStore,
  check?: EventCheck,
): Promise<EnvelopeResult> {
  const plan = envelopePlan(config);
  const { headers, json: headersJson } = allowlistedHeaders(request, plan);
  const receivedAt = isoTime(request.receivedAtMs, receivedSecond) ?? new Date(request.receivedAtMs).toISOString();
  const facts: RequestFacts = {
    config, plan, request, body, correlationId, store, headers, receivedAt,
    // ISO 8601 text needs no escaping.
    shared: `${plan.sourceJson}"${receivedAt}","correlationId":${JSON.stringify(correlationId)},"headers":${headersJson},"contentType":${JSON.stringify(body.contentType)},"payload":`,
  };
  const { allowed } = plan;
  const { events } = body;
  const records: OutgoingRecord[] = [];
  let ignored = 0;
  let quarantined = 0;
  for (let index = 0; index < events.length; index++) {
    const event = events[index];
    const type = scalarText(rawField(plan.type, request, event)) ?? null;
    if (allowed !== undefined && (type === null || !allowed.has(type))) {
      ignored += 1;
      continue;
    }
    const id = body.eventId ?? eventIdWith(plan, config, request, event, index, body.isBatch);
    const verdict = check?.(type, event, index) ?? VALID;
    const envelope = envelopeOf(facts, event, id, type, verdict);
    const keyValue = plan.partitionKey === undefined ? id : scalarText(rawField(plan.partitionKey, request, event)) ?? id;
    const partitionKey = toPartitionKey(keyValue);
    records.push(recordWithPayload(facts, event, index, envelope, partitionKey, verdict.valid)
      ?? await claimCheckedRecord(facts, event, index, envelope, partitionKey, verdict.valid));
    if (!verdict.valid) quarantined += 1;
  }
  return { records, ignored, quarantined };
}
