import { X509Certificate } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { MalformedPayloadError, WebhookError } from './errors';

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
 * Reads an API Gateway REST proxy event. The API declares `*\/*` as a binary media type, so the
 * body arrives base64-encoded and decodes to the sender's bytes exactly.
 */
export function fromApiGatewayEvent(event: APIGatewayProxyEvent, nowMs: number): WebhookRequest {
  const headers = new Map<string, string[]>();
  const multi = event.multiValueHeaders ?? {};
  for (const [name, values] of Object.entries(multi)) {
    if (values && values.length > 0) headers.set(name.toLowerCase(), [...values]);
  }
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    const key = name.toLowerCase();
    if (value !== undefined && !headers.has(key)) headers.set(key, [value]);
  }
  const body = event.body ?? '';
  const rawBody = event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  const epoch = event.requestContext?.requestTimeEpoch;
  const query = Object.entries(event.multiValueQueryStringParameters ?? {})
    .flatMap(([name, values]) => (values ?? []).map((value) => [name, value] as const));
  return {
    rawBody,
    headers,
    requestId: event.requestContext?.requestId,
    receivedAtMs: typeof epoch === 'number' && epoch > 0 ? epoch : nowMs,
    requestPath: event.requestContext?.path,
    domainName: event.requestContext?.domainName,
    query,
    clientCertSubject: event.requestContext?.identity?.clientCert?.subjectDN,
    ...clientCertFields(event.requestContext?.identity?.clientCert),
  };
}

/** Fills in headers sent under an alias (`svix-id` for `webhook-id`) when the canonical name is absent. */
export function withHeaderAliases(request: WebhookRequest, aliases: Readonly<Record<string, string>> | undefined): WebhookRequest {
  if (aliases === undefined) return request;
  const headers = new Map(request.headers);
  for (const [canonical, alias] of Object.entries(aliases)) {
    const values = headers.get(alias);
    if (!headers.has(canonical) && values !== undefined) headers.set(canonical, values);
  }
  return { ...request, headers };
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
 * identity must not be ambiguous, so a repeated one is a 400.
 */
export function singleHeader(request: WebhookRequest, name: string): string | undefined {
  const values = request.headers.get(name);
  if (values === undefined) return undefined;
  if (values.length > 1) throw new MalformedPayloadError(`header ${name} must appear once`);
  return values[0];
}

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
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
