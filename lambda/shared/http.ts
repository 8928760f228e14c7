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
  return {
    rawBody,
    headers,
    requestId: event.requestContext?.requestId,
    receivedAtMs: typeof epoch === 'number' && epoch > 0 ? epoch : nowMs,
  };
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
