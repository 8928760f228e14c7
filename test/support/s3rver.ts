import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { TEST_REGION } from './kinesalite';
import { readBody } from '../../cli/local/read-body';

// s3rver has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => { run(): Promise<AddressInfo>; close(): Promise<void> };

/**
 * s3rver accepts any SigV4 signature but only its own access key id, so these are the
 * credentials every client of it uses.
 */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** One request as the checking front received it. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface LocalS3Options {
  /** @default 'payloads' */
  readonly bucket?: string;
}

function xmlError(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>local</RequestId></Error>`;
}

/** The request's headers, less hop-by-hop ones, with the length of the body as forwarded. */
function forwardHeaders(headers: IncomingHttpHeaders, body: Buffer): IncomingHttpHeaders {
  const { connection: _connection, 'transfer-encoding': _te, 'keep-alive': _ka, ...rest } = headers;
  return { ...rest, 'content-length': String(body.length) };
}

const SSE_VALUES = new Set(['AES256', 'aws:kms', 'aws:kms:dsse']);

/**
 * The S3 REST API (s3rver) on a free 127.0.0.1 port, storing objects in a temporary directory
 * that `stop()` removes, with one bucket created.
 *
 * s3rver stores bytes, the Content-Type and user metadata, and computes the MD5 ETag. It does
 * not verify SigV4 signatures or `x-amz-content-sha256`, ignores `x-amz-checksum-*` (it neither
 * verifies nor stores nor returns them) and ignores the server-side encryption headers. So the
 * client talks to a small front on its own port that does what S3 does with those headers before
 * passing the request on unchanged:
 * - `x-amz-checksum-sha256` that is not the SHA-256 of the body: 400 BadDigest;
 * - a hex `x-amz-content-sha256` that is not the SHA-256 of the body: 400 XAmzContentSHA256Mismatch;
 * - `x-amz-server-side-encryption` that is not a value S3 knows: 400 InvalidArgument.
 * It records every request (`requests`), and `tamper` can change a body in flight.
 */
export class LocalS3 {
  static async start(options: LocalS3Options = {}): Promise<LocalS3> {
    const bucket = options.bucket ?? 'payloads';
    const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
    const s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
    const { port: s3rverPort } = await s3rver.run();
    const local = new LocalS3(s3rver, directory, bucket, s3rverPort);
    await new Promise<void>((resolve) => local.front.listen(0, '127.0.0.1', resolve));
    local.endpoint = `http://127.0.0.1:${(local.front.address() as AddressInfo).port}`;
    local.client = s3ClientFor(local.endpoint);
    return local;
  }

  /** The checking front; point clients here. */
  endpoint = '';
  client!: S3Client;
  /** Every request the front received, in order. */
  readonly requests: SeenRequest[] = [];
  /** Changes a request body after the client sent it and before any check, as a faulty network would. */
  tamper: ((body: Buffer) => Buffer) | undefined;
  private readonly front: Server;

  private constructor(
    private readonly s3rver: { close(): Promise<void> },
    private readonly directory: string,
    readonly bucket: string,
    s3rverPort: number,
  ) {
    this.front = createServer((req, res) => {
      void readBody(req).then((received) => {
        let body: Buffer = received;
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        if (this.tamper !== undefined && body.length > 0) body = this.tamper(body);
        const refuse = this.check(req.headers, body);
        if (refuse !== undefined) {
          res.writeHead(400, { 'Content-Type': 'application/xml' });
          res.end(xmlError(refuse.code, refuse.message));
          return;
        }
        const upstream = request(
          { host: '127.0.0.1', port: s3rverPort, method: req.method, path: req.url, headers: forwardHeaders(req.headers, body), agent: false },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => {
          res.writeHead(502);
          res.end();
        });
        upstream.end(body);
      });
    });
  }

  private check(headers: IncomingHttpHeaders, body: Buffer): { code: string; message: string } | undefined {
    const sha256 = createHash('sha256').update(body).digest();
    const checksum = headers['x-amz-checksum-sha256'];
    if (typeof checksum === 'string' && checksum !== sha256.toString('base64')) {
      return { code: 'BadDigest', message: 'The SHA256 you specified did not match the calculated checksum.' };
    }
    const contentSha256 = headers['x-amz-content-sha256'];
    if (typeof contentSha256 === 'string' && /^[0-9a-f]{64}$/.test(contentSha256) && contentSha256 !== sha256.toString('hex')) {
      return { code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." };
    }
    const sse = headers['x-amz-server-side-encryption'];
    if (typeof sse === 'string' && !SSE_VALUES.has(sse)) {
      return { code: 'InvalidArgument', message: 'The encryption method specified is not supported' };
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.client.destroy();
    this.front.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.front.close((err) => (err ? reject(err) : resolve())));
    await this.s3rver.close();
    await rm(this.directory, { recursive: true, force: true });
  }
}

/** An S3 client for a local endpoint: path-style addressing, HTTP/1.1, s3rver's credentials, no retries. */
export function s3ClientFor(endpoint: string, options: { maxAttempts?: number } = {}): S3Client {
  return new S3Client({
    endpoint,
    region: TEST_REGION,
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    maxAttempts: options.maxAttempts ?? 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 10_000 }),
  });
}

/** An http://127.0.0.1 endpoint on which nothing listens. */
export async function unusedEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
