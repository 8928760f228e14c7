/**
 * Reads a synthesized cloud assembly (`cdk.out`) and finds what the local runner serves: every
 * API Gateway POST method whose integration is a WebhookStreamSource's or WebhookTrigger's
 * function, with that function's bundled code and its configuration document.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { normalizeSerialNumber } from '../../lambda/common/http';
import { CliError, UsageError } from '../errors';
import { resolveCfn } from './cfn';

/** A resource of a template, as CloudFormation JSON. */
interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

/** A function the runner hosts: one POST route of one gateway. */
export interface LocalRoute {
  /** `stream` for a WebhookStreamSource, `trigger` for a WebhookTrigger. */
  readonly kind: 'stream' | 'trigger';
  /** The stack and the function's logical id, such as `MyStack/StripeIngest79F28F5F`. */
  readonly functionId: string;
  /** The construct path, when the template carries it. */
  readonly constructPath?: string;
  /** The URL path, such as `/stripe`. */
  readonly path: string;
  /** The REST API's logical id. */
  readonly restApiId: string;
  /** The folder of the bundled handler, and its file and export. */
  readonly codeDirectory: string;
  readonly handler: string;
  /** The function's environment: literal values, and references given local stand-ins (see `LocalNames`). */
  readonly environment: Record<string, string>;
  /** The function's timeout, in seconds. */
  readonly timeoutSeconds: number;
  /** How the handler authenticates (`auth.kind` of its configuration): `hmac`, `mtls`, ... */
  readonly authKind?: string;
  /** The ARNs of the secrets its configuration names (see `LocalApp.secrets`). */
  readonly secretArns: readonly string[];
}

/** A Kinesis stream of the template, created in the embedded Kinesis. */
export interface LocalStream {
  readonly name: string;
  readonly shardCount: number;
}

/** A Secrets Manager secret the routes read, and the names a local value may be given under. */
export interface LocalSecret {
  readonly arn: string;
  /** The logical id, then the construct path (when known) without and with its `/Resource`. */
  readonly keys: readonly string[];
}

/**
 * A client certificate a gateway's managed CA issues (`gateway.addMtlsClient`), whose serial
 * number and expiry the template only knows at deploy time: the runner resolves them to local ones.
 */
export interface LocalMtlsClient {
  /** The stack and the logical id of its Certificate resource. */
  readonly id: string;
  /** The MtlsClient's construct path, when the template carries it. */
  readonly constructPath?: string;
  readonly commonName: string;
  readonly organization?: string;
  /** `CN=<commonName>[,O=<organization>]`, as API Gateway reports the subject. */
  readonly subject: string;
  /** Lower-case hex: the local serial, or the one in the local value of the client's secret. */
  readonly serialNumber: string;
  /** ISO 8601. */
  readonly notAfter: string;
  /** `derived`: from the client's place in the app; `secret`: from a local value of its secret (`secretKey`). */
  readonly serialFrom: 'derived' | 'secret';
  /** The names a local value of the client's secret may be given under: its logical id, then its construct path. */
  readonly secretKeys: readonly string[];
}

export interface ReadAssemblyOptions {
  /**
   * Local secret values by logical id or construct path. An MtlsClient's secret given here (the
   * JSON its Secrets Manager secret holds) supplies its serial number and expiry.
   */
  readonly secretValues?: Readonly<Record<string, string>>;
}

export interface LocalApp {
  readonly routes: readonly LocalRoute[];
  /** The managed mTLS clients the routes accept. */
  readonly mtlsClients?: readonly LocalMtlsClient[];
  readonly streams: readonly LocalStream[];
  readonly secrets: readonly LocalSecret[];
  /** The state machines, versions and aliases the triggers start. */
  readonly stateMachineArns: readonly string[];
  /** Resources the routes use that have no local stand-in, such as a DynamoDB table, by kind. */
  readonly unemulated: readonly string[];
}

/** The account and region every local ARN is written with. */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION_NAME = 'us-east-1';

/** The last lines of a command's output, indented, for an error message. */
function lastLines(output: string, count = 60): string {
  const lines = output.replace(/\s+$/, '').split(/\r?\n/);
  const shown = lines.slice(-count).map((line) => `  ${line}`);
  return (lines.length > count ? [`  ... (${lines.length - count} earlier lines)`, ...shown] : shown).join('\n');
}

/**
 * Synthesizes the CDK app of a folder with a cdk.json, the way the CDK CLI does (it runs the
 * `app` command with CDK_OUTDIR and the context), into a new temporary folder. When the app fails,
 * the error carries what it printed (the compiler's diagnostics); when it succeeds, what it wrote
 * to stderr is passed on.
 *
 * @param options.signal stops the app command (its whole process group) and rejects
 * @param options.context context values, as `cdk synth -c key=value` gives them
 * @returns the cloud assembly folder
 */
export async function synthesize(projectDir: string, options: { readonly signal?: AbortSignal; readonly context?: Readonly<Record<string, string>> } = {}): Promise<string> {
  const cdkJsonPath = join(projectDir, 'cdk.json');
  if (!existsSync(cdkJsonPath)) throw new UsageError(`no cdk.json in ${projectDir}: run local in your CDK app's folder, or pass --cdk-out <dir> to read a synthesized app`);
  const cdkJson = JSON.parse(readFileSync(cdkJsonPath, 'utf8')) as { app?: string; context?: Record<string, unknown> };
  if (typeof cdkJson.app !== 'string') throw new UsageError(`${cdkJsonPath} has no "app" command`);
  const contextFile = join(projectDir, 'cdk.context.json');
  const context = {
    // As the CDK CLI does: construct paths in the template, which name secrets and functions.
    'aws:cdk:enable-path-metadata': true,
    ...(existsSync(contextFile) ? JSON.parse(readFileSync(contextFile, 'utf8')) as Record<string, unknown> : {}),
    ...cdkJson.context,
    // As `cdk synth -c key=value`: the command line wins.
    ...options.context,
  };
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-webhook-ingress-local-'));
  const app = cdkJson.app;
  try {
    const { code, signal, output, stderr } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string; stderr: string }>((resolvePromise, reject) => {
      // Its own process group, so that stopping it stops what it started (npx, node, ts-node).
      const child = spawn(app, {
        cwd: projectDir,
        shell: true,
        detached: process.platform !== 'win32',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_DISABLE_VERSION_CHECK: '1' },
      });
      let all = '';
      let errors = '';
      child.stdout.on('data', (chunk: Buffer) => { all += chunk.toString(); });
      child.stderr.on('data', (chunk: Buffer) => { all += chunk.toString(); errors += chunk.toString(); });
      const stop = () => {
        try {
          if (child.pid !== undefined) process.kill(process.platform === 'win32' ? child.pid : -child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      };
      options.signal?.addEventListener('abort', stop, { once: true });
      child.once('error', reject);
      child.once('close', (exitCode, exitSignal) => {
        options.signal?.removeEventListener('abort', stop);
        resolvePromise({ code: exitCode, signal: exitSignal, output: all, stderr: errors });
      });
    });
    if (options.signal?.aborted) throw new CliError('stopped while the app was synthesizing');
    if (code !== 0) {
      const how = code === null ? `was stopped by ${signal}` : `exited with code ${code}`;
      throw new CliError(output.trim() === ''
        ? `the app did not synthesize: '${app}' ${how}, and printed nothing`
        : `the app did not synthesize: '${app}' ${how}:\n${lastLines(output)}`);
    }
    if (stderr !== '') process.stderr.write(stderr);
    if (!existsSync(join(outdir, 'manifest.json'))) {
      throw new CliError(`'${app}' wrote no cloud assembly: is it a CDK app? (no manifest.json in its CDK_OUTDIR)`);
    }
  } catch (error) {
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
  return outdir;
}

interface Manifest {
  readonly artifacts?: Record<string, { type: string; properties?: { templateFile?: string; file?: string }; dependencies?: string[] }>;
}

interface AssetManifest {
  readonly files?: Record<string, { source: { path: string }; destinations: Record<string, { objectKey: string }> }>;
}

const DAY_MS = 86_400_000;

/**
 * The local serial number of a managed mTLS client: 16 bytes of SHA-256 over the stack, the
 * logical id of its Certificate resource and its generation, as lower-case hex with no leading
 * zero (the form the handler compares). The same app gives the same serials on every run, so a
 * certificate written once keeps working.
 */
export function localSerialNumber(stack: string, logicalId: string, generation: string): string {
  const bytes = createHash('sha256').update(`cdk-webhook-ingress local mTLS client ${stack}/${logicalId}#${generation}`).digest().subarray(0, 16);
  // Positive (top bit clear) and no leading zero digit: the first byte is 0x10 to 0x7f.
  bytes[0] = 0x10 + (bytes[0] % 0x70);
  return bytes.toString('hex');
}

/** Now plus whole days, ISO 8601. */
function daysFromNow(days: number): string {
  return new Date(Date.now() + days * DAY_MS).toISOString();
}

/** What the handler's configuration accepts as a serial number. */
const SERIAL_NUMBER = /^(?:0|[1-9a-f][0-9a-f]*)$/;

/** The local stand-in each kind of referenced resource resolves to. */
class LocalNames {
  readonly streams = new Map<string, LocalStream>();
  readonly secrets = new Map<string, LocalSecret>();
  readonly stateMachines = new Set<string>();
  readonly mtlsClients = new Map<string, LocalMtlsClient>();
  readonly unemulated = new Set<string>();

  constructor(
    private readonly stack: string,
    private readonly resources: Record<string, CfnResource>,
    private readonly secretValues: Readonly<Record<string, string>>,
  ) {}

  /** What `Ref` or `Fn::GetAtt` of a resource resolves to locally. */
  resolve(logicalId: string, attribute?: string): string {
    if (logicalId === 'AWS::Region') return LOCAL_REGION_NAME;
    if (logicalId === 'AWS::AccountId') return LOCAL_ACCOUNT;
    if (logicalId === 'AWS::Partition') return 'aws';
    if (logicalId === 'AWS::URLSuffix') return 'amazonaws.com';
    if (logicalId === 'AWS::StackName') return this.stack;
    const resource = this.resources[logicalId];
    const type = resource?.Type ?? 'unknown';
    const props = resource?.Properties ?? {};
    switch (type) {
      case 'AWS::Kinesis::Stream': {
        const name = typeof props.StreamName === 'string' ? props.StreamName : `${this.stack}-${logicalId}`;
        const shardCount = typeof props.ShardCount === 'number' ? props.ShardCount : 4;
        this.streams.set(name, { name, shardCount });
        return attribute === 'Arn' ? `arn:aws:kinesis:${LOCAL_REGION_NAME}:${LOCAL_ACCOUNT}:stream/${name}` : name;
      }
      case 'AWS::SecretsManager::Secret': {
        const arn = this.secretArn(logicalId);
        this.secrets.set(arn, { arn, keys: this.secretKeys(logicalId) });
        return arn;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const arn = `arn:aws:states:${LOCAL_REGION_NAME}:${LOCAL_ACCOUNT}:stateMachine:${logicalId}`;
        this.stateMachines.add(arn);
        return attribute === 'Name' ? logicalId : arn;
      }
      case 'AWS::StepFunctions::StateMachineVersion':
      case 'AWS::StepFunctions::StateMachineAlias': {
        // A version or alias ARN is its state machine's ARN plus a qualifier.
        const machine = JSON.stringify(props.StateMachineArn ?? props.DeploymentConfiguration ?? {});
        const machineId = /"Ref":"([^"]+)"/.exec(machine)?.[1] ?? logicalId;
        const base = this.resolve(machineId);
        return `${base}:${type.endsWith('Version') ? '1' : logicalId}`;
      }
      case 'Custom::WebhookGatewayMtlsClient': {
        const client = this.mtlsClient(logicalId, resource);
        if (attribute === 'SerialNumber') return client.serialNumber;
        if (attribute === 'NotAfter') return client.notAfter;
        if (attribute === 'Subject') return client.subject;
        return client.id;
      }
      default:
        // No stand-in: a value of the right shape, so that the configuration still validates, and
        // a call to it fails fast (unless --endpoint names one).
        this.unemulated.add(type);
        return placeholder(type, this.stack, logicalId, attribute);
    }
  }

  private secretArn(logicalId: string): string {
    return `arn:aws:secretsmanager:${LOCAL_REGION_NAME}:${LOCAL_ACCOUNT}:secret:${logicalId}-local`;
  }

  /** The logical id, then the construct path without and with its `/Resource` (stable across refactors that keep the tree). */
  private secretKeys(logicalId: string): string[] {
    const path = this.resources[logicalId]?.Metadata?.['aws:cdk:path'];
    const paths = typeof path === 'string' ? [path.replace(/\/Resource$/, ''), path] : [];
    return [logicalId, ...new Set(paths)];
  }

  /**
   * A managed client's local serial number and expiry: those of the local value of its secret
   * (the JSON the deployed secret holds) when one is given, else a serial derived from its place
   * in the app and an expiry `ValidityDays` from now.
   */
  private mtlsClient(logicalId: string, resource: CfnResource): LocalMtlsClient {
    const id = `${this.stack}/${logicalId}`;
    const known = this.mtlsClients.get(id);
    if (known !== undefined) return known;
    const props = resource.Properties ?? {};
    const commonName = typeof props.CommonName === 'string' ? props.CommonName : logicalId;
    const organization = typeof props.Organization === 'string' ? props.Organization : undefined;
    const validityDays = Number(props.ValidityDays);
    const secretId = (props.ClientSecretArn as { Ref?: unknown } | undefined)?.Ref;
    const secretKeys = typeof secretId === 'string' ? this.secretKeys(secretId) : [];
    const path = resource.Metadata?.['aws:cdk:path'];
    const base = {
      id,
      constructPath: typeof path === 'string' ? path.replace(/\/Certificate(\/Default)?$/, '') : undefined,
      commonName,
      ...(organization === undefined ? {} : { organization }),
      subject: organization === undefined ? `CN=${commonName}` : `CN=${commonName},O=${organization}`,
      secretKeys,
    };
    const key = secretKeys.find((k) => this.secretValues[k] !== undefined);
    let client: LocalMtlsClient;
    if (key !== undefined) {
      let value: { serialNumber?: unknown; notAfter?: unknown; subject?: unknown } = {};
      try {
        value = JSON.parse(this.secretValues[key]) as typeof value;
      } catch {
        // reported below
      }
      const serial = typeof value?.serialNumber === 'string' ? normalizeSerialNumber(value.serialNumber) : '';
      if (!SERIAL_NUMBER.test(serial)) {
        throw new UsageError(`the local value of ${key} must be the JSON its secret holds, with the certificate's hex serialNumber (aws secretsmanager get-secret-value --query SecretString), or be left out for a local serial`);
      }
      const notAfter = typeof value.notAfter === 'string' && !Number.isNaN(Date.parse(value.notAfter)) ? value.notAfter : daysFromNow(365);
      client = { ...base, ...(typeof value.subject === 'string' ? { subject: value.subject } : {}), serialNumber: serial, notAfter, serialFrom: 'secret' };
    } else {
      const generation = String(props.Generation ?? '0');
      const days = Number.isInteger(validityDays) && validityDays > 0 ? validityDays : 365;
      client = { ...base, serialNumber: localSerialNumber(this.stack, logicalId, generation), notAfter: daysFromNow(days), serialFrom: 'derived' };
    }
    this.mtlsClients.set(id, client);
    return client;
  }
}

/**
 * A stand-in value for a resource with no local stand-in, of the shape its attribute has (an ARN
 * for `Arn`, an https URL for a `...Url` such as a user pool's `ProviderURL`, a queue URL for a
 * queue's `Ref`, a name otherwise), so that a configuration that checks its shape still loads.
 */
function placeholder(type: string, stack: string, logicalId: string, attribute: string | undefined): string {
  const name = `local-${logicalId}`;
  const service = /^AWS::([A-Za-z0-9]+)::/.exec(type)?.[1]?.toLowerCase();
  if (type === 'AWS::SQS::Queue') {
    if (attribute === undefined) return `https://sqs.${LOCAL_REGION_NAME}.amazonaws.com/${LOCAL_ACCOUNT}/${name}`;
    if (attribute === 'Arn') return `arn:aws:sqs:${LOCAL_REGION_NAME}:${LOCAL_ACCOUNT}:${name}`;
    if (attribute === 'QueueName') return name;
  }
  if (type === 'AWS::S3::Bucket') {
    const bucket = `local-${stack}-${logicalId}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 63);
    return attribute === 'Arn' ? `arn:aws:s3:::${bucket}` : bucket;
  }
  if (attribute !== undefined && /ur[li]$/i.test(attribute)) return `https://${name.toLowerCase()}.local.invalid`;
  if (attribute === 'Arn' && service !== undefined) {
    const kind = /::([A-Za-z0-9]+)$/.exec(type)?.[1]?.toLowerCase() ?? 'resource';
    return `arn:aws:${service}:${LOCAL_REGION_NAME}:${LOCAL_ACCOUNT}:${kind}/${name}`;
  }
  return name;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The URL path of an API Gateway resource: its path parts up to the API's root. */
function resourcePath(resources: Record<string, CfnResource>, ref: unknown): string {
  const parts: string[] = [];
  let current = ref;
  for (let depth = 0; depth < 64; depth++) {
    const id = (current as { Ref?: string } | undefined)?.Ref;
    if (id === undefined) break; // Fn::GetAtt RestApi.RootResourceId: the root
    const resource = resources[id];
    if (resource?.Type !== 'AWS::ApiGateway::Resource') break;
    parts.unshift(String(resource.Properties?.PathPart));
    current = resource.Properties?.ParentId;
  }
  return `/${parts.join('/')}`;
}

/** Reads every stack of a cloud assembly and returns the routes the runner serves. */
export function readAssembly(assemblyDir: string, options: ReadAssemblyOptions = {}): LocalApp {
  const dir = resolve(assemblyDir);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new UsageError(`${dir} is not a cloud assembly: no manifest.json (run cdk synth first, or leave out --cdk-out to synthesize the app of ./cdk.json)`);
  const manifest = readJson<Manifest>(manifestPath);
  const routes: LocalRoute[] = [];
  const streams = new Map<string, LocalStream>();
  const secrets = new Map<string, LocalSecret>();
  const stateMachines = new Set<string>();
  const mtlsClients = new Map<string, LocalMtlsClient>();
  const unemulated = new Set<string>();

  for (const [stack, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack' || artifact.properties?.templateFile === undefined) continue;
    const template = readJson<{ Resources?: Record<string, CfnResource> }>(join(dir, artifact.properties.templateFile));
    const resources = template.Resources ?? {};
    const assetFiles = (artifact.dependencies ?? [])
      .map((dep) => manifest.artifacts?.[dep])
      .flatMap((dep) => (dep?.type === 'cdk:asset-manifest' && dep.properties?.file !== undefined ? [dep.properties.file] : []))
      .flatMap((file) => Object.values(readJson<AssetManifest>(join(dir, file)).files ?? {}));
    const names = new LocalNames(stack, resources, options.secretValues ?? {});

    for (const [methodId, method] of Object.entries(resources)) {
      if (method.Type !== 'AWS::ApiGateway::Method' || method.Properties?.HttpMethod !== 'POST') continue;
      const uri = JSON.stringify((method.Properties.Integration as { Uri?: unknown } | undefined)?.Uri ?? '');
      const functionId = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(uri)?.[1];
      const fn = functionId === undefined ? undefined : resources[functionId];
      const variables = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
      if (fn?.Type !== 'AWS::Lambda::Function' || variables?.[CONFIG_ENV_VAR] === undefined) continue;

      const environment = resolveCfn(variables, (id, attribute) => names.resolve(id, attribute)) as Record<string, string>;
      const document = JSON.parse(environment[CONFIG_ENV_VAR]) as { streamName?: unknown; target?: unknown; auth?: { kind?: unknown } };
      const environmentText = JSON.stringify(environment);
      const code = fn.Properties?.Code as { S3Key?: unknown };
      const asset = assetFiles.find((file) => Object.values(file.destinations).some((d) => d.objectKey === code.S3Key));
      if (asset === undefined) throw new Error(`${stack}/${functionId}: its code is not a file asset of the assembly`);
      const path = fn.Metadata?.['aws:cdk:path'];
      routes.push({
        kind: document.target !== undefined ? 'trigger' : 'stream',
        functionId: `${stack}/${functionId}`,
        constructPath: typeof path === 'string' ? path : undefined,
        path: resourcePath(resources, method.Properties.ResourceId),
        restApiId: String((method.Properties.RestApiId as { Ref?: string } | undefined)?.Ref ?? methodId),
        codeDirectory: join(dir, asset.source.path),
        handler: String(fn.Properties?.Handler ?? 'index.handler'),
        environment,
        timeoutSeconds: typeof fn.Properties?.Timeout === 'number' ? fn.Properties.Timeout : 3,
        ...(typeof document.auth?.kind === 'string' ? { authKind: document.auth.kind } : {}),
        secretArns: [...names.secrets.keys()].filter((arn) => environmentText.includes(arn)),
      });
    }
    for (const [name, stream] of names.streams) streams.set(name, stream);
    for (const [arn, secret] of names.secrets) secrets.set(arn, secret);
    for (const arn of names.stateMachines) stateMachines.add(arn);
    for (const [id, client] of names.mtlsClients) mtlsClients.set(id, client);
    for (const type of names.unemulated) unemulated.add(type);
  }
  return {
    routes,
    streams: [...streams.values()],
    secrets: [...secrets.values()],
    stateMachineArns: [...stateMachines],
    mtlsClients: [...mtlsClients.values()],
    unemulated: [...unemulated],
  };
}
