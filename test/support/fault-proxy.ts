import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from '../../cli/local/read-body';

/** What the proxy does with one PutRecords call. */
export type PutRecordsFault =
  /** Pass the call through untouched. */
  | { readonly kind: 'pass' }
  /** Answer ProvisionedThroughputExceededException for the records at these indexes; write the rest. */
  | { readonly kind: 'throttleRecords'; readonly indexes: (index: number) => boolean }
  /**
   * Answer this ErrorCode (InternalFailure, or another) for the records at these indexes; write the
   * rest. `errorCode` may depend on the index, to mix failures within one call.
   */
  | { readonly kind: 'failRecords'; readonly indexes: (index: number) => boolean; readonly errorCode: string | ((index: number) => string) }
  /** Drop the connection without an answer, as a load balancer or a crashed host does (ECONNRESET). */
  | { readonly kind: 'reset' }
  /** Reject the whole call, as Kinesis does when a request is throttled before it is read. */
  | { readonly kind: 'failCall'; readonly status: number; readonly type: string }
  /**
   * Hold the call for `ms` before passing it on: a client with a shorter timeout gives up, yet
   * the records may still be written, as with a real lost answer.
   */
  | { readonly kind: 'delay'; readonly ms: number };

export interface ProxyStats {
  putRecordsCalls: number;
  recordsSent: number;
  recordsForwarded: number;
  recordsThrottled: number;
}

interface PutRecordsBody {
  StreamName?: string;
  StreamARN?: string;
  Records: { Data: string; PartitionKey: string; ExplicitHashKey?: string }[];
}

/**
 * A fault-injecting HTTP proxy in front of kinesalite. It speaks the real Kinesis JSON wire
 * protocol on both sides: throttled records are never forwarded, so what the stream holds is
 * exactly what the proxy answered with a sequence number.
 */
export class FaultProxy {
  static async start(target: string, plan: (call: number, records: number) => PutRecordsFault): Promise<FaultProxy> {
    const proxy = new FaultProxy(new URL(target), plan);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  readonly stats: ProxyStats = { putRecordsCalls: 0, recordsSent: 0, recordsForwarded: 0, recordsThrottled: 0 };
  private readonly server: Server;

  private constructor(private readonly target: URL, public plan: (call: number, records: number) => PutRecordsFault) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        res.statusCode = 502;
        res.end(String(error));
      });
    });
  }

  get endpoint(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, 'content-length': String(body.length), host: this.target.host };
      const out = httpRequest({
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers,
      }, (res) => {
        readBody(res).then((b) => resolve({
          status: res.statusCode ?? 500,
          headers: { 'content-type': String(res.headers['content-type'] ?? 'application/x-amz-json-1.1') },
          body: b,
        }), reject);
      });
      out.on('error', reject);
      out.end(body);
    });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': text.length });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target !== 'Kinesis_20131202.PutRecords') {
      const answer = await this.forward(req, body);
      res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
      res.end(answer.body);
      return;
    }
    const input = JSON.parse(body.toString('utf8')) as PutRecordsBody;
    const call = this.stats.putRecordsCalls++;
    this.stats.recordsSent += input.Records.length;
    const fault = this.plan(call, input.Records.length);
    if (fault.kind === 'delay') {
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
      this.stats.recordsForwarded += input.Records.length;
      const answer = await this.forward(req, body);
      if (!res.destroyed && !res.writableEnded) {
        res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
        res.end(answer.body);
      }
      return;
    }
    if (fault.kind === 'reset') {
      this.stats.recordsThrottled += input.Records.length;
      req.socket.destroy();
      return;
    }
    if (fault.kind === 'failCall') {
      this.stats.recordsThrottled += input.Records.length;
      this.send(res, fault.status, { __type: fault.type, message: 'Rate exceeded for stream (injected)' });
      return;
    }
    const throttled = input.Records.map((_, i) => (fault.kind === 'throttleRecords' || fault.kind === 'failRecords') && fault.indexes(i));
    const errorCode = (i: number) => (fault.kind !== 'failRecords' ? 'ProvisionedThroughputExceededException'
      : typeof fault.errorCode === 'string' ? fault.errorCode : fault.errorCode(i));
    const passing = input.Records.filter((_, i) => !throttled[i]);
    let forwarded: { SequenceNumber?: string; ShardId?: string; ErrorCode?: string; ErrorMessage?: string }[] = [];
    if (passing.length > 0) {
      const answer = await this.forward(req, Buffer.from(JSON.stringify({ ...input, Records: passing })));
      if (answer.status !== 200) {
        res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.body.length });
        res.end(answer.body);
        return;
      }
      forwarded = (JSON.parse(answer.body.toString('utf8')) as { Records: typeof forwarded }).Records;
    }
    this.stats.recordsForwarded += passing.length;
    this.stats.recordsThrottled += input.Records.length - passing.length;
    let next = 0;
    const records = throttled.map((isThrottled, i) => (isThrottled
      ? { ErrorCode: errorCode(i), ErrorMessage: `${errorCode(i)} (injected)` }
      : forwarded[next++]));
    this.send(res, 200, { FailedRecordCount: records.filter((r) => r.ErrorCode !== undefined).length, Records: records });
  }
}
