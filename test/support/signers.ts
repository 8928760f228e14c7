import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';

/** Signs like Stripe: `t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">`. */
export function stripeSignature(secret: string, body: string | Buffer, timestamp: number): string {
  return `t=${timestamp},v1=${stripeV1(secret, body, timestamp)}`;
}

export function stripeV1(secret: string, body: string | Buffer, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** Signs like GitHub: `sha256=<hex HMAC-SHA256 of the body>`. */
export function githubSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface EventOptions {
  readonly query?: Record<string, string>;
  readonly requestPath?: string;
  readonly clientCertSubject?: string;
  readonly headers?: Record<string, string>;
  readonly path?: string;
  readonly requestId?: string;
  readonly requestTimeEpoch?: number;
}

/**
 * An API Gateway REST proxy event as API Gateway sends it with `*\/*` as a binary media type:
 * the body base64-encoded.
 */
export function apiGatewayEvent(body: string | Buffer, options: EventOptions = {}): APIGatewayProxyEvent {
  const headers = options.headers ?? {};
  return {
    resource: options.path ?? '/webhook',
    path: options.path ?? '/webhook',
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: options.query ? Object.fromEntries(Object.entries(options.query).map(([k, v]) => [k, [v]])) : null,
    pathParameters: null,
    stageVariables: null,
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
    requestContext: {
      requestId: options.requestId ?? 'c0ffee00-0000-4000-8000-000000000000',
      requestTimeEpoch: options.requestTimeEpoch ?? Date.now(),
      path: options.requestPath ?? `/prod${options.path ?? '/webhook'}`,
      identity: options.clientCertSubject === undefined ? {} : { clientCert: { subjectDN: options.clientCertSubject } },
    } as APIGatewayProxyEvent['requestContext'],
  };
}

/** Signs like Slack: `v0=<hex HMAC-SHA256 of "v0:<ts>:<body>">`. */
export function slackSignature(secret: string, body: string | Buffer, timestamp: number): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex')}`;
}

/** Signs like Segment: hex HMAC-SHA1 of the body. */
export function segmentSignature(secret: string, body: string | Buffer): string {
  return createHmac('sha1', secret).update(body).digest('hex');
}

/** Signs like Shopify: base64 HMAC-SHA256 of the body. */
export function shopifySignature(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

/** Signs like Standard Webhooks: `v1,<base64 HMAC-SHA256 of "<id>.<ts>.<body>">`, key = base64 after whsec_. */
export function standardWebhooksSignature(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

/** Signs like Planasonix: hex HMAC-SHA256 of "<ts>.<body>". */
export function planasonixSignature(secret: string, body: string | Buffer, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** Signs like Twilio: base64 HMAC-SHA1 of the URL plus sorted name+value pairs. */
export function twilioSignature(authToken: string, url: string, params: readonly (readonly [string, string])[] = []): string {
  const sorted = [...params].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return createHmac('sha1', authToken).update(url + sorted.map(([k, v]) => k + v).join('')).digest('base64');
}
