import type { IngestConfig } from './config';
import { UnsupportedMediaTypeError } from '../common/errors';
import type { WebhookRequest } from '../common/http';
import { decideContent, parseBody, type ContentDecision, type JsonObject, type ParsedBody } from '../common/parse';
import type { PayloadRef } from './claim-check';
import { eventIdOf, type PayloadStore } from './envelope';
import { parseMultipart } from './multipart';

/** One file of a multipart event, as the event lists it; its bytes are in the payload store. */
interface StoredFile {
  readonly field: string;
  readonly filename: string | null;
  readonly contentType: string;
  readonly size: number;
  readonly sha256: string;
  readonly payloadRef: PayloadRef;
}

/**
 * A `multipart/form-data` body is one event: its fields, and a `files` list whose bytes went to
 * the payload store under the event's id.
 */
async function readMultipart(config: IngestConfig, request: WebhookRequest, content: ContentDecision, store: PayloadStore | undefined): Promise<ParsedBody> {
  if (config.multipart === undefined || store === undefined) {
    throw new UnsupportedMediaTypeError('this source does not accept multipart/form-data; send application/json');
  }
  const form = await parseMultipart(request.rawBody, content.header, config.multipart);
  const event: JsonObject = { ...form.fields };
  const eventId = eventIdOf(config, request, event, 0, false);
  const files: StoredFile[] = [];
  for (const [index, file] of form.files.entries()) {
    const payloadRef = await store.put(file.bytes, { source: config.source, eventId, contentType: file.contentType, index });
    files.push({ field: file.fieldName, filename: file.filename ?? null, contentType: file.contentType, size: file.bytes.length, sha256: file.sha256, payloadRef });
  }
  if (files.length > 0) event.files = files;
  return { contentType: content.mediaType, kind: 'multipart', events: [event], isBatch: false, eventId };
}

/**
 * The read stage: the Content-Type, decided once, says how the body is read (JSON, a form, a
 * multipart form), and the decision travels with the parsed body to the envelope.
 */
export async function readBody(config: IngestConfig, request: WebhookRequest, store: PayloadStore | undefined): Promise<ParsedBody> {
  const content = decideContent(request, 'any');
  if (content.kind === 'multipart') return readMultipart(config, request, content, store);
  return parseBody(request, config.maxBatchRecords, content);
}
