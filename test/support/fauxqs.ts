import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { TEST_CREDENTIALS, TEST_REGION } from './kinesalite';
import { readBody } from '../../cli/local/read-body';

/**
 * fauxqs, an SQS emulator with FIFO queues, in this process on a free 127.0.0.1 port.
 *
 * fauxqs is an ES module and jest runs tests as CommonJS, so it runs in a worker thread of this
 * process. fauxqs 2.x imports `node:sqlite` for its optional persistence, which these tests never
 * use; a module hook in the worker answers that import with a stub, so that Node's experimental
 * SQLite module (and its ExperimentalWarning) is never loaded.
 * `startFauxqs()` listens on 0.0.0.0, so the worker builds the app itself and listens on
 * 127.0.0.1 only.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const STUB = 'export class DatabaseSync { constructor() { throw new Error("fauxqs persistence is not used in these tests"); } }';
const HOOK = 'export async function resolve(specifier, context, next) {'
  + ' if (specifier === "node:sqlite") return { url: "data:text/javascript," + encodeURIComponent(' + JSON.stringify(STUB) + '), shortCircuit: true };'
  + ' return next(specifier, context); }';
(async () => {
  require('node:module').register('data:text/javascript,' + encodeURIComponent(HOOK));
  const { buildApp } = await import(workerData.app);
  const { SqsStore } = await import(workerData.store);
  const sqsStore = new SqsStore();
  const app = buildApp({ logger: false, stores: { sqsStore } });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  parentPort.on('message', (msg) => {
    if (msg.type === 'stop') {
      sqsStore.shutdown();
      app.close().then(() => parentPort.postMessage({ type: 'stopped' }));
    } else if (msg.type === 'inspect') {
      parentPort.postMessage({ type: 'inspected', id: msg.id, queue: JSON.parse(JSON.stringify(sqsStore.inspectQueue(msg.name) ?? null)) });
    }
  });
  parentPort.postMessage({ type: 'ready', address });
})().catch((error) => parentPort.postMessage({ type: 'failed', error: String((error && error.stack) || error) }));
`;

function fauxqsDir(): string {
  // The package exports only an ES module entry, so require.resolve cannot find it.
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', 'fauxqs');
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error('fauxqs is not installed');
  }
}

/** A message as fauxqs holds it, for assertions that must not change the queue. */
export interface InspectedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly messageGroupId?: string;
  readonly messageDeduplicationId?: string;
  readonly sequenceNumber?: string;
  readonly approximateReceiveCount: number;
}

export interface InspectedQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly attributes: Record<string, string>;
  readonly messages: {
    readonly ready: InspectedMessage[];
    readonly delayed: InspectedMessage[];
    readonly inflight: { readonly message: InspectedMessage }[];
  };
}

/** An SQS client for a local endpoint. */
export function sqsClientFor(endpoint: string, options: { maxAttempts?: number } = {}): SQSClient {
  return new SQSClient({
    endpoint,
    region: TEST_REGION,
    credentials: TEST_CREDENTIALS,
    maxAttempts: options.maxAttempts ?? 1,
  });
}

export class LocalSqs {
  static async start(): Promise<LocalSqs> {
    const dir = fauxqsDir();
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        app: pathToFileURL(join(dir, 'dist', 'app.js')).href,
        store: pathToFileURL(join(dir, 'dist', 'sqs', 'sqsStore.js')).href,
      },
    });
    const address = await new Promise<string>((resolve, reject) => {
      worker.once('message', (msg: { type: string; address?: string; error?: string }) => {
        if (msg.type === 'ready') resolve(msg.address as string);
        else reject(new Error(`fauxqs did not start: ${msg.error}`));
      });
      worker.once('error', reject);
    });
    return new LocalSqs(worker, address);
  }

  readonly client: SQSClient;
  private nextId = 0;

  private constructor(private readonly worker: Worker, readonly endpoint: string) {
    this.client = sqsClientFor(endpoint);
  }

  /** Creates a FIFO queue (the name gets `.fifo` if it lacks it), with a FIFO dead-letter queue when asked. */
  async createFifoQueue(name: string, options: { attributes?: Record<string, string>; deadLetter?: { maxReceiveCount: number } } = {}): Promise<{ queueUrl: string; queueArn: string; deadLetterQueueUrl?: string }> {
    const fifoName = name.endsWith('.fifo') ? name : `${name}.fifo`;
    let deadLetterQueueUrl: string | undefined;
    const attributes: Record<string, string> = { FifoQueue: 'true', ...options.attributes };
    if (options.deadLetter !== undefined) {
      const dlq = await this.createFifoQueue(fifoName.replace(/\.fifo$/, '-dlq.fifo'));
      deadLetterQueueUrl = dlq.queueUrl;
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: options.deadLetter.maxReceiveCount });
    }
    const { QueueUrl } = await this.client.send(new CreateQueueCommand({ QueueName: fifoName, Attributes: attributes }));
    const { Attributes } = await this.client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { queueUrl: QueueUrl as string, queueArn: Attributes?.QueueArn as string, deadLetterQueueUrl };
  }

  /** What the queue holds, without receiving anything. */
  inspect(queueName: string): Promise<InspectedQueue> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (msg: { type: string; id?: number; queue?: InspectedQueue | null }) => {
        if (msg.type !== 'inspected' || msg.id !== id) return;
        this.worker.off('message', onMessage);
        if (msg.queue) resolve(msg.queue);
        else reject(new Error(`no queue named ${queueName}`));
      };
      this.worker.on('message', onMessage);
      this.worker.postMessage({ type: 'inspect', id, name: queueName });
    });
  }

  /**
   * Receives and deletes every message, the way a consumer would, until the queue is empty.
   * A FIFO queue hands out a group's next message only once the one before it is deleted, so the
   * result holds each group's messages in the order the queue keeps them.
   */
  async receiveAll(queueUrl: string): Promise<Message[]> {
    const all: Message[] = [];
    for (;;) {
      const { Messages = [] } = await this.client.send(new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageSystemAttributeNames: ['All'],
      }));
      if (Messages.length === 0) return all;
      all.push(...Messages);
      await this.client.send(new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
      }));
    }
  }

  async stop(): Promise<void> {
    this.client.destroy();
    await new Promise<void>((resolve) => {
      this.worker.once('message', () => resolve());
      this.worker.postMessage({ type: 'stop' });
    });
    await this.worker.terminate();
  }
}

/** What the proxy does with one SendMessageBatch call. */
export type SendMessageBatchFault =
  /** Pass the call through untouched. */
  | { readonly kind: 'pass' }
  /**
   * Answer the entries at these positions as Failed (a server-side fault unless senderFault);
   * forward the others.
   */
  | { readonly kind: 'failEntries'; readonly indexes: (index: number) => boolean; readonly code?: string; readonly senderFault?: boolean }
  /** Reject the whole call; nothing is queued. */
  | { readonly kind: 'failCall'; readonly status: number; readonly type: string }
  /** Queue the whole call, then answer with an error, as when the answer is lost on the way back. */
  | { readonly kind: 'loseAnswer'; readonly status: number; readonly type: string };

/** What the plan is told about each entry of a call. */
export interface PlannedEntry {
  readonly groupId?: string;
  readonly deduplicationId?: string;
}

interface BatchEntry {
  Id: string;
  MessageBody: string;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

/** One entry the proxy saw, and what became of it. */
export interface SeenEntry {
  readonly call: number;
  readonly groupId?: string;
  readonly deduplicationId?: string;
  readonly bodyBytes: number;
  readonly accepted: boolean;
}

/**
 * A fault-injecting HTTP proxy in front of fauxqs, speaking SQS's JSON wire protocol on both
 * sides. Entries it fails are never forwarded, so what the queue holds is exactly what the proxy
 * answered as Successful.
 */
export class SqsFaultProxy {
  static async start(target: string, plan: (call: number, entries: readonly PlannedEntry[]) => SendMessageBatchFault): Promise<SqsFaultProxy> {
    const proxy = new SqsFaultProxy(new URL(target), plan);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** Every SendMessageBatch entry, in the order the calls reached the proxy. */
  readonly seen: SeenEntry[] = [];
  calls = 0;
  private readonly server: Server;

  private constructor(private readonly target: URL, public plan: (call: number, entries: readonly PlannedEntry[]) => SendMessageBatchFault) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        res.statusCode = 502;
        res.end(String(error));
      });
    });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; contentType: string; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = httpRequest({
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': String(body.length), host: this.target.host },
      }, (res) => {
        readBody(res).then((b) => resolve({
          status: res.statusCode ?? 500,
          contentType: String(res.headers['content-type'] ?? 'application/x-amz-json-1.0'),
          body: b,
        }), reject);
      });
      out.on('error', reject);
      out.end(body);
    });
  }

  private reply(res: ServerResponse, status: number, contentType: string, body: Buffer): void {
    res.writeHead(status, { 'content-type': contentType, 'content-length': body.length });
    res.end(body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (String(req.headers['x-amz-target'] ?? '') !== 'AmazonSQS.SendMessageBatch') {
      const answer = await this.forward(req, body);
      this.reply(res, answer.status, answer.contentType, answer.body);
      return;
    }
    const input = JSON.parse(body.toString('utf8')) as { QueueUrl: string; Entries: BatchEntry[] };
    const call = this.calls++;
    const fault = this.plan(call, input.Entries.map((e) => ({ groupId: e.MessageGroupId, deduplicationId: e.MessageDeduplicationId })));
    const see = (entry: BatchEntry, accepted: boolean) => this.seen.push({
      call,
      groupId: entry.MessageGroupId,
      deduplicationId: entry.MessageDeduplicationId,
      bodyBytes: Buffer.byteLength(entry.MessageBody, 'utf8'),
      accepted,
    });
    if (fault.kind === 'failCall') {
      input.Entries.forEach((e) => see(e, false));
      this.reply(res, fault.status, 'application/x-amz-json-1.0', Buffer.from(JSON.stringify({ __type: `com.amazonaws.sqs#${fault.type}`, message: 'injected fault' })));
      return;
    }
    if (fault.kind === 'loseAnswer') {
      const answer = await this.forward(req, body);
      const accepted = answer.status === 200
        ? new Set(((JSON.parse(answer.body.toString('utf8')) as { Successful?: { Id: string }[] }).Successful ?? []).map((s) => s.Id))
        : new Set<string>();
      input.Entries.forEach((e) => see(e, accepted.has(e.Id)));
      this.reply(res, fault.status, 'application/x-amz-json-1.0', Buffer.from(JSON.stringify({ __type: `com.amazonaws.sqs#${fault.type}`, message: 'injected fault' })));
      return;
    }
    const failing = input.Entries.map((_, i) => fault.kind === 'failEntries' && fault.indexes(i));
    const passing = input.Entries.filter((_, i) => !failing[i]);
    let successful: { Id: string }[] = [];
    let failed: { Id: string; SenderFault: boolean; Code: string; Message?: string }[] = [];
    if (passing.length > 0) {
      const answer = await this.forward(req, Buffer.from(JSON.stringify({ ...input, Entries: passing })));
      if (answer.status !== 200) {
        passing.forEach((e) => see(e, false));
        this.reply(res, answer.status, answer.contentType, answer.body);
        return;
      }
      ({ Successful: successful = [], Failed: failed = [] } = JSON.parse(answer.body.toString('utf8')) as { Successful?: typeof successful; Failed?: typeof failed });
    }
    const accepted = new Set(successful.map((s) => s.Id));
    input.Entries.forEach((e) => see(e, accepted.has(e.Id)));
    if (fault.kind === 'failEntries') {
      failed = [
        ...failed,
        ...input.Entries.filter((_, i) => failing[i]).map((e) => ({
          Id: e.Id,
          SenderFault: fault.senderFault ?? false,
          Code: fault.code ?? 'InternalError',
          Message: 'injected fault',
        })),
      ];
    }
    this.reply(res, 200, 'application/x-amz-json-1.0', Buffer.from(JSON.stringify({ Successful: successful, Failed: failed })));
  }
}
