/**
 * The HTTP shell both request paths (ingest, trigger) run in: it reads the API Gateway event,
 * fills in header aliases, names the request (its correlation id), scrubs configured values from
 * the request's log lines, and is the one place where a refusal is logged and answered.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { WebhookError } from './errors';
import { errorResponse, fromApiGatewayEvent, withHeaderAliases, type WebhookRequest } from './http';
import type { HandlerLogger } from './logger';
import { Redactor } from './redact';

export type HttpHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ALL_ZEROS = /^0+$/;

function oneValue(request: WebhookRequest, name: string): string | undefined {
  const values = request.headers.get(name);
  return values?.length === 1 ? values[0].trim() : undefined;
}

/**
 * The sender's `X-Correlation-Id` when it is well formed, else the trace id of a W3C
 * `traceparent`, else API Gateway's request id, else a new UUID.
 */
export function correlationIdOf(request: WebhookRequest): string {
  const sent = oneValue(request, 'x-correlation-id');
  if (sent !== undefined && CORRELATION_ID.test(sent)) return sent;
  const traceparent = oneValue(request, 'traceparent');
  const trace = traceparent === undefined ? undefined : TRACEPARENT.exec(traceparent)?.[1];
  // An all-zero trace id is invalid by the spec.
  if (trace !== undefined && !ALL_ZEROS.test(trace)) return trace;
  return request.requestId ?? randomUUID();
}

/** API Gateway's request id, when it is a well-formed one, else a new UUID. */
export function gatewayRequestIdOf(event: Pick<APIGatewayProxyEvent, 'requestContext'>): string {
  const id: unknown = event.requestContext?.requestId;
  return typeof id === 'string' && CORRELATION_ID.test(id) ? id : randomUUID();
}

/** What a request path keeps about one request while it runs: at least the id it answers with. */
export interface RequestState {
  /** The correlation id; a request path may rename the request (the trigger's execution name). */
  correlationId: string;
}

/** One request path, as the shell runs it. `S` is its per-request state. */
export interface RequestPath<S extends RequestState> {
  /** The request's state, once the request is read and named. */
  begin(request: WebhookRequest, correlationId: string): S;
  /** The attributes every log line of the request carries. */
  logAttributes(request: WebhookRequest, state: S): Record<string, unknown>;
  /** Answers the request, or throws to refuse it (a WebhookError says how). */
  serve(request: WebhookRequest, state: S, logger: HandlerLogger, redactor: Redactor | undefined): Promise<APIGatewayProxyResult>;
}

/** What the shell reads of a handler's dependencies. */
export interface ShellDependencies {
  readonly config: {
    /** The source or trigger name every log line carries. */
    readonly source: string;
    readonly headerAliases?: Readonly<Record<string, string>>;
    /** JSON pointers of event values scrubbed from every log line of the request (see Redactor). */
    readonly redactPaths?: readonly string[];
  };
  readonly logger: HandlerLogger;
  readonly now?: () => number;
}

/** How a request path's refusals are logged. */
export interface RefusalLogging {
  /** Whether the line carries an `outcome` (`rejected`, or `failed` for our bug). */
  readonly outcome: boolean;
  /** The attribute that names the refusal's cause (never its message). */
  readonly causeAttribute: string;
  causeOf(error: unknown): string | undefined;
}

/** Logs a refusal, naming its cause (an error name or code, never a message), and answers it. */
function refuse(style: RefusalLogging, error: unknown, correlationId: string, base: Record<string, unknown>, logger: HandlerLogger): APIGatewayProxyResult {
  const response = errorResponse(error, correlationId);
  const attributes: Record<string, unknown> = { ...base };
  if (style.outcome) attributes.outcome = 'rejected';
  attributes.statusCode = response.statusCode;
  attributes.errorName = error instanceof Error ? error.name : typeof error;
  const cause = style.causeOf(error);
  if (cause !== undefined) attributes[style.causeAttribute] = cause;
  if (error instanceof WebhookError) {
    (response.statusCode >= 500 ? logger.error : logger.warn).call(logger, 'rejected', attributes);
    return response;
  }
  // An unexpected failure: our bug. The stack goes to the log to locate it; the response says nothing.
  if (style.outcome) attributes.outcome = 'failed';
  attributes.stack = error instanceof Error ? error.stack : undefined;
  logger.error('unexpected error', attributes);
  return response;
}

/** The Lambda handler that runs `path` in the shell. */
export function httpShell<S extends RequestState>(deps: ShellDependencies, style: RefusalLogging, path: RequestPath<S>): HttpHandler {
  const { source, headerAliases } = deps.config;
  const redactPaths = deps.config.redactPaths ?? [];
  const now = deps.now ?? Date.now;
  return async (event) => {
    // Without redact paths there is nothing to scrub: the logger is used as it is.
    const redactor = redactPaths.length === 0 ? undefined : new Redactor(redactPaths);
    const logger = redactor === undefined ? deps.logger : redactor.wrap(deps.logger);
    let request: WebhookRequest;
    try {
      request = withHeaderAliases(fromApiGatewayEvent(event, now()), headerAliases);
    } catch (error) {
      // Not a request the handler reads (another method, oversized headers): nothing the sender
      // sent is used, not even its correlation id.
      const correlationId = gatewayRequestIdOf(event);
      return refuse(style, error, correlationId, { source, correlationId }, logger);
    }
    const state = path.begin(request, correlationIdOf(request));
    try {
      return await path.serve(request, state, logger, redactor);
    } catch (error) {
      return refuse(style, error, state.correlationId, path.logAttributes(request, state), logger);
    }
  };
}
