import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './read-body';

/** One StartExecution call as the fake received it. */
export interface StartExecutionCall {
  /** The X-Amz-Target header. */
  readonly target: string;
  readonly contentType: string;
  readonly stateMachineArn: string;
  readonly name?: string;
  readonly input?: string;
  /** The status the fake answered with. */
  readonly status: number;
}

/** An error the fake answers with instead of starting a run, for a test to inject. */
export interface InjectedFault {
  readonly status: number;
  /** The error code, such as `ThrottlingException`. */
  readonly type: string;
  readonly message?: string;
}

export interface LocalStepFunctionsOptions {
  /**
   * The state machines that exist, by their own ARN. A call for another one (or its version or
   * alias) is answered `StateMachineDoesNotExist`. Absent: every state machine exists.
   */
  readonly stateMachineArns?: readonly string[];
  /** Called once for each run started (not again when a retried delivery returns the same run). */
  readonly onExecutionStarted?: (execution: StartedExecution) => void;
}

/** The status of a recorded run. The stand-in never runs one: a test or the runner closes it. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** A run the stand-in started. */
export interface StartedExecution {
  readonly executionArn: string;
  /** The state machine, version or alias ARN the caller named. */
  readonly stateMachineArn: string;
  /** The execution name: the trigger's correlation id. */
  readonly name: string;
  readonly input: string;
  /** Seconds since the epoch. */
  readonly startDate: number;
}

const MAX_INPUT_BYTES = 256 * 1024;
const QUALIFIED_ARN = /^(arn:[^:]+:states:[^:]+:\d{12}):stateMachine:([^:]+)(?::[^:]+)?$/;
/** Step Functions refuses blanks, brackets, wildcards, some punctuation and control characters in names. */
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/;

/**
 * A stand-in Step Functions endpoint for the local runner, which records the runs a trigger
 * starts, and for handler tests (bundled handlers carry their own copy of the SDK and so cannot be
 * mocked in-process). It is no workflow engine: a run is recorded, never executed, and stays
 * RUNNING until `closeExecution` closes it. It speaks the real JSON 1.0 wire format
 * (`X-Amz-Target: AWSStepFunctions.<operation>`), as a Standard workflow does:
 * - StartExecution with a new name starts a run: 200 with `executionArn` and `startDate`;
 * - the same name with the same input, while that run is RUNNING, returns the same run;
 * - the same name with another input, or once the run is closed, is 400 `ExecutionAlreadyExists`;
 * - an input over 256 KiB is 400 `InvalidExecutionInput`; an invalid name is 400 `InvalidName`;
 * - DescribeExecution returns a run's name, status, start date and input, or 400
 *   `ExecutionDoesNotExist`.
 * Every StartExecution call is recorded in `calls` (DescribeExecution ones in `describeCalls`),
 * and `executions` maps execution ARNs to their input.
 */
export class LocalStepFunctions {
  static async start(options: LocalStepFunctionsOptions = {}): Promise<LocalStepFunctions> {
    const fake = new LocalStepFunctions(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  readonly calls: StartExecutionCall[] = [];
  /** The execution ARN of every DescribeExecution call, in order. */
  readonly describeCalls: string[] = [];
  readonly executions = new Map<string, { readonly input: string; readonly startDate: number; readonly stateMachineArn: string; readonly name: string; status: ExecutionStatus }>();
  private readonly faults: InjectedFault[] = [];
  private readonly describeFaults: InjectedFault[] = [];
  private readonly server: Server;

  private constructor(private readonly options: LocalStepFunctionsOptions) {
    this.server = createServer((req, res) => {
      void readBody(req).then((raw) => {
        const target = String(req.headers['x-amz-target']);
        const contentType = String(req.headers['content-type']);
        let body: { stateMachineArn?: string; name?: string; input?: string; executionArn?: string } = {};
        try {
          body = JSON.parse(raw.toString('utf8') || '{}') as typeof body;
        } catch {
          body = {};
        }
        if (target === 'AWSStepFunctions.DescribeExecution') {
          this.describeCalls.push(String(body.executionArn));
          const [status, answer] = this.describe(contentType, body.executionArn);
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() });
          res.end(JSON.stringify(answer));
          return;
        }
        const [status, answer] = this.answer(target, contentType, body);
        this.calls.push({ target, contentType, stateMachineArn: String(body.stateMachineArn), name: body.name, input: body.input, status });
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID() });
        res.end(JSON.stringify(answer));
      });
    });
  }

  /** The next StartExecution calls are answered with these faults, one each, in order. */
  failNext(...faults: InjectedFault[]): void {
    this.faults.push(...faults);
  }

  /** The next DescribeExecution calls are answered with these faults, one each, in order. */
  failNextDescribe(...faults: InjectedFault[]): void {
    this.describeFaults.push(...faults);
  }

  /**
   * Closes a recorded run, as its end would: StartExecution then refuses its name whatever the
   * input, as Step Functions does for a closed Standard execution.
   */
  closeExecution(executionArn: string, status: Exclude<ExecutionStatus, 'RUNNING'> = 'SUCCEEDED'): void {
    const execution = this.executions.get(executionArn);
    if (execution === undefined) throw new Error(`no execution ${executionArn}`);
    execution.status = status;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(target: string, contentType: string, body: { stateMachineArn?: string; name?: string; input?: string }): [number, unknown] {
    const error = (type: string, message: string): [number, unknown] => [400, { __type: `com.amazonaws.swf.service.v2.model#${type}`, message }];
    if (target !== 'AWSStepFunctions.StartExecution') return [400, { __type: 'UnknownOperationException', message: `unknown operation ${target}` }];
    if (contentType !== 'application/x-amz-json-1.0') return [400, { __type: 'SerializationException', message: `unexpected content type ${contentType}` }];
    const fault = this.faults.shift();
    if (fault !== undefined) return [fault.status, { __type: fault.type, message: fault.message ?? fault.type }];

    const arn = QUALIFIED_ARN.exec(body.stateMachineArn ?? '');
    if (arn === null) return error('InvalidArn', `Invalid Arn: '${body.stateMachineArn}'`);
    const stateMachineArn = `${arn[1]}:stateMachine:${arn[2]}`;
    if (this.options.stateMachineArns !== undefined && !this.options.stateMachineArns.includes(stateMachineArn)) {
      return error('StateMachineDoesNotExist', `State Machine Does Not Exist: '${body.stateMachineArn}'`);
    }
    const name = body.name ?? randomUUID();
    if (name.length === 0 || name.length > 80 || INVALID_NAME_CHARS.test(name)) return error('InvalidName', `Invalid Name: '${name}'`);
    const input = body.input ?? '{}';
    if (Buffer.byteLength(input, 'utf8') > MAX_INPUT_BYTES) {
      return error('InvalidExecutionInput', `Invalid execution input: the input is larger than ${MAX_INPUT_BYTES} bytes`);
    }
    try {
      JSON.parse(input);
    } catch {
      return error('InvalidExecutionInput', 'Invalid execution input: not JSON');
    }
    const executionArn = `${arn[1]}:execution:${arn[2]}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing !== undefined) {
      // Idempotent only while the run is running, and only for the very same input.
      if (existing.status !== 'RUNNING' || existing.input !== input) return error('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      return [200, { executionArn, startDate: existing.startDate }];
    }
    const startDate = Date.now() / 1000;
    this.executions.set(executionArn, { input, startDate, stateMachineArn, name, status: 'RUNNING' });
    this.options.onExecutionStarted?.({ executionArn, stateMachineArn: body.stateMachineArn as string, name, input, startDate });
    return [200, { executionArn, startDate }];
  }

  private describe(contentType: string, executionArn: string | undefined): [number, unknown] {
    const error = (type: string, message: string): [number, unknown] => [400, { __type: `com.amazonaws.swf.service.v2.model#${type}`, message }];
    if (contentType !== 'application/x-amz-json-1.0') return [400, { __type: 'SerializationException', message: `unexpected content type ${contentType}` }];
    const fault = this.describeFaults.shift();
    if (fault !== undefined) return [fault.status, { __type: fault.type, message: fault.message ?? fault.type }];
    if (typeof executionArn !== 'string' || !/^arn:[^:]+:states:[^:]+:\d{12}:execution:[^:]+:[^:]+$/.test(executionArn)) {
      return error('InvalidArn', `Invalid Arn: '${executionArn}'`);
    }
    const execution = this.executions.get(executionArn);
    if (execution === undefined) return error('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return [200, {
      executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate,
      input: execution.input,
      inputDetails: { included: true },
    }];
  }
}
