/**
 * The set-up the bundled-handler tests share: kinesalite and the Secrets Manager stand-in on free
 * 127.0.0.1 ports, a bundled asset loaded with a configuration and pointed at them, the test's
 * environment restored after each test, and a synthesized stack read for a function's asset and
 * environment.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { resolveCfn } from '../../cli/local/cfn';
import { LocalSecretsManager } from '../../cli/local/secrets-manager';
import { loadBundledHandler } from './bundle';
import { LocalKinesis } from './kinesalite';

/** A bundled handler's entry point: an API Gateway REST proxy event in, a proxy result out. */
export type BundledHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** The folder of a handler's bundled asset (`npm run bundle`), such as `assets/ingest`. */
export function assetDir(name: 'ingest' | 'trigger'): string {
  return join(__dirname, '..', '..', 'assets', name);
}

/**
 * Loads a bundled handler with `env` over the test's environment, less the variables `unset`
 * names. process.env keeps that environment until the next restore.
 */
export function loadHandler(dir: string, env: Readonly<Record<string, string>>, savedEnv: NodeJS.ProcessEnv, unset: readonly string[] = []): BundledHandler {
  const base = Object.fromEntries(Object.entries(savedEnv).filter(([name]) => !unset.includes(name)));
  return loadBundledHandler<{ handler: BundledHandler }>(dir, env, base).handler;
}

/** Restores the test's environment after each test and after all of them. */
export function restoringEnv(): NodeJS.ProcessEnv {
  const savedEnv = process.env;
  afterEach(() => {
    process.env = savedEnv;
  });
  afterAll(() => {
    process.env = savedEnv;
  });
  return savedEnv;
}

/** The peers of the bundled handlers, started by {@link bundledPeers}. */
export class BundledPeers {
  kinesis!: LocalKinesis;
  secretsManager!: LocalSecretsManager;
  private streams = 0;

  constructor(readonly savedEnv: NodeJS.ProcessEnv) {}

  /** The endpoints that point a handler at these peers. */
  get endpoints(): Record<string, string> {
    return { AWS_ENDPOINT_URL_KINESIS: this.kinesis.endpoint, AWS_ENDPOINT_URL_SECRETS_MANAGER: this.secretsManager.endpoint };
  }

  /** A new stream of one shard, named `<prefix>-<n>`. */
  async newStream(prefix: string, shards = 1): Promise<string> {
    const streamName = `${prefix}-${++this.streams}`;
    await this.kinesis.createStream(streamName, shards);
    return streamName;
  }

  /** Loads a bundled handler pointed at these peers, `env` over the endpoints. */
  load(dir: string, env: Readonly<Record<string, string>>, unset: readonly string[] = []): BundledHandler {
    return loadHandler(dir, { ...this.endpoints, ...env }, this.savedEnv, unset);
  }

  async start(secrets: Readonly<Record<string, string>>): Promise<void> {
    this.kinesis = await LocalKinesis.start();
    this.secretsManager = await LocalSecretsManager.start({ ...secrets });
  }

  async stop(): Promise<void> {
    await this.kinesis?.stop();
    await this.secretsManager?.stop();
  }
}

/**
 * kinesalite and a Secrets Manager holding `secrets` (by ARN), started before the tests of the
 * enclosing block and stopped after them; the test's environment is restored after each test.
 */
export function bundledPeers(secrets: Readonly<Record<string, string>>): BundledPeers {
  const peers = new BundledPeers(restoringEnv());
  beforeAll(() => peers.start(secrets));
  afterAll(() => peers.stop());
  return peers;
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;

/** A stack in a synthesized cloud assembly: its template's resources and its file assets. */
export class SynthesizedStack {
  /** Reads `<artifactId>.template.json` and `<artifactId>.assets.json` from `outdir`. */
  static read(outdir: string, artifactId: string): SynthesizedStack {
    const json = <T>(suffix: string) => JSON.parse(readFileSync(join(outdir, `${artifactId}.${suffix}`), 'utf8')) as T;
    return new SynthesizedStack(outdir, json<{ Resources: Resources }>('template.json').Resources, json<{ files: Record<string, { source: { path: string } }> }>('assets.json').files);
  }

  private constructor(
    private readonly outdir: string,
    readonly resources: Resources,
    private readonly files: Record<string, { source: { path: string } }>,
  ) {}

  /** The logical id of the one resource of `type` whose id starts with `prefix`. */
  logicalId(type: string, prefix: string): string {
    const ids = Object.keys(this.resources).filter((id) => this.resources[id].Type === type && id.startsWith(prefix));
    expect(ids).toHaveLength(1);
    return ids[0];
  }

  /** The properties of the one Lambda function whose logical id starts with `prefix`. */
  functionProperties(prefix: string): Record<string, unknown> {
    return this.resources[this.logicalId('AWS::Lambda::Function', prefix)].Properties;
  }

  /** The staged folder of that function's asset. */
  assetDir(prefix: string): string {
    const assetHash = String((this.functionProperties(prefix).Code as { S3Key: string }).S3Key).replace(/\.zip$/, '');
    return join(this.outdir, this.files[assetHash].source.path);
  }

  /** That function's environment, each reference resolved by `resolve` (logical id to value). */
  environment(prefix: string, resolve: (logicalId: string) => string): Record<string, string> {
    return resolveCfn((this.functionProperties(prefix).Environment as { Variables: Record<string, unknown> }).Variables, resolve) as Record<string, string>;
  }
}
