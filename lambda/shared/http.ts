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
  /** Query parameters in the order received, decoded. */
  readonly query: readonly (readonly [string, string])[];
  /** The subject DN of the TLS client certificate API Gateway verified, with mTLS on. */
  readonly clientCertSubject?: string;
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
    query,
    clientCertSubject: event.requestContext?.identity?.clientCert?.subjectDN,
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

/**
 * The URL the sender called: https, the Host header, the path with its stage or base path, and
 * the query string re-encoded. Undefined when the request does not say (no Host header).
 */
export function requestUrl(request: WebhookRequest): URL | undefined {
  const host = request.headers.get('host')?.[0];
  if (host === undefined || request.requestPath === undefined) return undefined;
  const url = new URL(`https://${host}${request.requestPath}`);
  for (const [name, value] of request.query) url.searchParams.append(name, value);
  return url;
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
