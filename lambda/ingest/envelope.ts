import { createHash } from 'node:crypto';
import type { PayloadRef } from './claim-check';
import { KINESIS_LIMITS } from '../common/kinesis-limits';
import { NEVER_FORWARDED_HEADERS, type FieldSource, type IngestConfig } from './config';
import { PayloadTooLargeError } from '../common/errors';
import { singleHeader, type WebhookRequest } from '../common/http';
import { resolvePointer } from '../common/json-pointer';
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

function rawField(source: FieldSource | undefined, request: WebhookRequest, event: JsonObject): unknown {
  if (source === undefined) return undefined;
  if ('header' in source) return singleHeader(request, source.header.toLowerCase());
  return resolvePointer(event, source.jsonPointer);
}

/** Unix seconds, Unix milliseconds or an ISO 8601 string, as ISO 8601; null when unreadable. */
export function toIsoTimestamp(value: unknown): string | null {
  let ms: number;
  if (typeof value === 'number' && Number.isFinite(value)) {
    ms = Math.abs(value) < 1e11 ? value * 1000 : value;
  } else if (typeof value === 'string' && /^\d{1,13}$/.test(value)) {
    return toIsoTimestamp(Number(value));
  } else if (typeof value === 'string' && value !== '') {
    ms = Date.parse(value);
  } else {
    return null;
  }
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
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

function allowlistedHeaders(request: WebhookRequest, allowlist: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of allowlist) {
    if (NEVER_FORWARDED_HEADERS.includes(name)) continue;
    const values = request.headers.get(name);
    if (values !== undefined) headers[name] = values.join(', ');
  }
  return headers;
}

/**
 * The id of one event: from the configured field; `<id>:<index>` when a header names one id for
 * a whole batch; else a hash of the source and the event's bytes, so that a redelivered event
 * gets the same id again.
 */
export function eventIdOf(config: IngestConfig, request: WebhookRequest, event: JsonObject, index: number, isBatch: boolean): string {
  const idSource = config.metadata.id;
  const id = scalarText(rawField(idSource, request, event));
  if (id !== undefined) return idSource !== undefined && 'header' in idSource && isBatch ? `${id}:${index}` : id;
  return digest([config.source, '\n', isBatch ? JSON.stringify(event) : request.rawBody]);
}

/**
 * The envelope as record bytes. With the event's raw JSON, the payload is spliced in byte for byte
 * (same keys, in the same order, as JSON.stringify would write): re-serializing a large event
 * costs more than verifying and parsing it.
 */
function serialize(envelope: Envelope, rawPayload: Buffer | undefined): Buffer {
  if (rawPayload === undefined || envelope.payload === undefined) return Buffer.from(JSON.stringify(envelope), 'utf8');
  const { payload: _spliced, quarantine, ...head } = envelope;
  // `head` always has an id, so its JSON is `{...}` with at least one member.
  const before = `${JSON.stringify(head).slice(0, -1)},"payload":`;
  const after = quarantine === undefined ? '}' : `,"quarantine":${JSON.stringify(quarantine)}}`;
  return Buffer.concat([Buffer.from(before, 'utf8'), rawPayload, Buffer.from(after, 'utf8')]);
}

function recordSize(data: Buffer, partitionKey: string): number {
  return data.length + Buffer.byteLength(partitionKey, 'utf8');
}

/** What the envelopes of one request share. */
interface RequestFacts {
  readonly config: IngestConfig;
  readonly request: WebhookRequest;
  readonly body: ParsedBody;
  readonly correlationId: string;
  /** Allowlisted request headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly receivedAt: string;
  readonly store?: PayloadStore;
}

type Verdict = ReturnType<EventCheck>;
const VALID: Verdict = { valid: true };

function envelopeOf(facts: RequestFacts, event: JsonObject, id: string, type: string | null, verdict: Verdict): Envelope {
  const { config, request } = facts;
  return {
    id,
    type,
    timestamp: toIsoTimestamp(rawField(config.metadata.timestamp, request, event)),
    ...(config.metadata.account === undefined ? {} : { account: scalarText(rawField(config.metadata.account, request, event)) ?? null }),
    source: config.source,
    receivedAt: facts.receivedAt,
    correlationId: facts.correlationId,
    headers: facts.headers,
    contentType: facts.body.contentType,
    payload: event,
    ...(verdict.valid ? {} : { quarantine: { reason: verdict.reason, violations: verdict.violations } }),
  };
}

/** The claim check: the event's bytes go to the store, and the envelope carries their reference instead. */
async function claimChecked(facts: RequestFacts, store: PayloadStore, envelope: Envelope, event: JsonObject, index: number): Promise<Envelope> {
  const { body, config, request } = facts;
  // The exact bytes received for a single event; the element's JSON for one of a batch.
  const bytes = body.isBatch || body.contentType !== 'application/json' ? Buffer.from(JSON.stringify(event), 'utf8') : request.rawBody;
  const payloadRef = await store.put(bytes, {
    source: config.source,
    eventId: envelope.id,
    contentType: body.isBatch ? 'application/json' : body.contentType,
    index: body.isBatch ? index : undefined,
  });
  const { payload: _omitted, ...rest } = envelope;
  return { ...rest, payloadRef };
}

/**
 * The event's record: its envelope as bytes that fit a Kinesis record (the payload spliced in,
 * else serialized again, else behind a claim check), its partition key and its stream. A 413
 * when it fits no record.
 */
async function toRecord(facts: RequestFacts, event: JsonObject, index: number, first: Envelope, valid: boolean): Promise<OutgoingRecord> {
  const { config, request, store } = facts;
  const rawPayload = facts.body.eventJson;
  let envelope = first;
  const keyValue = config.partitionKey === undefined ? envelope.id : scalarText(rawField(config.partitionKey, request, event)) ?? envelope.id;
  const partitionKey = toPartitionKey(keyValue);
  let data = serialize(envelope, rawPayload);
  if (rawPayload !== undefined && recordSize(data, partitionKey) > KINESIS_LIMITS.maxBytesPerRecord) {
    // The sender's whitespace must not be what pushes an event out of its record.
    data = serialize(envelope, undefined);
  }
  if (recordSize(data, partitionKey) > KINESIS_LIMITS.maxBytesPerRecord && store !== undefined) {
    envelope = await claimChecked(facts, store, envelope, event, index);
    data = Buffer.from(JSON.stringify(envelope), 'utf8');
  }
  const size = recordSize(data, partitionKey);
  if (size > KINESIS_LIMITS.maxBytesPerRecord) {
    throw new PayloadTooLargeError(
      `event ${index} is ${size} bytes as a stream record; a Kinesis record holds at most ${KINESIS_LIMITS.maxBytesPerRecord} bytes`,
    );
  }
  const type = envelope.type;
  const routed = (type === null ? undefined : config.routes?.find((r) => r.eventTypes.includes(type))?.streamName) ?? config.streamName;
  const streamName = valid ? routed : config.quarantineStreamName as string;
  return { envelope, streamName, partitionKey, data };
}

/**
 * Wraps each parsed event in an envelope and serializes it as a Kinesis record. An event too
 * large for a record goes to the payload store, when there is one, and its record carries a
 * `payloadRef` instead; without a store it is a 413.
 */
export async function buildRecords(
  config: IngestConfig,
  request: WebhookRequest,
  body: ParsedBody,
  correlationId: string,
  store?: PayloadStore,
  check?: EventCheck,
): Promise<EnvelopeResult> {
  const facts: RequestFacts = {
    config, request, body, correlationId, store,
    headers: allowlistedHeaders(request, config.headerAllowlist),
    receivedAt: new Date(request.receivedAtMs).toISOString(),
  };
  const allowed = config.allowedEventTypes === undefined ? undefined : new Set(config.allowedEventTypes);
  const records: OutgoingRecord[] = [];
  let ignored = 0;
  let quarantined = 0;
  for (const [index, event] of body.events.entries()) {
    const type = scalarText(rawField(config.metadata.type, request, event)) ?? null;
    if (allowed !== undefined && (type === null || !allowed.has(type))) {
      ignored += 1;
      continue;
    }
    const id = body.eventId ?? eventIdOf(config, request, event, index, body.isBatch);
    const verdict = check?.(type, event, index) ?? VALID;
    records.push(await toRecord(facts, event, index, envelopeOf(facts, event, id, type, verdict), verdict.valid));
    if (!verdict.valid) quarantined += 1;
  }
  return { records, ignored, quarantined };
}
