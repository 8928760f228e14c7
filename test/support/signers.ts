import type { APIGatewayProxyEvent } from 'aws-lambda';

// The tests sign with the library's own signing code, the same code the `sign` command runs.
export * from '../../lambda/common/signing';

export interface EventOptions {
  readonly query?: Record<string, string>;
  readonly requestPath?: string;
  /** `requestContext.domainName`: the domain API Gateway received the request on. Absent: none. */
  readonly domainName?: string;
  readonly clientCertSubject?: string;
  /** The client certificate's serial number, as API Gateway writes it (`a1:b2:...`). Absent: none. */
  readonly clientCertSerialNumber?: string;
  /** The client certificate's notAfter, as API Gateway writes it (`Aug  5 09:36:04 2021 GMT`). Absent: none. */
  readonly clientCertNotAfter?: string;
  /** The client certificate's PEM. Absent: none. */
  readonly clientCertPem?: string;
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
  const clientCert = clientCertOf(options);
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
      ...(options.domainName === undefined ? {} : { domainName: options.domainName }),
      identity: clientCert === undefined ? {} : { clientCert },
    } as APIGatewayProxyEvent['requestContext'],
  };
}

/** `requestContext.identity.clientCert` as API Gateway sends it, with only the fields a test gave. */
function clientCertOf(options: EventOptions): object | undefined {
  const { clientCertSubject, clientCertSerialNumber, clientCertNotAfter, clientCertPem } = options;
  if ([clientCertSubject, clientCertSerialNumber, clientCertNotAfter, clientCertPem].every((v) => v === undefined)) return undefined;
  return {
    ...(clientCertPem === undefined ? {} : { clientCertPem }),
    ...(clientCertSubject === undefined ? {} : { subjectDN: clientCertSubject }),
    ...(clientCertSerialNumber === undefined ? {} : { serialNumber: clientCertSerialNumber }),
    ...(clientCertNotAfter === undefined ? {} : { validity: { notAfter: clientCertNotAfter } }),
  };
}
