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
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
    requestContext: {
      requestId: options.requestId ?? 'c0ffee00-0000-4000-8000-000000000000',
      requestTimeEpoch: options.requestTimeEpoch ?? Date.now(),
    } as APIGatewayProxyEvent['requestContext'],
  };
}
