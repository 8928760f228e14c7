/**
 * The `cdk-webhook-ingress` command: `local`, `tail`, `sign` and `send`. Bundled by
 * scripts/bundle.mjs into assets/cli/index.js, the package's bin.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { CONFIG_ENV_VAR } from '../lambda/common/config-document';
import { CLIENT_CERT_HEADER, clientCertHeaderValue, readCertificate } from './client-cert';
import { CliError, describeError, errorCode, readUserFile, unreachable, UsageError } from './errors';
import { readAssembly, synthesize, type LocalApp, type LocalMtlsClient } from './local/assembly';
import { isFunctionHostThread, runFunctionHost } from './local/function-host';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './local/kinesis';
import { LocalRunner, missingSecretHint, SECRET_ENV_PREFIX } from './local/runner';
import { curlCommand, headerLines, SCHEME_NAMES, schemeNamed, sendRequest, signRequest, TOKEN_SCHEMES, type SignRequest } from './sign';
import { tailStream } from './tail';
import { sdkTransport } from '../lambda/common/sdk-transport';

/** Where `local` puts the embedded Kinesis, and where `tail` looks, unless told otherwise. */
const DEFAULT_KINESIS_PORT = 4567;
const DEFAULT_PORT = 3000;
const PROGRAM = 'cdk-webhook-ingress';

const SIGNING_OPTIONS_HELP = `  --scheme <name>          ${SCHEME_NAMES.filter((s) => !TOKEN_SCHEMES.includes(s)).join(', ')}
                           (the WebhookAuth factory's name; 'standard' also means standardWebhooks)
  --secret-env <name> | --secret-file <file>   where the secret is (never on the command line)
  --body <file>            the body (default: stdin)
  --content-type <type>    (default application/json)
  --header '<name>: <value>'   an extra header (repeatable); signed if the scheme says so
  --timestamp <unix s>     (default now)      --id <delivery id>  (default a new UUID)
  --url <url>              the URL to call (required for twilio, which signs it)
  for --scheme twilio: --algorithm HMAC_SHA1|HMAC_SHA256 signs as a Webhook Setting does and
  announces it in X-Twilio-Webhooks-Signature-Settings
  for --scheme hmac (as WebhookAuth.hmac's options): --signature-header, --algorithm
  sha1|sha256|sha512, --encoding hex|base64, --signature-prefix, --signed-content
  '{timestamp}.{body}', --timestamp-header`;

const USAGES = {
  local: `Usage: ${PROGRAM} local [options]

Serves the webhook paths of a CDK app on localhost, with the bundled handlers, an embedded Kinesis
and recorded Step Functions runs. Ctrl-C stops it, and so does stopping its parent (such as npx).

Options:
  --cdk-out <dir>          read this synthesized app (default: synthesize the app of ./cdk.json
                           into a temporary folder)
  -c, --context <key>=<value>   a context value for that synthesis, as cdk synth -c (repeatable)
  --port <n>               HTTP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host <addr>            address to listen on (default 127.0.0.1)
  --kinesis-port <n>       the embedded Kinesis's port (default ${DEFAULT_KINESIS_PORT}; 0 picks one)
  --kinesis-endpoint <url> use this Kinesis instead; its streams must exist
  --secrets-file <file>    JSON: {"<secret construct path or logical id>": "value"}
                           (also read: env ${SECRET_ENV_PREFIX}<logical id>)
  --client-certs <dir>     write each MtlsClient's local certificate here (default: a temporary
                           folder, removed on stop)
  --endpoint <svc>=<url>   an endpoint for a service with no stand-in, such as
                           dynamodb=http://127.0.0.1:8000 (repeatable)
  -h, --help               this help`,
  tail: `Usage: ${PROGRAM} tail <stream> [options]

Prints the records arriving on a Kinesis stream, one JSON line each, the envelope parsed.

Options:
  --endpoint <url>         Kinesis endpoint (default http://127.0.0.1:${DEFAULT_KINESIS_PORT}, the runner's)
  --aws                    use AWS itself, with the usual credentials
  --region <name>          the region, with --aws (default: AWS_REGION, or the profile's)
  --from-start             begin with the oldest record kept
  --limit <n>              stop after n records
  -h, --help               this help`,
  sign: `Usage: ${PROGRAM} sign --scheme <name> --secret-env <name> [options]

Signs a body as the sender would and prints the headers, or a curl command.

Options:
${SIGNING_OPTIONS_HELP}
  --format <headers|curl|json>   (default headers)
  -h, --help               this help`,
  send: `Usage: ${PROGRAM} send <url> [--scheme <name> --secret-env <name>] [options]

Signs as sign does, POSTs it, and prints the answer. Exits 1 unless the answer is 2xx.

Options:
${SIGNING_OPTIONS_HELP}
  --scheme bearerToken | jwt   send the token (from --secret-env or --secret-file) as
                           'Authorization: Bearer <token>'; for bearerToken, --token-header <name>
                           and --token-scheme <word> as WebhookAuth.bearerToken's header and scheme
  --client-cert <file>     present this client certificate to an mTLS source of the local runner
                           (PEM, DER, or an MtlsClient secret's JSON), in a ${CLIENT_CERT_HEADER} header
  no --scheme              send the body unsigned (with --client-cert or --header)
  -h, --help               this help`,
} as const;
type Command = keyof typeof USAGES;

const USAGE = `Usage: ${PROGRAM} <command> [options]

Commands:
  local    Serve the webhook paths of a CDK app on localhost
  tail     Print the records arriving on a stream
  sign     Sign a body as a sender would, and print the headers or a curl command
  send     Sign a body, POST it, and print the answer
  help [<command>]

  ${PROGRAM} <command> --help   a command's options
  ${PROGRAM} --version          the version

${(Object.values(USAGES) as string[]).join('\n\n')}
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
  'token-header': { type: 'string' },
  'token-scheme': { type: 'string' },
  'client-cert': { type: 'string' },
} as const;

/** The package's version, from the package.json beside the bundle (assets/cli/index.js). */
function packageVersion(): string {
  for (const file of [join(__dirname, '..', '..', 'package.json'), join(__dirname, '..', 'package.json')]) {
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === PROGRAM && typeof pkg.version === 'string') return pkg.version;
  }
  return 'unknown';
}

/** True when the arguments ask for help: `-h` or `--help`, before any `--`. */
function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

function readSecret(values: { 'secret-env'?: string; 'secret-file'?: string }): string {
  if (values['secret-env'] !== undefined) {
    const secret = process.env[values['secret-env']];
    if (secret === undefined || secret === '') throw new UsageError(`the environment variable ${values['secret-env']} is not set`);
    return secret;
  }
  if (values['secret-file'] !== undefined) return readUserFile(values['secret-file'], 'the secret file').toString('utf8').replace(/\r?\n$/, '');
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

type SignValues = ReturnType<typeof parseArgs<{ options: typeof SIGN_OPTIONS; allowPositionals: true }>>['values'];

/** The request `sign` or `send` makes. `send` may leave the scheme out: the body goes unsigned. */
function signingRequest(values: SignValues, command: 'sign' | 'send', url?: string): { request?: SignRequest; body: Buffer; bodyFile: string } {
  const bodyFile = values.body ?? '-';
  const scheme = values.scheme === undefined ? undefined : schemeNamed(values.scheme);
  if (values.scheme === undefined && command === 'sign') throw new UsageError('sign needs --scheme <name>');
  if (values.scheme !== undefined && scheme === undefined) {
    throw new UsageError(`--scheme must be one of ${SCHEME_NAMES.filter((s) => command === 'send' || !TOKEN_SCHEMES.includes(s)).join(', ')}; got '${values.scheme}'`);
  }
  if (scheme !== undefined && command === 'sign' && TOKEN_SCHEMES.includes(scheme)) {
    throw new UsageError(`sign prints what it signs, and a ${scheme} token is the secret itself: use send --scheme ${scheme}, which never prints it`);
  }
  const body = readUserFile(bodyFile, 'the body file');
  if (scheme === undefined) {
    if (values['secret-env'] !== undefined || values['secret-file'] !== undefined) throw new UsageError('a secret without --scheme signs nothing: name the scheme that uses it');
    return { body, bodyFile };
  }
  const request: SignRequest = {
    scheme,
    secret: readSecret(values),
    body,
    contentType: values['content-type'] ?? 'application/json',
    headers: parseHeaders(values.header),
    timestamp: integer(values.timestamp, '--timestamp'),
    id: values.id,
    url: values.url ?? url,
    hmac: {
      signatureHeader: values['signature-header'],
      algorithm: values.algorithm,
      encoding: values.encoding,
      signaturePrefix: values['signature-prefix'],
      signedContent: values['signed-content'],
      timestampHeader: values['timestamp-header'],
    },
    token: { header: values['token-header'], scheme: values['token-scheme'] },
  };
  return { request, body, bodyFile };
}

function sign(args: string[]): number {
  const { values } = parseArgs({ args, options: SIGN_OPTIONS, strict: true, allowPositionals: false });
  const { request, bodyFile } = signingRequest(values, 'sign');
  const signed = signRequest(request as SignRequest);
  const format = values.format ?? 'headers';
  if (format === 'headers') console.log(headerLines(signed));
  else if (format === 'json') console.log(JSON.stringify(signed, null, 2));
  else if (format === 'curl') {
    if (request?.url === undefined) throw new UsageError('--format curl needs --url');
    console.log(curlCommand(request.url, signed, bodyFile));
  } else throw new UsageError(`--format must be headers, curl or json, got '${format}'`);
  return 0;
}

async function send(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: SIGN_OPTIONS, strict: true, allowPositionals: true });
  if (positionals.length > 1) throw new UsageError(`send takes one URL, got ${positionals.length}: ${positionals.join(' ')}`);
  const target = positionals[0] ?? values.url;
  if (target === undefined) {
    throw new UsageError(`the URL to post to is missing: send <url> --scheme <name> ... (local prints its URL, such as http://127.0.0.1:${DEFAULT_PORT}/<path>)`);
  }
  let parsed: URL;
  try {
    parsed = new URL(target);
  } catch {
    throw new UsageError(`send needs an http:// or https:// URL, got '${target}'`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError(`send needs an http:// or https:// URL, got '${target}'`);
  const { request, body } = signingRequest(values, 'send', target);
  const signed = request === undefined
    ? { url: target, headers: { 'content-type': values['content-type'] ?? 'application/json', ...parseHeaders(values.header) } }
    : signRequest(request);
  if (values['client-cert'] !== undefined) {
    const certificate = readCertificate(readUserFile(values['client-cert'], 'the client certificate'), values['client-cert']);
    signed.headers[CLIENT_CERT_HEADER] = clientCertHeaderValue(certificate);
  }
  let answer: Awaited<ReturnType<typeof sendRequest>>;
  try {
    answer = await sendRequest(target, signed, body);
  } catch (error) {
    const origin = new URL(signed.url ?? target).origin;
    throw unreachable(error, origin, `start '${PROGRAM} local' first (it prints the URL it serves), or check the URL`) ?? error;
  }
  console.log(`HTTP ${answer.status}`);
  const retryAfter = answer.headers.get('retry-after');
  if (retryAfter !== null) console.log(`retry-after: ${retryAfter}`);
  console.log(answer.body);
  return answer.status >= 200 && answer.status < 300 ? 0 : 1;
}

/**
 * Aborts on SIGINT, SIGTERM or SIGHUP, or when the parent process (such as npx, which does not
 * pass its signals on) goes away. A second signal stops the process at once.
 */
function stopSignal(): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      console.error(`${PROGRAM}: ${name} again: stopping now`);
      process.exit(130);
    }
    controller.abort(name);
  };
  for (const name of signals) process.on(name, onSignal);
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) controller.abort('the parent process exited');
  }, 500);
  watch.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      clearInterval(watch);
      for (const name of signals) process.off(name, onSignal);
    },
  };
}

function kinesisClient(endpoint: string | undefined, region: string | undefined): KinesisClient {
  // kinesalite speaks HTTP/1.1 only; AWS accepts it too.
  const requestHandler = sdkTransport(10_000, 2_000);
  return endpoint === undefined
    ? new KinesisClient({ requestHandler, ...(region === undefined ? {} : { region }) })
    // One attempt: nothing listening is an answer to give at once.
    : new KinesisClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, requestHandler, maxAttempts: 1 });
}

async function tail(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      endpoint: { type: 'string' },
      aws: { type: 'boolean' },
      region: { type: 'string' },
      'from-start': { type: 'boolean' },
      limit: { type: 'string' },
    },
    allowPositionals: true,
  });
  const stream = positionals[0];
  if (stream === undefined) throw new UsageError('the stream name is missing: tail <stream> (local prints the streams it serves)');
  if (values.aws && values.endpoint !== undefined) throw new UsageError('pass --aws or --endpoint, not both');
  const endpoint = values.aws ? undefined : values.endpoint ?? `http://127.0.0.1:${DEFAULT_KINESIS_PORT}`;
  const client = kinesisClient(endpoint, values.region);
  const where = endpoint ?? 'AWS';
  if (values.aws) {
    try {
      await client.config.region();
    } catch {
      client.destroy();
      throw new UsageError('--aws needs a region: pass --region <name>, or set AWS_REGION (or AWS_PROFILE, for a profile with a region)');
    }
  }
  const stop = stopSignal();
  try {
    await tailStream(client, {
      stream,
      fromStart: values['from-start'],
      limit: integer(values.limit, '--limit'),
      pollMs: values.aws ? 1000 : 200,
      signal: stop.signal,
      onRecord: (record) => console.log(JSON.stringify(record)),
    });
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'ResourceNotFoundException') {
      throw new CliError(`no stream '${stream}' at ${where}${values.aws ? ` in ${await client.config.region()}` : ''}: local prints the streams it serves; check the name`);
    }
    if (name === 'CredentialsProviderError') {
      throw new CliError(`--aws found no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (${describeError(error)})`);
    }
    throw unreachable(error, where, `start '${PROGRAM} local' first (its Kinesis listens on port ${DEFAULT_KINESIS_PORT}), or pass --endpoint <url> (--aws for a stream in AWS)`) ?? error;
  } finally {
    stop.dispose();
    client.destroy();
  }
  return 0;
}

function localSecretValues(file: string | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith(SECRET_ENV_PREFIX) && value !== undefined) values[name.slice(SECRET_ENV_PREFIX.length)] = value;
  }
  if (file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readUserFile(file, 'the secrets file').toString('utf8'));
    } catch (error) {
      if (error instanceof UsageError) throw error;
      parsed = undefined;
    }
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
  for (const secret of missing) lines.push(`  ${missingSecretHint(secret)}; its paths answer 503 until then`);
  if (app.unemulated.length > 0) {
    lines.push(`  not emulated: ${app.unemulated.join(', ')}. Calls to them fail fast unless --endpoint <service>=<url> is given.`);
  }
  return lines;
}

/** A file name for a client's certificate: its common name, made safe, and unique among the others. */
function certificateFileName(client: LocalMtlsClient, taken: Set<string>): string {
  const base = client.commonName.replace(/[^A-Za-z0-9._-]+/g, '-') || 'client';
  let name = `${base}.pem`;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}.pem`;
  taken.add(name);
  return name;
}

/**
 * Writes a local certificate for each MtlsClient whose serial the runner derived, and says how to
 * present it; for a client whose secret was given, says to present its own certificate.
 */
async function writeClientCertificates(clients: readonly LocalMtlsClient[], dir: string | undefined): Promise<{ lines: string[]; temporary?: string }> {
  const derived = clients.filter((c) => c.serialFrom === 'derived');
  const temporary = derived.length > 0 && dir === undefined ? mkdtempSync(join(tmpdir(), 'cdk-webhook-ingress-client-certs-')) : undefined;
  const folder = dir === undefined ? temporary : resolve(dir);
  if (folder !== undefined && dir !== undefined) mkdirSync(folder, { recursive: true });
  const lines: string[] = [];
  const taken = new Set<string>();
  // Loaded here only: @peculiar/x509 is most of the bundle's start-up time, and every function host loads this file.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { localClientCertificate } = derived.length > 0 ? require('./local/client-certs') as typeof import('./local/client-certs') : { localClientCertificate: undefined };
  for (const client of clients) {
    const name = client.constructPath ?? client.id;
    if (client.serialFrom === 'secret') {
      lines.push(`  mTLS client ${name}: serial ${client.serialNumber}, from the local value of its secret; send --client-cert <its certificate>`);
      continue;
    }
    const file = join(folder as string, certificateFileName(client, taken));
    writeFileSync(file, await (localClientCertificate as NonNullable<typeof localClientCertificate>)({ serialNumber: client.serialNumber, commonName: client.commonName, organization: client.organization, notAfter: new Date(client.notAfter) }));
    lines.push(`  mTLS client ${name}: local serial ${client.serialNumber}; send --client-cert ${file}`);
  }
  return { lines, temporary };
}

async function local(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'cdk-out': { type: 'string' },
      context: { type: 'string', short: 'c', multiple: true },
      port: { type: 'string' },
      host: { type: 'string' },
      'kinesis-port': { type: 'string' },
      'kinesis-endpoint': { type: 'string' },
      'secrets-file': { type: 'string' },
      'client-certs': { type: 'string' },
      endpoint: { type: 'string', multiple: true },
    },
  });
  const endpoints: Record<string, string> = {};
  for (const pair of values.endpoint ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--endpoint must be <service>=<url>, got '${pair}'`);
    endpoints[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const context: Record<string, string> = {};
  for (const pair of values.context ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--context must be <key>=<value>, got '${pair}'`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (values.context !== undefined && values['cdk-out'] !== undefined) throw new UsageError('--context applies to the synthesis that --cdk-out skips: pass one or the other');
  const port = integer(values.port, '--port') ?? DEFAULT_PORT;
  const kinesisPort = integer(values['kinesis-port'], '--kinesis-port') ?? DEFAULT_KINESIS_PORT;
  const secretValues = localSecretValues(values['secrets-file']);
  const stop = stopSignal();
  let synthesized: string | undefined;
  try {
    if (values['cdk-out'] === undefined) {
      console.error(`${PROGRAM} local: synthesizing the app of ${join(process.cwd(), 'cdk.json')} ...`);
      synthesized = await synthesize(process.cwd(), { signal: stop.signal, context });
    }
    return await serve(values['cdk-out'] ?? synthesized as string, { ...values, port, kinesisPort }, secretValues, endpoints, stop.signal);
  } finally {
    stop.dispose();
    if (synthesized !== undefined) rmSync(synthesized, { recursive: true, force: true });
  }
}

interface ServeOptions {
  readonly port: number;
  readonly kinesisPort: number;
  readonly host?: string;
  readonly 'kinesis-endpoint'?: string;
  readonly 'client-certs'?: string;
}

async function serve(assemblyDir: string, values: ServeOptions, secretValues: Record<string, string>, endpoints: Record<string, string>, stopped: AbortSignal): Promise<number> {
  const app = readAssembly(assemblyDir, { secretValues });
  if (app.routes.length === 0) throw new UsageError(`no WebhookStreamSource or WebhookTrigger paths in ${assemblyDir}`);
  const certificates = await writeClientCertificates(app.mtlsClients ?? [], values['client-certs']);
  try {
    let runner: LocalRunner;
    try {
      runner = await LocalRunner.start({
        app,
        secretValues,
        port: values.port,
        host: values.host,
        kinesisEndpoint: values['kinesis-endpoint'],
        kinesisPort: values.kinesisPort,
        endpoints,
        log: (line) => console.log(line),
      });
    } catch (error) {
      if (errorCode(error) === 'EADDRINUSE') {
        throw new CliError(`a port is in use (${describeError(error)}): is another '${PROGRAM} local' running? Stop it, or pass --port and --kinesis-port (0 picks free ones)`);
      }
      throw error;
    }
    if (!stopped.aborted) {
      console.log([
        `${PROGRAM} local (pid ${process.pid}): serving on ${runner.url}`,
        ...describeRoutes(app, secretValues),
        ...certificates.lines,
        `  kinesis: ${runner.kinesisEndpoint}${values['kinesis-endpoint'] === undefined ? ' (embedded kinesalite)' : ''}`,
        '  runs: GET /_local/runs. Ctrl-C stops.',
      ].join('\n'));
      await new Promise<void>((done) => stopped.addEventListener('abort', () => done(), { once: true }));
    }
    await runner.stop();
    console.log(`stopped (${String(stopped.reason)}); ${runner.runs.length} run(s) recorded${runner.runs.map((r) => `\n  ${r.path} ${r.name}`).join('')}`);
    return 0;
  } finally {
    if (certificates.temporary !== undefined) rmSync(certificates.temporary, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command !== undefined && Object.hasOwn(USAGES, command) && wantsHelp(args)) {
    console.log(USAGES[command as Command]);
    return 0;
  }
  switch (command) {
    case 'local': return local(args);
    case 'tail': return tail(args);
    case 'sign': return sign(args);
    case 'send': return send(args);
    case '--version':
    case '-v':
    case 'version':
      console.log(packageVersion());
      return 0;
    case 'help':
      if (args[0] !== undefined && Object.hasOwn(USAGES, args[0])) console.log(USAGES[args[0] as Command]);
      else if (args[0] !== undefined) throw new UsageError(`no command '${args[0]}' to help with`);
      else console.log(USAGE);
      return 0;
    case undefined:
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

const PARSE_ERRORS = ['ERR_PARSE_ARGS_UNKNOWN_OPTION', 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE', 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'];

/** Prints an error as one line (the synthesis error adds the app's output), and returns the exit code. */
function report(error: unknown, command: string | undefined): number {
  const known = command !== undefined && Object.hasOwn(USAGES, command);
  if (error instanceof UsageError || PARSE_ERRORS.includes((error as { code?: string }).code ?? '')) {
    // node's parseArgs adds a paragraph about '--'; its first sentence is the point.
    const message = (error as Error).message.replace(/\. To specify a positional argument[\s\S]*$/, '');
    console.error(`${PROGRAM}${known ? ` ${command}` : ''}: ${message}\nRun '${PROGRAM}${known ? ` ${command}` : ''} --help' for usage.`);
    return 2;
  }
  console.error(`${PROGRAM}${known ? ` ${command}` : ''}: ${error instanceof CliError ? error.message : describeError(error)}`);
  return 1;
}

if (isFunctionHostThread()) {
  runFunctionHost();
} else {
  // The SDK inside this bundle is fixed at build time; its warning about the local Node is noise.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // A reader that went away (the parent killed, `| head`) is no reason to crash while stopping.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  const argv = process.argv.slice(2);
  main(argv).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => { process.exitCode = report(error, argv[0]); },
  ).finally(() => {
    // Everything is stopped by now; a handle left open must not keep the process (and a port) alive.
    setTimeout(() => process.exit(), 2_000).unref();
  });
}
