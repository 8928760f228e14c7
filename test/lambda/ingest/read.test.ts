import { MalformedPayloadError, UnsupportedMediaTypeError } from '../../../lambda/common/errors';
import { fromApiGatewayEvent } from '../../../lambda/common/http';
import type { PayloadStore } from '../../../lambda/ingest/envelope';
import { readBody } from '../../../lambda/ingest/read';
import { WebhookAuth } from '../../../lib';
import { ingestConfig } from '../../support/presets';
import { apiGatewayEvent } from '../../support/signers';

const limits = { maxParts: 20, maxFields: 10, maxFieldBytes: 1024, maxFiles: 5, maxFileBytes: 1024, maxTotalFileBytes: 4096 };
const config = ingestConfig((s) => WebhookAuth.stripe(s), { source: 'forms', multipart: limits });
const BOUNDARY = 'XyZ123';
const form = Buffer.from([
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="invoice"\r\n\r\nINV-7\r\n`,
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="scan"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n`,
  `--${BOUNDARY}--\r\n`,
].join(''));

const request = (body: string | Buffer, headers: Record<string, string | string[]>) =>
  fromApiGatewayEvent({ ...apiGatewayEvent(body), multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v].flat()])), headers: {} }, 0);

function recordingStore(): PayloadStore & { eventIds: string[] } {
  const eventIds: string[] = [];
  return {
    eventIds,
    put: async (bytes, meta) => {
      eventIds.push(meta.eventId);
      return { bucket: 'b', key: `k/${meta.index}`, size: bytes.length, sha256: '0'.repeat(64), contentType: meta.contentType };
    },
  };
}

describe('readBody', () => {
  test('reads JSON by the Content-Type it decided, carrying the kind', async () => {
    const body = await readBody(config, request('[{"id":"a"},{"id":"b"}]', { 'Content-Type': 'application/vnd.x+json; charset=utf-8' }), undefined);
    expect(body).toMatchObject({ kind: 'json', contentType: 'application/vnd.x+json', isBatch: true, events: [{ id: 'a' }, { id: 'b' }] });
  });

  test('a multipart form is one event; its files are stored under the id the event is given, named once', async () => {
    // GIVEN a multipart body and a payload store
    const store = recordingStore();
    // WHEN it is read
    const body = await readBody(config, request(form, { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` }), store);
    // THEN its fields are the event, its file is listed with its ref, and the event's id is the one the file went under
    expect(body).toMatchObject({ kind: 'multipart', contentType: 'multipart/form-data', isBatch: false });
    expect(body.events[0]).toMatchObject({ invoice: 'INV-7', files: [{ field: 'scan', filename: 'a.txt', contentType: 'text/plain', size: 5 }] });
    expect(store.eventIds).toEqual([body.eventId]);
    expect(body.eventId).toMatch(/^[0-9a-f]{32}$/);
  });

  test('fails when the source takes no multipart forms (415, saying what to send)', async () => {
    const noForms = ingestConfig((s) => WebhookAuth.stripe(s), { source: 'json-only' });
    await expect(readBody(noForms, request(form, { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` }), recordingStore()))
      .rejects.toThrow(new UnsupportedMediaTypeError('this source does not accept multipart/form-data; send application/json'));
  });

  test('fails when the Content-Type is sent twice (400), whatever the types', async () => {
    await expect(readBody(config, request(form, { 'Content-Type': [`multipart/form-data; boundary=${BOUNDARY}`, 'application/json'] }), recordingStore()))
      .rejects.toThrow(MalformedPayloadError);
  });
});
