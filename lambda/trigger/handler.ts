/**
 * The trigger's request path: a signed POST starts one Step Functions run.
 *
 * size -> authenticate -> parse (one JSON object) -> execution name -> map and validate
 * parameters -> StartExecution -> answer. The execution name is the correlation id, and it is
 * deterministic, so a retried delivery names the same run instead of starting another.
 */
import { createHash } from 'node:crypto';
import { DescribeExecutionCommand, StartExecutionCommand, type DescribeExecutionCommandOutput, type SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { admit, type AdmissionMetrics, type AdmissionRules } from '../common/admit';
import type { JwtVerifier } from '../common/authenticate';
import { ConfigError } from '../common/config-document';
import type { WebhookError } from '../common/errors';
import { jsonResponse, singleHeader, type WebhookRequest } from '../common/http';
import { httpShell, type HttpHandler, type RefusalLogging, type RequestPath } from '../common/http-shell';
import type { HandlerLogger } from '../common/logger';
import { compileJsonPath, JsonPathSyntaxError, selectPath, type PathSegment } from './json-path';
import { parseJsonObject, type JsonObject } from '../common/parse';
import type { ParameterMapping, TriggerConfig } from './config';
import type { SecretSource, SecretStage } from '../common/secrets';
import { hasParameterType, parseStateMachineArn } from './config';
import {
  IdempotencyKeyReusedError,
  ParameterValidationError,
  RunInputTooLargeError,
  RunLookupFailedError,
  RunTargetUnavailableError,
  RunThrottledError,
  StepFunctionsUnavailableError,
  type ParameterProblem,
} from './errors';

/** The slice of Powertools' Logger the pipeline uses. Attributes never hold a body, a header value or a secret. */
export type TriggerLogger = HandlerLogger;

export interface TriggerDependencies {
  readonly config: TriggerConfig;
  readonly secrets: SecretSource;
  /** Counts requests verified with a pending or previous secret, and client certificates' days to expiry. */
  readonly metrics?: AdmissionMetrics;
  /** Required when the trigger's scheme is `jwt`. */
  readonly jwt?: JwtVerifier;
  readonly sfn: Pick<SFNClient, 'send'>;
  readonly logger: TriggerLogger;
  readonly now?: () => number;
}

export type TriggerHandler = HttpHandler;

/** The run input, exactly as StartExecution receives it (keys in this order). */
export interface RunInput {
  readonly parameters: Record<string, unknown>;
  /** The execution name. */
  readonly correlationId: string;
  /** When API Gateway received the request, ISO 8601. */
  readonly receivedAt: string;
  readonly source: string;
  /**
   * The SHA-256 (hex) of the request's raw body. It stays with the run, so that a later request
   * naming the same run (the same idempotency key or delivery id) can be told apart: the same
   * body is a retry (202, `duplicate`), another body a reused key (409).
   */
  readonly bodySha256: string;
  /** Lenient validation only, and only when a parameter is missing or mistyped. */
  readonly validationErrors?: readonly ParameterProblem[];
  /** Only with `includeBody`. */
  readonly body?: JsonObject;
}

/** The largest run input Step Functions accepts, in UTF-8 bytes (256 KiB). */
export const MAX_RUN_INPUT_BYTES = 256 * 1024;

/** Execution names this handler sends: 1 to 80 of A-Z, a-z, 0-9, `_` and `-` (safe for CloudWatch Logs too). */
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** Prefixes of derived names; a sent key that starts with one is hashed, so the three kinds never collide. */
const DERIVED_NAME = /^[hb]-/;

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The execution name of a request, which is also its correlation id:
 * - the value of the first `idempotencyHeaders` header present and not blank, as sent when it is
 *   already a valid name, else `h-` and the SHA-256 (hex) of the value;
 * - else `b-` and the SHA-256 (hex) of the raw body.
 *
 * The same delivery, retried, always gets the same name. A repeated idempotency header is a 400.
 */
export function executionNameOf(request: WebhookRequest, idempotencyHeaders: readonly string[]): string {
  return nameRequest(request, idempotencyHeaders).name;
}

/** The execution name, and the header it came from (none when it is the body's hash). */
function nameRequest(request: WebhookRequest, idempotencyHeaders: readonly string[]): { name: string; header?: string } {
  for (const header of idempotencyHeaders) {
    const value = singleHeader(request, header)?.trim();
    if (value === undefined || value === '') continue;
    return { name: EXECUTION_NAME.test(value) && !DERIVED_NAME.test(value) ? value : `h-${sha256Hex(value)}`, header };
  }
  return { name: `b-${sha256Hex(request.rawBody)}` };
}

/** The ARN of a state machine's execution: `arn:<partition>:states:<region>:<account>:execution:<stateMachineName>:<name>`. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  const arn = parseStateMachineArn(stateMachineArn);
  if (arn === undefined) throw new ConfigError('target.stateMachineArn must be a state machine ARN');
  return `arn:${arn.partition}:states:${arn.region}:${arn.account}:execution:${arn.name}:${executionName}`;
}


/** A mapping with its path compiled. */
interface CompiledMapping {
  readonly mapping: ParameterMapping;
  readonly path?: readonly PathSegment[];
  /** Where the value comes from, for messages: `$.export_id`, `header x-request-id`, `a static value`. */
  readonly origin: string;
}

/** Compiles every mapping once. Throws ConfigError for a path outside the accepted subset. */
export function compileMappings(mappings: readonly ParameterMapping[]): readonly CompiledMapping[] {
  return mappings.map((mapping, i) => {
    const from = mapping.from;
    if ('jsonPath' in from) {
      try {
        return { mapping, path: compileJsonPath(from.jsonPath), origin: from.jsonPath };
      } catch (error) {
        if (!(error instanceof JsonPathSyntaxError)) throw error;
        throw new ConfigError(`parameters[${i}].from.jsonPath '${from.jsonPath}' is not supported: ${error.message}`);
      }
    }
    if ('header' in from) return { mapping, origin: `header ${from.header}` };
    return { mapping, origin: 'a static value' };
  });
}

/** What a value is, for a message; never the value itself, which may be personal data. */
function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a whole number' : Number.isFinite(value) ? 'a fractional number' : 'a number out of range';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'boolean' ? 'a boolean' : `a ${typeof value}`;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string', number: 'a number', integer: 'an integer (a whole number)', boolean: 'a boolean', object: 'an object', array: 'an array',
};

/**
 * Resolves every parameter. A missing value becomes `null` in `parameters`, so the run input
 * always has every parameter; a missing required one, or one of the wrong type, is a problem.
 */
export function mapParameters(
  compiled: readonly CompiledMapping[],
  request: WebhookRequest,
  body: JsonObject,
): { parameters: Record<string, unknown>; problems: ParameterProblem[] } {
  const entries: [string, unknown][] = [];
  const problems: ParameterProblem[] = [];
  for (const { mapping, path, origin } of compiled) {
    const problem = (what: string) => problems.push({ parameter: mapping.name, message: `parameter ${mapping.name} (from ${origin}) ${what}` });
    const from = mapping.from;
    let value: unknown;
    if (path !== undefined) {
      const selected = selectPath(body, path);
      value = selected.found ? selected.value : undefined;
    } else if ('header' in from) {
      const values = request.headers.get(from.header);
      if (values !== undefined && values.length > 1) problem('is ambiguous: the header was sent more than once');
      else value = values?.[0];
    } else if ('value' in from) {
      value = from.value;
    }
    value = value === undefined ? null : value;
    if (value === null) {
      if (mapping.required) problem('is required');
    } else if (mapping.type !== undefined && !hasParameterType(value, mapping.type)) {
      problem(`must be ${TYPE_NAMES[mapping.type]}, got ${kindOf(value)}`);
    }
    entries.push([mapping.name, value]);
  }
  // fromEntries defines own properties: a parameter named __proto__ stays a parameter.
  return { parameters: Object.fromEntries(entries), problems };
}

const THROTTLING_ERRORS = new Set([
  'ThrottlingException', 'TooManyRequestsException', 'Throttling', 'ThrottledException', 'RequestThrottled',
  'RequestThrottledException', 'RequestLimitExceeded', 'KmsThrottlingException', 'ExecutionLimitExceeded',
]);

/** Errors only the operator can fix: the target, its permissions, its key, the function's credentials. */
const OPERATOR_ERRORS = new Set([
  'StateMachineDoesNotExist', 'StateMachineDeleting', 'AccessDeniedException', 'AccessDenied', 'InvalidArn',
  'KmsAccessDeniedException', 'KmsInvalidStateException', 'ValidationException', 'InvalidName',
  'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'MissingAuthenticationToken',
]);

interface SdkErrorShape {
  readonly name?: unknown;
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: { readonly throttling?: boolean };
}

/** The outcome of a failed StartExecution: a duplicate (the run exists), or the error to answer with. */
function classifyStartFailure(error: unknown, config: TriggerConfig, inputBytes: number): 'duplicate' | WebhookError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  const status = e.$metadata?.httpStatusCode;
  const retryAfter = config.retryAfterSeconds;
  if (name === 'ExecutionAlreadyExists') return 'duplicate';
  if (name === 'InvalidExecutionInput') return new RunInputTooLargeError(inputBytes, MAX_RUN_INPUT_BYTES, { cause: error });
  if (THROTTLING_ERRORS.has(name) || status === 429 || e.$retryable?.throttling === true) return new RunThrottledError(retryAfter, { cause: error });
  if (OPERATOR_ERRORS.has(name) || (e.$fault === 'client' && (status === undefined || status < 500))) {
    return new RunTargetUnavailableError(retryAfter, { cause: error });
  }
  // 5xx, timeouts, connection failures, and anything else the call threw: not the sender's fault.
  return new StepFunctionsUnavailableError(retryAfter, { cause: error });
}

/** What a run's stored input says about the request that started it. */
export type StoredRunMatch = 'same' | 'different';

/**
 * Whether a run was started by a request with this body. Its input carries `bodySha256`; a run
 * started before that field existed is compared by its parameters, the part of the input a body
 * decides. An input that is not a run input of this handler (started by hand under the same
 * name) is `different`.
 */
export function compareStoredRun(storedInput: string, bodySha256: string, parameters: Record<string, unknown>): StoredRunMatch {
  let stored: unknown;
  try {
    stored = JSON.parse(storedInput);
  } catch {
    return 'different';
  }
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return 'different';
  const { bodySha256: storedHash, parameters: storedParameters } = stored as Record<string, unknown>;
  if (typeof storedHash === 'string') return storedHash === bodySha256 ? 'same' : 'different';
  // Parameters were written by JSON.stringify in mapping order, so equal parameters write equal text.
  return storedParameters !== undefined && JSON.stringify(storedParameters) === JSON.stringify(parameters) ? 'same' : 'different';
}

/** A failed DescribeExecution: throttled, or anything else (not found yet, denied, down), retried later. */
function classifyLookupFailure(error: unknown, config: TriggerConfig): WebhookError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  if (THROTTLING_ERRORS.has(name) || e.$metadata?.httpStatusCode === 429 || e.$retryable?.throttling === true) {
    return new RunThrottledError(config.retryAfterSeconds, { cause: error });
  }
  return new RunLookupFailedError(config.retryAfterSeconds, { cause: error });
}

/** Per request: what the log lines say. */
interface Outcome {
  correlationId: string;
  secretStage?: SecretStage;
  executionName?: string;
  validationErrors?: number;
  duplicate?: boolean;
  inputBytes?: number;
}

/**
 * The trigger's request path. Authentication runs before parsing, so an unsigned sender learns
 * nothing about the body rules. A 202 is only sent once Step Functions has the run (or had it).
 */
class TriggerPath implements RequestPath<Outcome> {
  private readonly config: TriggerConfig;
  private readonly now: () => number;
  private readonly admission: AdmissionRules;
  private readonly compiled: readonly CompiledMapping[];

  constructor(private readonly deps: TriggerDependencies) {
    const { config } = deps;
    this.config = config;
    this.now = deps.now ?? Date.now;
    this.admission = { auth: config.auth, maxBodyBytes: config.maxBodyBytes, endpoint: 'trigger' };
    this.compiled = compileMappings(config.parameters);
    // Fail at cold start, not on the first duplicate.
    executionArnOf(config.target.stateMachineArn, 'x');
  }

  begin(_request: WebhookRequest, correlationId: string): Outcome {
    return { correlationId };
  }

  logAttributes(request: WebhookRequest, outcome: Outcome): Record<string, unknown> {
    return {
      source: this.config.source,
      correlationId: outcome.correlationId,
      executionName: outcome.executionName,
      ...(outcome.secretStage === undefined ? {} : { secretStage: outcome.secretStage }),
      bodyBytes: request.rawBody.length,
      // A serial number is no secret, and tells the operator which certificate was refused.
      ...(request.clientCertSerialNumber === undefined ? {} : { clientCertSerial: request.clientCertSerialNumber }),
      ...(outcome.inputBytes === undefined ? {} : { inputBytes: outcome.inputBytes }),
      ...(outcome.validationErrors === undefined ? {} : { validationErrors: outcome.validationErrors }),
    };
  }

  async serve(request: WebhookRequest, outcome: Outcome, logger: HandlerLogger): Promise<APIGatewayProxyResult> {
    const { config } = this;
    outcome.secretStage = await admit(this.admission, request, this.now, this.deps);
    const body = parseJsonObject(request);
    const { name, header: nameHeader } = nameRequest(request, config.idempotencyHeaders);
    outcome.executionName = name;
    outcome.correlationId = name;

    const { parameters, problems } = mapParameters(this.compiled, request, body);
    outcome.validationErrors = problems.length;
    if (problems.length > 0 && config.validation === 'strict') throw new ParameterValidationError(problems);

    const bodySha256 = sha256Hex(request.rawBody);
    const input: RunInput = {
      parameters,
      correlationId: name,
      receivedAt: new Date(request.receivedAtMs).toISOString(),
      source: config.source,
      bodySha256,
      ...(problems.length > 0 ? { validationErrors: problems } : {}),
      ...(config.includeBody ? { body } : {}),
    };
    const executionArn = await this.start(input, nameHeader, outcome);
    const response = jsonResponse(
      202,
      { correlationId: name, executionArn, ...(outcome.duplicate === true ? { duplicate: true } : {}) },
      { 'X-Correlation-Id': name },
    );
    const started = outcome.duplicate === true ? 'duplicate' : 'started';
    logger.info(outcome.duplicate === true ? 'run already started' : 'run started', { ...this.logAttributes(request, outcome), outcome: started, statusCode: response.statusCode });
    return response;
  }

  /**
   * Starts the run, and returns its ARN. A Standard workflow answers the same name and input of a
   * running execution with that execution, and ExecutionAlreadyExists for a closed one or another
   * input; a retry's input differs (receivedAt, at least), so a retry is normally
   * ExecutionAlreadyExists. Express workflows never refuse a name, and would start a second run:
   * WebhookTrigger refuses them.
   */
  private async start(input: RunInput, nameHeader: string | undefined, outcome: Outcome): Promise<string> {
    const { config, deps } = this;
    const name = input.correlationId;
    const text = JSON.stringify(input);
    const inputBytes = Buffer.byteLength(text, 'utf8');
    outcome.inputBytes = inputBytes;
    if (inputBytes > MAX_RUN_INPUT_BYTES) throw new RunInputTooLargeError(inputBytes, MAX_RUN_INPUT_BYTES);
    try {
      const started = await deps.sfn.send(new StartExecutionCommand({ stateMachineArn: config.target.arn, name, input: text }));
      if (started.executionArn === undefined) throw new Error('StartExecution returned no executionArn');
      return started.executionArn;
    } catch (error) {
      const verdict = classifyStartFailure(error, config, inputBytes);
      if (verdict !== 'duplicate') throw verdict;
    }
    const executionArn = executionArnOf(config.target.stateMachineArn, name);
    // A name that is the body's hash names only this body. Any other name (a key or a delivery
    // id) may have been reused with another body: the run's input says which.
    if (nameHeader !== undefined && await this.storedRunMatch(executionArn, input.bodySha256, input.parameters) === 'different') {
      throw new IdempotencyKeyReusedError(nameHeader);
    }
    outcome.duplicate = true;
    return executionArn;
  }

  /** Compares a run that exists under this name with this request (DescribeExecution). */
  private async storedRunMatch(executionArn: string, bodySha256: string, parameters: Record<string, unknown>): Promise<StoredRunMatch> {
    let described: DescribeExecutionCommandOutput | undefined;
    try {
      described = await this.deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      throw classifyLookupFailure(error, this.config);
    }
    if (typeof described?.input !== 'string') {
      // Without its input (not included, or not readable), the run cannot be compared: never guess.
      throw new RunLookupFailedError(this.config.retryAfterSeconds, { cause: new Error('DescribeExecution returned no input') });
    }
    return compareStoredRun(described.input, bodySha256, parameters);
  }
}

/** The SDK error's name (ThrottlingException, StateMachineDoesNotExist, ...) behind a refusal; never its message. */
function causeNameOf(error: unknown): string | undefined {
  return error instanceof Error && error.cause instanceof Error ? error.cause.name : undefined;
}

/** How the trigger's refusals are logged: an outcome, and the SDK error's name. */
const TRIGGER_REFUSALS: RefusalLogging = { outcome: true, causeAttribute: 'causeName', causeOf: causeNameOf };

/** The trigger's Lambda handler: the trigger path in the HTTP shell. */
export function createTriggerHandler(deps: TriggerDependencies): TriggerHandler {
  return httpShell(deps, TRIGGER_REFUSALS, new TriggerPath(deps));
}
