/**
 * Reads a synthesized cloud assembly (`cdk.out`) and finds what the local runner serves: every
 * API Gateway POST method whose integration is a WebhookStreamSource's or WebhookTrigger's
 * function, with that function's bundled code and its configuration document.
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CONFIG_ENV_VAR } from '../../lambda/shared/config';
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

export interface LocalApp {
  readonly routes: readonly LocalRoute[];
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

/**
 * Synthesizes the CDK app of a folder with a cdk.json, the way the CDK CLI does (it runs the
 * `app` command with CDK_OUTDIR and the context), into a new temporary folder.
 *
 * @returns the cloud assembly folder
 */
export function synthesize(projectDir: string): string {
  const cdkJsonPath = join(projectDir, 'cdk.json');
  if (!existsSync(cdkJsonPath)) throw new Error(`no cdk.json in ${projectDir}: pass --cdk-out <dir> to read a synthesized app`);
  const cdkJson = JSON.parse(readFileSync(cdkJsonPath, 'utf8')) as { app?: string; context?: Record<string, unknown> };
  if (typeof cdkJson.app !== 'string') throw new Error(`${cdkJsonPath} has no "app" command`);
  const contextFile = join(projectDir, 'cdk.context.json');
  const context = {
    // As the CDK CLI does: construct paths in the template, which name secrets and functions.
    'aws:cdk:enable-path-metadata': true,
    ...(existsSync(contextFile) ? JSON.parse(readFileSync(contextFile, 'utf8')) as Record<string, unknown> : {}),
    ...cdkJson.context,
  };
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-webhook-ingress-local-'));
  try {
    execSync(cdkJson.app, {
      cwd: projectDir,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_DISABLE_VERSION_CHECK: '1' },
    });
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

/** The local stand-in each kind of referenced resource resolves to. */
class LocalNames {
  readonly streams = new Map<string, LocalStream>();
  readonly secrets = new Map<string, LocalSecret>();
  readonly stateMachines = new Set<string>();
  readonly unemulated = new Set<string>();

  constructor(private readonly stack: string, private readonly resources: Record<string, CfnResource>) {}

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
        const arn = `arn:aws:secretsmanager:${LOCAL_REGION_NAME}:${LOCAL_ACCOUNT}:secret:${logicalId}-local`;
        // The construct path is stable across refactors that keep the tree: `App/Stack/Secret`.
        const path = resource.Metadata?.['aws:cdk:path'];
        const paths = typeof path === 'string' ? [path.replace(/\/Resource$/, ''), path] : [];
        this.secrets.set(arn, { arn, keys: [logicalId, ...new Set(paths)] });
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
      default:
        this.unemulated.add(type);
        return `local-${logicalId}`;
    }
  }
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
export function readAssembly(assemblyDir: string): LocalApp {
  const dir = resolve(assemblyDir);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${dir} is not a cloud assembly: no manifest.json`);
  const manifest = readJson<Manifest>(manifestPath);
  const routes: LocalRoute[] = [];
  const streams = new Map<string, LocalStream>();
  const secrets = new Map<string, LocalSecret>();
  const stateMachines = new Set<string>();
  const unemulated = new Set<string>();

  for (const [stack, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack' || artifact.properties?.templateFile === undefined) continue;
    const template = readJson<{ Resources?: Record<string, CfnResource> }>(join(dir, artifact.properties.templateFile));
    const resources = template.Resources ?? {};
    const assetFiles = (artifact.dependencies ?? [])
      .map((dep) => manifest.artifacts?.[dep])
      .flatMap((dep) => (dep?.type === 'cdk:asset-manifest' && dep.properties?.file !== undefined ? [dep.properties.file] : []))
      .flatMap((file) => Object.values(readJson<AssetManifest>(join(dir, file)).files ?? {}));
    const names = new LocalNames(stack, resources);

    for (const [methodId, method] of Object.entries(resources)) {
      if (method.Type !== 'AWS::ApiGateway::Method' || method.Properties?.HttpMethod !== 'POST') continue;
      const uri = JSON.stringify((method.Properties.Integration as { Uri?: unknown } | undefined)?.Uri ?? '');
      const functionId = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(uri)?.[1];
      const fn = functionId === undefined ? undefined : resources[functionId];
      const variables = (fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
      if (fn?.Type !== 'AWS::Lambda::Function' || variables?.[CONFIG_ENV_VAR] === undefined) continue;

      const environment = resolveCfn(variables, (id, attribute) => names.resolve(id, attribute)) as Record<string, string>;
      const document = JSON.parse(environment[CONFIG_ENV_VAR]) as { streamName?: unknown; target?: unknown };
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
      });
    }
    for (const [name, stream] of names.streams) streams.set(name, stream);
    for (const [arn, secret] of names.secrets) secrets.set(arn, secret);
    for (const arn of names.stateMachines) stateMachines.add(arn);
    for (const type of names.unemulated) unemulated.add(type);
  }
  return { routes, streams: [...streams.values()], secrets: [...secrets.values()], stateMachineArns: [...stateMachines], unemulated: [...unemulated] };
}
