/**
 * Typed errors. Each carries the HTTP status and a message that is safe to show the sender: it
 * never quotes the body, a header value or a secret. The `cause` is for debugging only and is
 * never logged or returned, because it may quote the body (V8's JSON.parse messages do).
 */
export class WebhookError extends Error {
  readonly statusCode: number;
  /** Extra response headers, such as Retry-After. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(statusCode: number, publicMessage: string, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(publicMessage, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WebhookError';
    this.statusCode = statusCode;
    this.headers = options?.headers ?? {};
  }
}

/** The options an error takes: the cause, for debugging only. */
export interface ErrorCause {
  readonly cause?: unknown;
}

/** The options of an answer that asks the sender to retry after `retryAfterSeconds`. */
export function retryLater(retryAfterSeconds: number, options?: ErrorCause): { cause?: unknown; headers: Record<string, string> } {
  return { cause: options?.cause, headers: { 'Retry-After': String(retryAfterSeconds) } };
}

/** The base of an error class of one status whose message the thrower writes. */
export function messageError(name: string, statusCode: number) {
  return class extends WebhookError {
    constructor(message: string, options?: ErrorCause) {
      super(statusCode, message, options);
      this.name = name;
    }
  };
}

/** The base of an error class of one status and one message that asks the sender to retry later. */
export function retryLaterError(name: string, statusCode: number, message: string) {
  return class extends WebhookError {
    constructor(retryAfterSeconds: number, options?: ErrorCause) {
      super(statusCode, message, retryLater(retryAfterSeconds, options));
      this.name = name;
    }
  };
}

/** 400: the body cannot be read as the declared format. */
export class MalformedPayloadError extends messageError('MalformedPayloadError', 400) {}

/** 401: a signature, token or timestamp is missing. */
export class MissingCredentialsError extends messageError('MissingCredentialsError', 401) {}

/** 401: no active secret produces the signature that was sent. */
export class SignatureMismatchError extends WebhookError {
  constructor() {
    super(401, 'signature does not match');
    this.name = 'SignatureMismatchError';
  }
}

/** 401: a bearer token or JWT is not valid (expired, wrong issuer or audience, bad signature, unknown key). */
export class InvalidTokenError extends WebhookError {
  constructor(message = 'token is not valid', options?: ErrorCause) {
    super(401, message, options);
    this.name = 'InvalidTokenError';
  }
}

/** 403: the caller is authenticated but not allowed (an mTLS subject outside the allowlist). */
export class ForbiddenError extends messageError('ForbiddenError', 403) {}

/** 401: the signed timestamp is outside the allowed window. */
export class TimestampOutsideToleranceError extends WebhookError {
  constructor(toleranceSeconds: number) {
    super(401, `signed timestamp is more than ${toleranceSeconds} s away from the current time`);
    this.name = 'TimestampOutsideToleranceError';
  }
}

/** 405: the handlers answer only POST. The answer names the method allowed in `Allow`. */
export class MethodNotAllowedError extends WebhookError {
  constructor(method: unknown) {
    // The method is the sender's: quote it only when it looks like one.
    const shown = typeof method === 'string' && /^[A-Z]{1,16}$/.test(method) ? ` ${method}` : '';
    super(405, `this endpoint accepts only POST; the method${shown} is not allowed`, { headers: { Allow: 'POST' } });
    this.name = 'MethodNotAllowedError';
  }
}

/**
 * 431: a header value, or the headers together, are larger than any request API Gateway passes
 * on. Refused before anything else reads them, so no oversized value reaches a record, a run
 * input, a dedup key or a log line.
 */
export class RequestHeaderFieldsTooLargeError extends messageError('RequestHeaderFieldsTooLargeError', 431) {}

/** 413: the body, the batch or one record is larger than allowed. */
export class PayloadTooLargeError extends messageError('PayloadTooLargeError', 413) {}

/** 415: the content type is not one this source reads. */
export class UnsupportedMediaTypeError extends messageError('UnsupportedMediaTypeError', 415) {}

/** 429: the stream did not take every record within the retry budget. Nothing was acknowledged. */
export class StreamThrottledError extends WebhookError {
  readonly unwrittenRecords: number;

  constructor(retryAfterSeconds: number, unwrittenRecords: number, options?: ErrorCause) {
    super(429, 'the stream is busy; nothing was accepted, retry the whole request later', retryLater(retryAfterSeconds, options));
    this.name = 'StreamThrottledError';
    this.unwrittenRecords = unwrittenRecords;
  }
}

/** 429: another delivery of the same event id is being written right now. */
export class DeliveryInProgressError extends retryLaterError(
  'DeliveryInProgressError', 429, 'another delivery of this event is in progress; nothing was accepted, retry later',
) {}

/**
 * 503: a dependency failed or cannot be used: it is down or unreachable (a Kinesis outage,
 * Secrets Manager timing out), or only the operator can fix it (the stream's permissions, a
 * missing stream, a disabled key). Nothing was acknowledged; the sender's retry may succeed.
 */
export class DependencyUnavailableError extends WebhookError {
  readonly dependency: string;

  constructor(dependency: string, options?: ErrorCause & { retryAfterSeconds?: number }) {
    super(503, `${dependency} is unavailable; nothing was accepted, retry later`, {
      cause: options?.cause,
      headers: options?.retryAfterSeconds === undefined ? {} : retryLater(options.retryAfterSeconds).headers,
    });
    this.name = 'DependencyUnavailableError';
    this.dependency = dependency;
  }
}

/** An error code safe for a log line: letters, digits, `_`, `.` and `-`, as AWS and Node write them. */
const SAFE_CODE = /^[A-Za-z][A-Za-z0-9_.-]{0,79}$/;

/**
 * What went wrong, for a log line: the error's name, its Node error code and the HTTP status the
 * service answered with, such as `InternalFailure HTTP 500`, `ECONNREFUSED`,
 * `TimeoutError ETIMEDOUT` or `HTTP 503` (a 503 whose body was not the service's JSON). Never the
 * message, which may quote a request or a response body. `undefined` for no error.
 */
export function errorCodeOf(error: unknown): string | undefined {
  if (error === undefined || error === null) return undefined;
  if (typeof error !== 'object') return typeof error;
  const e = error as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const parts: string[] = [];
  // A plain Error, or a SyntaxError from reading a non-JSON answer, says nothing the status does not.
  if (typeof e.name === 'string' && SAFE_CODE.test(e.name) && e.name !== 'Error' && !(e.name === 'SyntaxError' && e.$metadata !== undefined)) parts.push(e.name);
  if (typeof e.code === 'string' && SAFE_CODE.test(e.code) && e.code !== e.name) parts.push(e.code);
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && Number.isInteger(status)) parts.push(`HTTP ${status}`);
  return parts.length > 0 ? parts.join(' ') : 'Error';
}
