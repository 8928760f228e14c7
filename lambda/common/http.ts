import { X509Certificate } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { MalformedPayloadError, MethodNotAllowedError, RequestHeaderFieldsTooLargeError, WebhookError } from './errors';

/** The parts of an HTTP request the pipeline reads, with the body as the exact bytes sent. */
export interface WebhookRequest {
  readonly rawBody: Buffer;
  /** Lower-case header names to every value received, in order. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  /** API Gateway's request id, when there is one. */
  readonly requestId?: string;
  readonly receivedAtMs: number;
  /** The path the sender called, stage or base path included (`/prod/twilio`). */
  readonly requestPath?: string;
  /** The domain name API Gateway received the request on (`requestContext.domainName`), never the Host header. */
  readonly domainName?: string;
  /** Query parameters in the order received, decoded. */
  readonly query: readonly (readonly [string, string])[];
  /** The subject DN of the TLS client certificate API Gateway verified, with mTLS on. */
  readonly clientCertSubject?: string;
  /**
   * The serial number of that certificate, normalized (see {@link normalizeSerialNumber}): from
   * API Gateway's `serialNumber`, or read from its PEM when API Gateway gives none.
   */
  readonly clientCertSerialNumber?: string;
  /** When that certificate expires (its notAfter), in Unix milliseconds. Absent when unknown or unreadable. */
  readonly clientCertNotAfterMs?: number;
}

/**
 * One spelling of a certificate serial number: lower-case hex, without a `0x` prefix, separators
 * (`:`, `-`, spaces) or leading zeros. `'A1:0B:FF'` and `'00a10bff'` are both `'a10bff'`; an
 * all-zero serial is `'0'`. The issuing side (./client-ca) writes allowlists in this same form, so
 * the two compare as strings. Unlike it, this never throws: a serial that is not hex comes back
 * cleaned but not hex, and matches no allowlist.
 */
export function normalizeSerialNumber(serial: string): string {
  return serial.trim().replace(/^0x/i, '').replace(/[\s:-]/g, '').toLowerCase().replace(/^0+(?=.)/, '');
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** OpenSSL's certificate date, as API Gateway and node's X509Certificate write it: `Aug  5 09:36:04 2021 GMT`. */
const OPENSSL_DATE = /^([A-Za-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s+(\d{4})\s+GMT$/;
/** ISO 8601 with a time zone: `2021-08-05T09:36:04Z`. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads a certificate validity date: OpenSSL's form (`Aug  5 09:36:04 2021 GMT`, which API
 * Gateway uses) or ISO 8601 with a zone. Undefined for anything else, never a guess.
 */
export function parseCertificateDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const openssl = OPENSSL_DATE.exec(text);
  if (openssl !== null) {
    const [, month, day, hour, minute, second, year] = openssl;
    const monthIndex = MONTHS.indexOf(month.toLowerCase());
    if (monthIndex < 0) return undefined;
    const ms = Date.UTC(Number(year), monthIndex, Number(day), Number(hour), Number(minute), Number(second));
    // Date.UTC rolls Feb 30 over into March; a date that does not exist is unreadable.
    return new Date(ms).getUTCDate() === Number(day) && Number(hour) < 24 && Number(minute) < 60 && Number(second) < 60 ? ms : undefined;
  }
  if (ISO_DATE.test(text)) {
    const ms = Date.parse(text);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

type ClientCert = NonNullable<APIGatewayProxyEvent['requestContext']['identity']['clientCert']>;

/**
 * The serial number and expiry of the client certificate API Gateway verified. The PEM is read
 * only for what API Gateway left out, and never kept or logged.
 */
function clientCertFields(cert: Partial<ClientCert> | null | undefined): Pick<WebhookRequest, 'clientCertSerialNumber' | 'clientCertNotAfterMs'> {
  if (cert === undefined || cert === null) return {};
  let serial = typeof cert.serialNumber === 'string' && cert.serialNumber.trim() !== '' ? cert.serialNumber : undefined;
  let notAfterMs = parseCertificateDate(typeof cert.validity?.notAfter === 'string' ? cert.validity.notAfter : undefined);
  if ((serial === undefined || notAfterMs === undefined) && typeof cert.clientCertPem === 'string' && cert.clientCertPem !== '') {
    try {
      const x509 = new X509Certificate(cert.clientCertPem);
      serial ??= x509.serialNumber;
      notAfterMs ??= parseCertificateDate(x509.validTo);
    } catch {
      // Not a certificate: nothing more to read from it.
    }
  }
  const normalized = serial === undefined ? undefined : normalizeSerialNumber(serial);
  return {
    ...(normalized === undefined || normalized === '' ? {} : { clientCertSerialNumber: normalized }),
    ...(notAfterMs === undefined ? {} : { clientCertNotAfterMs: notAfterMs }),
  };
}

/**
 * The largest header value the handlers read, in UTF-8 bytes: API Gateway (REST) passes on at most
 * 10,240 bytes of request line and header values in all, so no value it accepts is larger.
 */
export const MAX_HEADER_VALUE_BYTES = 10_240;

/**
 * The most header bytes (names and values) the handlers read in all: API Gateway's 10,240 for the
 * sender's, with room for the ones it and CloudFront add (`X-Forwarded-*`, `X-Amzn-Trace-Id`,
 * `CloudFront-*`, `Via`, ...).
 */
export const MAX_HEADER_BYTES = 32_768;

/** A header name safe to quote in a message: a short token. Anything else is "a header". */
const QUOTABLE_HEADER_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * The request's headers, lower-case names to every value received, in order, from both of the
 * event's header maps. API Gateway fills both: `multiValueHeaders` with every value, `headers`
 * with the last one of each. A fuzzer or a direct invocation may make them disagree, or send one
 * name in several cases; the rule is deterministic and never lets a value go unseen:
 * - every `multiValueHeaders` value of every spelling of a name is kept, spellings in key order;
 * - a `headers` value is added unless that name already has it (so it is not counted twice when
 *   the two maps agree, as they do from API Gateway);
 * - only strings are values; anything else (null, numbers, a string where a list belongs) is
 *   ignored as API Gateway never sends it.
 * A name with more than one value is ambiguous: `singleHeader`, through which every header an
 * auth scheme, an id, a timestamp or a content type is read, answers it 400, so neither a
 * case-collision nor a disagreement between the maps can pick the value that gets verified.
 */
function collectHeaders(event: APIGatewayProxyEvent): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  const multi = isRecord(event.multiValueHeaders) ? event.multiValueHeaders : undefined;
  if (multi !== undefined) {
    for (const name of Object.keys(multi)) {
      const values: unknown = multi[name];
      if (!Array.isArray(values)) continue;
      let list: string[] | undefined;
      for (let i = 0; i < values.length; i++) {
        const value: unknown = values[i];
        if (typeof value !== 'string') continue;
        if (list !== undefined) {
          list.push(value);
          continue;
        }
        const key = name.toLowerCase();
        list = headers.get(key);
        if (list === undefined) headers.set(key, (list = [value]));
        else list.push(value);
      }
    }
  }
  const single = isRecord(event.headers) ? event.headers : undefined;
  if (single !== undefined) {
    for (const name of Object.keys(single)) {
      const value: unknown = single[name];
      if (typeof value !== 'string') continue;
      // API Gateway's shape: this spelling's last multi value is this value, and already kept.
      const same: unknown = multi?.[name];
      if (Array.isArray(same) && same.length > 0 && same[same.length - 1] === value) continue;
      const key = name.toLowerCase();
      const values = headers.get(key);
      if (values === undefined) headers.set(key, [value]);
      else if (!values.includes(value)) values.push(value);
    }
  }
  return headers;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Refuses header values, or headers in all, larger than any API Gateway passes on (431). */
function checkHeaderSizes(headers: ReadonlyMap<string, readonly string[]>): void {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: headers that short need no exact count.
  let units = 0;
  let longest = 0;
  for (const [name, values] of headers) {
    for (const value of values) {
      units += name.length + value.length;
      if (value.length > longest) longest = value.length;
    }
  }
  if (units * 3 <= MAX_HEADER_BYTES && longest * 3 <= MAX_HEADER_VALUE_BYTES) return;
  let total = 0;
  for (const [name, values] of headers) {
    for (const value of values) {
      const bytes = Buffer.byteLength(value, 'utf8');
      if (bytes > MAX_HEADER_VALUE_BYTES) {
        const which = QUOTABLE_HEADER_NAME.test(name) ? `header ${name}` : 'a header';
        throw new RequestHeaderFieldsTooLargeError(`${which} has a value of ${bytes} bytes; a header value may be at most ${MAX_HEADER_VALUE_BYTES} bytes`);
      }
      total += Buffer.byteLength(name, 'utf8') + bytes;
    }
  }
  if (total > MAX_HEADER_BYTES) {
    throw new RequestHeaderFieldsTooLargeError(`the headers are ${total} bytes in all; at most ${MAX_HEADER_BYTES} bytes are accepted`);
  }
}

/** The query parameters in the order received; the same empty list for every request without one. */
function queryOf(event: APIGatewayProxyEvent): readonly (readonly [string, string])[] {
  const multiQuery: unknown = event.multiValueQueryStringParameters;
  if (typeof multiQuery !== 'object' || multiQuery === null) return NO_QUERY;
  return Object.entries(multiQuery)
    .flatMap(([name, values]) => (Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : []).map((value) => [name, value] as const));
}

const NO_QUERY: readonly (readonly [string, string])[] = Object.freeze([]);

/**
 * Reads an API Gateway REST proxy event. The API declares `*\/*` as a binary media type, so the
 * body arrives base64-encoded and decodes to the sender's bytes exactly.
 *
 * Refuses, before anything else reads the request: any method but POST (405, with `Allow: POST`;
 * the gateway only routes POST, so this guards other integrations and direct invocations), and
 * headers larger than API Gateway ever passes on (431). See collectHeaders for how the two header
 * maps of the event are read.
 */
export function fromApiGatewayEvent(event: APIGatewayProxyEvent, nowMs: number): WebhookRequest {
  if (event.httpMethod !== 'POST') throw new MethodNotAllowedError(event.httpMethod);
  const headers = collectHeaders(event);
  checkHeaderSizes(headers);
  const body = typeof event.body === 'string' ? event.body : '';
  const rawBody = event.isBase64Encoded === true ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  const context = event.requestContext as Partial<APIGatewayProxyEvent['requestContext']> | undefined;
  const epoch = context?.requestTimeEpoch;
  const clientCert = context?.identity?.clientCert;
  const request: WebhookRequest = {
    rawBody,
    headers,
    requestId: context?.requestId,
    receivedAtMs: typeof epoch === 'number' && epoch > 0 ? epoch : nowMs,
    requestPath: context?.path,
    domainName: context?.domainName,
    query: queryOf(event),
    clientCertSubject: clientCert?.subjectDN,
  };
  return clientCert === undefined || clientCert === null ? request : { ...request, ...clientCertFields(clientCert) };
}

/** Fills in headers sent under an alias (`svix-id` for `webhook-id`) when the canonical name is absent. */
export function withHeaderAliases(request: WebhookRequest, aliases: Readonly<Record<string, string>> | undefined): WebhookRequest {
  if (aliases === undefined) return request;
  // Most requests use the canonical names: the request is copied only when an alias fills one in.
  let headers: Map<string, readonly string[]> | undefined;
  for (const canonical of Object.keys(aliases)) {
    const values = request.headers.get(aliases[canonical]);
    if (values === undefined || request.headers.has(canonical)) continue;
    (headers ??= new Map(request.headers)).set(canonical, values);
  }
  return headers === undefined ? request : { ...request, headers };
}

/** A domain name as API Gateway reports it: DNS labels, optionally a port. */
const DOMAIN_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?::\d{1,5})?$/;
/** A request path as API Gateway reports it: absolute, without query, fragment, spaces or controls. */
const REQUEST_PATH = /^\/[!$&'()*+,;=:@%/~A-Za-z0-9._-]*$/;

/**
 * The URL the sender called, without its query, as the deployment knows it: `configured`, the
 * public URL the deployment names, when there is one; else https, API Gateway's
 * `requestContext.domainName` and `requestContext.path` (stage or base path included). Never the
 * Host header, which the sender writes. Undefined when the request carries no usable domain name
 * or path (it did not come through API Gateway); nothing here throws.
 */
export function requestUrl(request: WebhookRequest, configured?: string): string | undefined {
  if (configured !== undefined) return configured;
  const { domainName, requestPath } = request;
  if (typeof domainName !== 'string' || typeof requestPath !== 'string') return undefined;
  if (!DOMAIN_NAME.test(domainName) || !REQUEST_PATH.test(requestPath)) return undefined;
  return `https://${domainName}${requestPath}`;
}

/**
 * The single value of a header, or undefined. A header that matters for authentication or
 * identity must not be ambiguous, so one sent more than once is a 400: repeated, sent under two
 * spellings of its name (`X-Signature` and `x-signature`), or given different values by the
 * event's two header maps. Never last-wins.
 */
export function singleHeader(request: WebhookRequest, name: string): string | undefined {
  const values = request.headers.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) {
    throw new MalformedPayloadError(`header ${name} must appear once; it was sent ${values.length} times (header names are compared without regard to case)`);
  }
  return values[0];
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': JSON_CONTENT_TYPE, ...headers },
    body: JSON.stringify(body),
  };
}

/** A JSON answer whose body is already JSON text, with the correlation id header. */
export function jsonTextResponse(statusCode: number, json: string, correlationId: string): APIGatewayProxyResult {
  return { statusCode, headers: { 'Content-Type': JSON_CONTENT_TYPE, 'X-Correlation-Id': correlationId }, body: json };
}

/** The one place where an error becomes an HTTP answer. Unknown errors never leak their message. */
export function errorResponse(error: unknown, correlationId: string): APIGatewayProxyResult {
  if (error instanceof WebhookError) {
    return jsonResponse(
      error.statusCode,
      { error: error.name.replace(/Error$/, ''), message: error.message, correlationId },
      { ...error.headers, 'X-Correlation-Id': correlationId },
    );
  }
  return jsonResponse(
    500,
    { error: 'Internal', message: 'internal error; nothing was accepted', correlationId },
    { 'X-Correlation-Id': correlationId },
  );
}
