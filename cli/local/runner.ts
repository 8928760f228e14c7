/**
 * The local runner: serves a synthesized app's webhook paths on localhost with the same bundled
 * handlers and the same configuration documents, against an embedded Kinesis, a Secrets Manager
 * stand-in fed from local values, and a Step Functions stand-in that records the runs.
 *
 * It is a local emulator: it answers as the handlers answer, behind an HTTP server that does what
 * API Gateway's proxy integration does with the request (the raw body, base64, as `*\/*` binary).
 * Gateway features (usage plans, mTLS at the domain, resource policies, throttling) are not
 * emulated.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { CLIENT_CERT_HEADER, gatewayClientCert, type GatewayClientCert } from '../client-cert';
import type { LocalApp, LocalRoute, LocalSecret } from './assembly';
import { FunctionHost } from './function-host';
import { LocalKinesis, LOCAL_CREDENTIALS, LOCAL_REGION } from './kinesis';
import { LocalSecretsManager } from './secrets-manager';
import { LocalStepFunctions, type StartedExecution } from './step-functions';

/** API Gateway's own limit on a request body. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** API Gateway's integration timeout. */
const INTEGRATION_TIMEOUT_MS = 29_000;
/** An address that refuses connections at once: where calls to services with no stand-in go. */
const NOWHERE = 'http://127.0.0.1:9';
/** How long `stop` lets requests in flight finish before it closes their connections. */
const STOP_GRACE_MS = 3_000;

/** Local secret values can also come from the environment: this prefix plus the secret's logical id. */
export const SECRET_ENV_PREFIX = 'CDK_WEBHOOK_INGRESS_SECRET_';

/** What to do about a secret with no local value: the key to set, in the file or the environment. Never a value. */
export function missingSecretHint(secret: LocalSecret): string {
  const name = secret.keys[1] ?? secret.keys[0];
  return `secret ${name} has no local value: set "${name}" in --secrets-file, or the environment variable ${SECRET_ENV_PREFIX}${secret.keys[0]}, and restart local`;
}

export interface LocalRunnerOptions {
  readonly app: LocalApp;
  /**
   * A file a worker thread runs to host a function (one that calls `runFunctionHost`).
   * @default - the host's code from a string, which loads nothing but the handler
   */
  readonly hostScript?: string;
  /** Secret values by secret logical id or construct path. */
  readonly secretValues: Readonly<Record<string, string>>;
  /** @default 0, a free port */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** The embedded Kinesis's port. @default 0, a free port */
  readonly kinesisPort?: number;
  /** A Kinesis endpoint to use instead of the embedded one. Its streams must exist. */
  readonly kinesisEndpoint?: string;
  /** Endpoints of other services by the SDK's service id, such as `dynamodb`, for resources with no stand-in. */
  readonly endpoints?: Readonly<Record<string, string>>;
  /** Where the handlers' own log lines go. @default 'inherit', this process's stdout and stderr */
  readonly handlerOutput?: 'inherit' | 'discard';
  /** Told about each request and each run. */
  readonly log?: (line: string) => void;
}

/** A started run, as the runner lists it. */
export interface LocalRun extends StartedExecution {
  /** The trigger's path. */
  readonly path: string;
}

export class LocalRunner {
  static async start(options: LocalRunnerOptions): Promise<LocalRunner> {
    const log = options.log ?? (() => undefined);
    const kinesis = options.kinesisEndpoint === undefined ? await LocalKinesis.start(options.kinesisPort ?? 0) : undefined;
    const runs: LocalRun[] = [];
    let stepFunctions: LocalStepFunctions | undefined;
    let secrets: LocalSecretsManager | undefined;
    const hosts = new Map<string, { route: LocalRoute; host: FunctionHost }>();
    const missingSecrets = new Map<string, LocalSecret>();
    try {
      if (kinesis !== undefined) {
        for (const stream of options.app.streams) await kinesis.createStream(stream.name, stream.shardCount);
      }
      const values: Record<string, string> = {};
      for (const secret of options.app.secrets) {
        const key = secret.keys.find((k) => options.secretValues[k] !== undefined);
        if (key !== undefined) values[secret.arn] = options.secretValues[key];
        else missingSecrets.set(secret.arn, secret);
      }
      secrets = await LocalSecretsManager.start(values);
      stepFunctions = await LocalStepFunctions.start({
        onExecutionStarted: (execution) => {
          // A run belongs to the trigger whose configuration names its state machine.
          const route = options.app.routes.find((r) => r.kind === 'trigger' && Object.values(r.environment).some((v) => v.includes(execution.stateMachineArn)));
          const run = { ...execution, path: route?.path ?? '?' };
          runs.push(run);
          log(`run started  ${run.path}  ${run.name}  input=${run.input}`);
        },
      });
      const env: Record<string, string> = {
        AWS_REGION: LOCAL_REGION,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL: NOWHERE,
        ...Object.fromEntries(Object.entries(options.endpoints ?? {}).map(([service, url]) => [`AWS_ENDPOINT_URL_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`, url])),
        AWS_ENDPOINT_URL_KINESIS: options.kinesisEndpoint ?? (kinesis as LocalKinesis).endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        AWS_ENDPOINT_URL_SFN: stepFunctions.endpoint,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
        // Lambda runs the handlers on Node 22; the SDK's warning about the local Node is not theirs.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        PATH: process.env.PATH ?? '',
      };
      for (const route of options.app.routes) {
        const key = route.path;
        if (hosts.has(key)) {
          throw new Error(`two functions serve POST ${key} (${hosts.get(key)?.route.functionId} and ${route.functionId}); the local runner serves one app path once`);
        }
        const host = await FunctionHost.start(options.hostScript, { codeDirectory: route.codeDirectory, handler: route.handler }, {
          ...env,
          ...route.environment,
          AWS_LAMBDA_FUNCTION_NAME: route.functionId.replace(/[^A-Za-z0-9-_]/g, '-'),
        }, options.handlerOutput);
        hosts.set(key, { route, host });
      }
    } catch (error) {
      await Promise.all([...hosts.values()].map(({ host }) => host.stop()));
      await Promise.all([kinesis?.stop(), stepFunctions?.stop(), secrets?.stop()]);
      throw error;
    }
    const runner = new LocalRunner(hosts, runs, kinesis, stepFunctions, secrets, options.kinesisEndpoint, missingSecrets, log);
    await runner.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    return runner;
  }

  private readonly server: Server;

  private constructor(
    private readonly hosts: Map<string, { route: LocalRoute; host: FunctionHost }>,
    /** The runs the triggers started, in order. */
    readonly runs: readonly LocalRun[],
    private readonly kinesis: LocalKinesis | undefined,
    private readonly stepFunctions: LocalStepFunctions,
    private readonly secrets: LocalSecretsManager,
    private readonly externalKinesis: string | undefined,
    /** The secrets with no local value, by ARN. */
    private readonly missingSecrets: ReadonlyMap<string, LocalSecret>,
    private readonly log: (line: string) => void,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => reply(res, 502, { message: 'Internal server error' }));
    });
  }

  /** Where the runner serves, such as `http://127.0.0.1:3000`. */
  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The Kinesis endpoint the handlers write to. */
  get kinesisEndpoint(): string {
    return this.externalKinesis ?? (this.kinesis as LocalKinesis).endpoint;
  }

  get routes(): readonly LocalRoute[] {
    return [...this.hosts.values()].map(({ route }) => route);
  }

  /**
   * Stops serving, lets requests in flight finish (for up to 3 s, then closes their connections),
   * then stops the hosts and the stand-ins: every port is free once it resolves.
   */
  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => this.server.closeAllConnections(), STOP_GRACE_MS);
      this.server.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.server.closeIdleConnections();
    });
    await Promise.all([...this.hosts.values()].map(({ host }) => host.stop()));
    await Promise.all([this.kinesis?.stop(), this.stepFunctions.stop(), this.secrets.stop()]);
  }

  private async listen(port: number, host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/_local/runs') {
      reply(res, 200, this.runs);
      return;
    }
    const target = this.hosts.get(url.pathname.replace(/\/+$/, '') || '/');
    if (target === undefined) {
      reply(res, 404, { message: `no webhook path ${url.pathname}; serving ${[...this.hosts.keys()].join(', ')}` });
      return;
    }
    if (req.method !== 'POST') {
      reply(res, 405, { message: 'Missing Authentication Token' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        reply(res, 413, { message: 'Request Too Long' });
        return;
      }
      chunks.push(chunk);
    }
    const missing = target.route.secretArns.map((arn) => this.missingSecrets.get(arn)).filter((secret) => secret !== undefined);
    if (missing.length > 0) {
      // The handler would fail closed (503) on a secret it cannot read; say which key to set instead.
      const hint = missing.map(missingSecretHint).join('; ');
      reply(res, 503, { message: hint });
      this.log(`503  POST ${url.pathname}  ${hint}`);
      return;
    }
    let clientCert: GatewayClientCert | undefined;
    if (target.route.authKind === 'mtls') {
      // API Gateway reports the certificate of the TLS handshake; locally it comes in a header.
      const header = req.headers[CLIENT_CERT_HEADER];
      if (typeof header === 'string') {
        let parsed: ReturnType<typeof gatewayClientCert>;
        try {
          parsed = gatewayClientCert(header);
        } catch (error) {
          reply(res, 400, { message: `the local runner: ${(error as Error).message}` });
          this.log(`400  POST ${url.pathname}  ${(error as Error).message}`);
          return;
        }
        if (Date.now() > parsed.notAfterMs || Date.now() < parsed.notBeforeMs) {
          // API Gateway ends the TLS handshake for a certificate outside its validity.
          reply(res, 403, { message: 'Forbidden' });
          this.log(`403  POST ${url.pathname}  the client certificate is not valid now (${parsed.cert.validity.notBefore} to ${parsed.cert.validity.notAfter})`);
          return;
        }
        clientCert = parsed.cert;
      }
    }
    const event = proxyEvent(req, url, target.route, Buffer.concat(chunks), clientCert);
    const started = Date.now();
    let status: number;
    try {
      const result = await target.host.invoke(event, Math.min(target.route.timeoutSeconds * 1000, INTEGRATION_TIMEOUT_MS));
      status = result.statusCode;
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
      res.writeHead(status, headers);
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
    } catch {
      // What API Gateway answers when the integration fails or times out.
      status = 502;
      reply(res, status, { message: 'Internal server error' });
    }
    const hint = target.route.authKind === 'mtls' && clientCert === undefined && (status === 401 || status === 403)
      ? '  (no client certificate: send --client-cert <file>, which local prints for each MtlsClient)'
      : '';
    this.log(`${status}  POST ${url.pathname}  ${Date.now() - started} ms${hint}`);
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The REST proxy event API Gateway would send for this request, with `*\/*` as a binary media type. */
function proxyEvent(req: IncomingMessage, url: URL, route: LocalRoute, body: Buffer, clientCert?: GatewayClientCert): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    // The certificate goes where API Gateway puts it, not in the headers.
    if (clientCert !== undefined && name.toLowerCase() === CLIENT_CERT_HEADER) continue;
    const value = req.rawHeaders[i + 1];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const requestId = randomUUID();
  return {
    resource: route.path,
    path: url.pathname,
    httpMethod: 'POST',
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: body.length === 0 ? null : body.toString('base64'),
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      requestId,
      requestTimeEpoch: Date.now(),
      // Served at the root, with no stage in the path, as on a custom domain.
      path: url.pathname,
      resourcePath: route.path,
      httpMethod: 'POST',
      stage: 'local',
      protocol: `HTTP/${req.httpVersion}`,
      domainName: String(req.headers.host ?? 'localhost'),
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: req.headers['user-agent'] ?? null, clientCert: clientCert ?? null },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}
