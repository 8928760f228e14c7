/**
 * The `cdk-webhook-ingress` command: `local`, `tail`, `sign` and `send`. Bundled by
 * scripts/bundle.mjs into assets/cli/index.js, the package's bin.
 */
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CONFIG_ENV_VAR } from '../lambda/shared/config';
import { readAssembly, synthesize, type LocalApp } from './local/assembly';
import { isFunctionHostThread, runFunctionHost } from './local/function-host';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './local/kinesis';
import { LocalRunner } from './local/runner';
import { curlCommand, headerLines, SCHEME_NAMES, sendRequest, signRequest, UsageError, type SchemeName, type SignRequest } from './sign';
import { tailStream } from './tail';

/** Where `local` puts the embedded Kinesis, and where `tail` looks, unless told otherwise. */
const DEFAULT_KINESIS_PORT = 4567;
const DEFAULT_PORT = 3000;
/** Local secret values can also come from the environment: this prefix plus the secret's logical id. */
const SECRET_ENV_PREFIX = 'CDK_WEBHOOK_INGRESS_SECRET_';

const USAGE = `Usage: cdk-webhook-ingress <command> [options]

Commands:
  local    Serve the webhook paths of a CDK app on localhost, with the bundled handlers,
           an embedded Kinesis and recorded Step Functions runs.
             --cdk-out <dir>          read this synthesized app (default: synthesize the
                                      app of ./cdk.json into a temporary folder)
             --port <n>               HTTP port (default ${DEFAULT_PORT}; 0 picks a free one)
             --host <addr>            address to listen on (default 127.0.0.1)
             --kinesis-port <n>       the embedded Kinesis's port (default ${DEFAULT_KINESIS_PORT}; 0 picks one)
             --kinesis-endpoint <url> use this Kinesis instead; its streams must exist
             --secrets-file <file>    JSON: {"<secret construct path or logical id>": "value"}
                                      (also read: env ${SECRET_ENV_PREFIX}<logical id>)
             --endpoint <svc>=<url>   an endpoint for a service with no stand-in, such as
                                      dynamodb=http://127.0.0.1:8000 (repeatable)
  tail <stream>
           Print the records arriving on a stream, one JSON line each.
             --endpoint <url>         Kinesis endpoint (default http://127.0.0.1:${DEFAULT_KINESIS_PORT}, the runner's)
             --aws                    use AWS itself, with the usual credentials and region
             --from-start             begin with the oldest record kept
             --limit <n>              stop after n records
  sign     Sign a body as a sender would and print the headers, or a curl command.
             --scheme <${SCHEME_NAMES.join('|')}>
             --secret-env <name> | --secret-file <file>   where the secret is (never argv)
             --body <file>            the body (default: stdin)
             --content-type <type>    (default application/json)
             --header '<name>: <value>'   an extra header (repeatable); signed if the scheme says so
             --timestamp <unix s>     (default now)      --id <delivery id>  (default a new UUID)
             --url <url>              the URL to call (required for twilio, which signs it)
             for --scheme twilio: --algorithm HMAC_SHA1|HMAC_SHA256 signs as a Webhook Setting
                                      does and announces it in X-Twilio-Webhooks-Signature-Settings
             --format <headers|curl|json>   (default headers)
             for --scheme hmac: --signature-header, --algorithm sha1|sha256|sha512, --encoding
             hex|base64, --signature-prefix, --signed-content '{timestamp}.{body}', --timestamp-header
  send <url>
           Sign as \`sign\` does, POST it, and print the answer. Exits 1 unless the answer is 2xx.
`;

const SIGN_OPTIONS = {
  scheme: { type: 'string' },
  'secret-env': { type: 'string' },
  'secret-file': { type: 'string' },
  body: { type: 'string' },
  'content-type': { type: 'string' },
  header: { type: 'string', multiple: true },
  timestamp: { type: 'string' },
  id: { type: 'string' },
  url: { type: 'string' },
  format: { type: 'string' },
  'signature-header': { type: 'string' },
  algorithm: { type: 'string' },
  encoding: { type: 'string' },
  'signature-prefix': { type: 'string' },
  'signed-content': { type: 'string' },
  'timestamp-header': { type: 'string' },
} as const;

function readSecret(values: { 'secret-env'?: string; 'secret-file'?: string }): string {
  if (values['secret-env'] !== undefined) {
    const secret = process.env[values['secret-env']];
    if (secret === undefined || secret === '') throw new UsageError(`the environment variable ${values['secret-env']} is not set`);
    return secret;
  }
  if (values['secret-file'] !== undefined) return readFileSync(values['secret-file'], 'utf8').replace(/\r?\n$/, '');
  throw new UsageError('pass the secret with --secret-env <name> or --secret-file <file>; never on the command line');
}

function parseHeaders(lines: readonly string[] = []): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header must be '<name>: <value>', got '${line}'`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got '${value}'`);
  return Number(value);
}

function signingRequest(args: string[], urlArgument?: string): { request: SignRequest; bodyFile: string; format: string } {
  const { values } = parseArgs({ args, options: SIGN_OPTIONS, strict: true, allowPositionals: false });
  const scheme = values.scheme as SchemeName | undefined;
  if (scheme === undefined || !SCHEME_NAMES.includes(scheme)) throw new UsageError(`--scheme must be one of ${SCHEME_NAMES.join(', ')}`);
  const bodyFile = values.body ?? '-';
  const body = readFileSync(bodyFile === '-' ? 0 : bodyFile);
  const request: SignRequest = {
    scheme,
    secret: readSecret(values),
    body,
    contentType: values['content-type'] ?? 'application/json',
    headers: parseHeaders(values.header),
    timestamp: integer(values.timestamp, '--timestamp'),
    id: values.id,
    url: values.url ?? urlArgument,
    hmac: {
      signatureHeader: values['signature-header'],
      algorithm: values.algorithm,
      encoding: values.encoding,
      signaturePrefix: values['signature-prefix'],
      signedContent: values['signed-content'],
      timestampHeader: values['timestamp-header'],
    },
  };
  return { request, bodyFile, format: values.format ?? 'headers' };
}

function sign(args: string[]): void {
  const { request, bodyFile, format } = signingRequest(args);
  const signed = signRequest(request);
  if (format === 'headers') console.log(headerLines(signed));
  else if (format === 'json') console.log(JSON.stringify(signed, null, 2));
  else if (format === 'curl') {
    if (request.url === undefined) throw new UsageError('--format curl needs --url');
    console.log(curlCommand(request.url, signed, bodyFile));
  } else throw new UsageError(`--format must be headers, curl or json, got '${format}'`);
}

async function send(args: string[]): Promise<number> {
  const [url, ...rest] = args;
  if (url === undefined || url.startsWith('-')) throw new UsageError('send needs the URL first: send <url> --scheme ...');
  const { request } = signingRequest(rest, url);
  const signed = signRequest(request);
  const answer = await sendRequest(url, signed, request.body);
  console.log(`HTTP ${answer.status}`);
  const retryAfter = answer.headers.get('retry-after');
  if (retryAfter !== null) console.log(`retry-after: ${retryAfter}`);
  console.log(answer.body);
  return answer.status >= 200 && answer.status < 300 ? 0 : 1;
}

function kinesisClient(endpoint: string | undefined): KinesisClient {
  // kinesalite speaks HTTP/1.1 only; AWS accepts it too.
  const requestHandler = new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 10_000 });
  return endpoint === undefined
    ? new KinesisClient({ requestHandler })
    : new KinesisClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, requestHandler });
}

async function tail(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { endpoint: { type: 'string' }, aws: { type: 'boolean' }, 'from-start': { type: 'boolean' }, limit: { type: 'string' } },
    allowPositionals: true,
  });
  const stream = positionals[0];
  if (stream === undefined) throw new UsageError('tail needs a stream name: tail <stream>');
  const client = kinesisClient(values.aws ? undefined : values.endpoint ?? `http://127.0.0.1:${DEFAULT_KINESIS_PORT}`);
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  await tailStream(client, {
    stream,
    fromStart: values['from-start'],
    limit: integer(values.limit, '--limit'),
    pollMs: values.aws ? 1000 : 200,
    signal: stop.signal,
    onRecord: (record) => console.log(JSON.stringify(record)),
  });
  client.destroy();
  return 0;
}

function localSecretValues(file: string | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith(SECRET_ENV_PREFIX) && value !== undefined) values[name.slice(SECRET_ENV_PREFIX.length)] = value;
  }
  if (file !== undefined) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw new UsageError(`${file} must be a JSON object of strings: {"<secret construct path or logical id>": "value"}`);
    }
    Object.assign(values, parsed);
  }
  return values;
}

function describeRoutes(app: LocalApp, secretValues: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const route of app.routes) {
    const document = JSON.parse(route.environment[CONFIG_ENV_VAR]) as { streamName?: string; target?: { arn?: string } };
    const target = route.kind === 'stream' ? `stream ${document.streamName}` : `runs of ${document.target?.arn}`;
    lines.push(`  POST ${route.path.padEnd(16)} ${route.kind.padEnd(7)} -> ${target}   (${route.constructPath ?? route.functionId})`);
  }
  const missing = app.secrets.filter((s) => !s.keys.some((k) => secretValues[k] !== undefined));
  for (const secret of missing) {
    const name = secret.keys[1] ?? secret.keys[0];
    lines.push(`  secret ${name} has no local value: its paths answer 503. Set "${name}" in --secrets-file, or ${SECRET_ENV_PREFIX}${secret.keys[0]}`);
  }
  if (app.unemulated.length > 0) {
    lines.push(`  not emulated: ${app.unemulated.join(', ')}. Calls to them fail fast unless --endpoint <service>=<url> is given.`);
  }
  return lines;
}

async function local(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'cdk-out': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'kinesis-port': { type: 'string' },
      'kinesis-endpoint': { type: 'string' },
      'secrets-file': { type: 'string' },
      endpoint: { type: 'string', multiple: true },
    },
  });
  const endpoints: Record<string, string> = {};
  for (const pair of values.endpoint ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--endpoint must be <service>=<url>, got '${pair}'`);
    endpoints[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const synthesized = values['cdk-out'] === undefined ? synthesize(process.cwd()) : undefined;
  const assemblyDir = values['cdk-out'] ?? synthesized as string;
  try {
    return await serve(assemblyDir, values, endpoints);
  } finally {
    if (synthesized !== undefined) rmSync(synthesized, { recursive: true, force: true });
  }
}

async function serve(assemblyDir: string, values: { 'secrets-file'?: string; port?: string; host?: string; 'kinesis-endpoint'?: string; 'kinesis-port'?: string }, endpoints: Record<string, string>): Promise<number> {
  const app = readAssembly(assemblyDir);
  if (app.routes.length === 0) throw new UsageError(`no WebhookStreamSource or WebhookTrigger paths in ${assemblyDir}`);
  const secretValues = localSecretValues(values['secrets-file']);
  const runner = await LocalRunner.start({
    app,
    hostScript: __filename,
    secretValues,
    port: integer(values.port, '--port') ?? DEFAULT_PORT,
    host: values.host,
    kinesisEndpoint: values['kinesis-endpoint'],
    kinesisPort: integer(values['kinesis-port'], '--kinesis-port') ?? DEFAULT_KINESIS_PORT,
    endpoints,
    log: (line) => console.log(line),
  });
  console.log([
    `cdk-webhook-ingress local: serving on ${runner.url}`,
    ...describeRoutes(app, secretValues),
    `  kinesis: ${runner.kinesisEndpoint}${values['kinesis-endpoint'] === undefined ? ' (embedded kinesalite)' : ''}`,
    '  runs: GET /_local/runs. Ctrl-C stops.',
  ].join('\n'));
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await runner.stop();
  console.log(`stopped; ${runner.runs.length} run(s) recorded${runner.runs.map((r) => `\n  ${r.path} ${r.name}`).join('')}`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'local': return local(args);
    case 'tail': return tail(args);
    case 'sign': sign(args); return 0;
    case 'send': return send(args);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

if (isFunctionHostThread()) {
  runFunctionHost();
} else {
  // The SDK inside this bundle is fixed at build time; its warning about the local Node is noise.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
      if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
        console.error(`cdk-webhook-ingress: ${(error as Error).message}\nRun 'cdk-webhook-ingress help' for usage.`);
        process.exitCode = 2;
      } else {
        console.error(`cdk-webhook-ingress: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
      }
    },
  );
}
