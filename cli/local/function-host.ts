/**
 * One hosted function: a worker thread that loads a bundled handler with its own environment, as
 * a Lambda container would, and answers the invocations the runner posts to it.
 */
import { join } from 'node:path';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/** What the runner hands a host. */
export interface HostData {
  readonly role: 'cdk-webhook-ingress-function-host';
  readonly codeDirectory: string;
  /** `index.handler`: the file (without .js) and the export. */
  readonly handler: string;
}

type Invocation = { readonly id: number; readonly event: APIGatewayProxyEvent };
type Answer = { readonly id: number; readonly result?: APIGatewayProxyResult; readonly error?: string };

/** True when this thread is a function host started by {@link FunctionHost}. */
export function isFunctionHostThread(): boolean {
  return parentPort !== null && (workerData as HostData | undefined)?.role === 'cdk-webhook-ingress-function-host';
}

/** The worker's side: load the handler, then answer each invocation. */
export function runFunctionHost(): void {
  const data = workerData as HostData;
  const dot = data.handler.lastIndexOf('.');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = require(join(data.codeDirectory, `${data.handler.slice(0, dot)}.js`)) as Record<string, unknown>;
  const handler = module[data.handler.slice(dot + 1)] as (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
  const port = parentPort as NonNullable<typeof parentPort>;
  port.on('message', (invocation: Invocation) => {
    handler(invocation.event).then(
      (result) => port.postMessage({ id: invocation.id, result } satisfies Answer),
      // A handler that throws is what Lambda reports as a function error: API Gateway answers 502.
      (error: unknown) => port.postMessage({ id: invocation.id, error: error instanceof Error ? error.name : 'Error' } satisfies Answer),
    );
  });
  port.postMessage({ id: 0 } satisfies Answer); // loaded
}

/**
 * {@link runFunctionHost} as a standalone script, for a worker started with `eval`: it loads only
 * the handler's bundle, not the file that started it (the CLI's own bundle is over 1 MB).
 */
const HOST_SCRIPT = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { join } = require('node:path');
const dot = workerData.handler.lastIndexOf('.');
const handler = require(join(workerData.codeDirectory, workerData.handler.slice(0, dot) + '.js'))[workerData.handler.slice(dot + 1)];
parentPort.on('message', (invocation) => {
  Promise.resolve().then(() => handler(invocation.event)).then(
    (result) => parentPort.postMessage({ id: invocation.id, result }),
    (error) => parentPort.postMessage({ id: invocation.id, error: error instanceof Error ? error.name : 'Error' }),
  );
});
parentPort.postMessage({ id: 0 });
`;

/** The runner's side: a worker with the function's environment, invoked like Lambda. */
export class FunctionHost {
  /**
   * Starts the worker and waits until the handler has loaded (its configuration parsed).
   *
   * @param script a file that runs {@link runFunctionHost} in a worker; undefined runs the same code
   *   from a string, which loads nothing but the handler
   * @param output where the handler's logs go: this process's stdout and stderr, or nowhere
   */
  static async start(script: string | undefined, data: Omit<HostData, 'role'>, env: Record<string, string>, output: 'inherit' | 'discard' = 'inherit'): Promise<FunctionHost> {
    const discard = output === 'discard';
    const workerData = { role: 'cdk-webhook-ingress-function-host', ...data } satisfies HostData;
    const options = { workerData, env, stdout: discard, stderr: discard };
    const worker = script === undefined ? new Worker(HOST_SCRIPT, { ...options, eval: true }) : new Worker(script, options);
    if (discard) {
      worker.stdout.resume();
      worker.stderr.resume();
    }
    const host = new FunctionHost(worker);
    await new Promise<void>((resolve, reject) => {
      host.pending.set(0, { resolve: () => resolve(), reject });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the function host exited with code ${code} while loading`)));
    });
    worker.removeAllListeners('exit');
    worker.removeAllListeners('error');
    worker.on('error', (error) => host.failAll(error));
    return host;
  }

  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (result: APIGatewayProxyResult) => void; reject: (error: Error) => void }>();

  private constructor(private readonly worker: Worker) {
    worker.on('message', (answer: Answer) => {
      const waiting = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if (waiting === undefined) return;
      if (answer.error !== undefined) waiting.reject(new Error(`the handler threw ${answer.error}`));
      else waiting.resolve(answer.result as APIGatewayProxyResult);
    });
  }

  /** Invokes the handler; rejects when it throws or when `timeoutMs` passes first. */
  invoke(event: APIGatewayProxyEvent, timeoutMs: number): Promise<APIGatewayProxyResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the handler timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (result) => { clearTimeout(timer); resolve(result); },
        reject: (error) => { clearTimeout(timer); reject(error); },
      });
      this.worker.postMessage({ id, event } satisfies Invocation);
    });
  }

  async stop(): Promise<void> {
    this.failAll(new Error('the runner is stopping'));
    await this.worker.terminate();
  }

  private failAll(error: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
