/**
 * Typed errors of the trigger's request path, beside the shared ones in ./errors. Messages are
 * safe to show the sender: they name parameters, paths and headers from the configuration, never
 * a value from the body or a header.
 */
import { retryLaterError, WebhookError, type ErrorCause } from '../common/errors';

/** One mapped parameter that is missing or has the wrong type. */
export interface ParameterProblem {
  /** The parameter's name in the run input. */
  readonly parameter: string;
  /** A sentence naming the parameter, where it comes from and what is wrong. */
  readonly message: string;
}

/** 400 (strict validation): required parameters are missing or mistyped. No run was started. */
export class ParameterValidationError extends WebhookError {
  readonly problems: readonly ParameterProblem[];

  constructor(problems: readonly ParameterProblem[]) {
    super(400, problems.map((p) => p.message).join('; '));
    this.name = 'ParameterValidationError';
    this.problems = problems;
  }
}

/** 413: the run input is larger than Step Functions accepts. */
export class RunInputTooLargeError extends WebhookError {
  constructor(inputBytes: number, maxBytes: number, options?: ErrorCause) {
    super(413, `the run input is ${inputBytes} bytes; Step Functions accepts at most ${maxBytes} (${maxBytes / 1024} KiB), so send a smaller body`, options);
    this.name = 'RunInputTooLargeError';
  }
}

/** 429: Step Functions throttled StartExecution, or the account's open-execution limit is reached. */
export class RunThrottledError extends retryLaterError(
  'RunThrottledError', 429, 'Step Functions is busy; no run was started, retry later',
) {}

/**
 * 503: Step Functions failed or could not be reached (5xx, timeout, network). The sender's retry
 * may well succeed.
 */
export class StepFunctionsUnavailableError extends retryLaterError(
  'StepFunctionsUnavailableError', 503, 'Step Functions is unavailable; no run was started, retry later',
) {}

/**
 * 503: the target cannot be started, and only the operator can fix it: the state machine does
 * not exist or is being deleted, the function may not start it, its KMS key is unusable.
 */
export class RunTargetUnavailableError extends retryLaterError(
  'RunTargetUnavailableError', 503, 'the target state machine cannot be started; no run was started, retry later',
) {}

/**
 * 409: the idempotency key (or delivery id) already names a run that another body started. No
 * run was started for this body. The message names the header, never its value.
 */
export class IdempotencyKeyReusedError extends WebhookError {
  constructor(header: string) {
    super(409, `the ${header} header names a run that was started with a different body; `
      + 'no run was started. Send a new key for a new request, or the same body to retry the first one');
    this.name = 'IdempotencyKeyReusedError';
  }
}

/**
 * 503: a run with this name exists, but it could not be looked up (DescribeExecution failed or
 * gave no input) to tell a retry from a reused key. No run was started; a retry may succeed.
 */
export class RunLookupFailedError extends retryLaterError(
  'RunLookupFailedError', 503, 'a run with this correlation id exists and could not be compared with this request; no run was started, retry later',
) {}
