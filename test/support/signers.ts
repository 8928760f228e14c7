import type { APIGatewayProxyEvent } from 'aws-lambda';

// The tests sign with the library's own signing code, the same code the `sign` command runs.
export {
  githubSignature,
  planasonixSignature,
  segmentSignature,
  shopifySignature,
  slackSignature,
  standardWebhooksSignature,
  stripeSignature,
  stripeV1,
  twilioSignature,
} from '../../lambda/shared/signing';

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
