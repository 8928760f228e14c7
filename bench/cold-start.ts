// Suite 3: the cold start of the ingest Lambda: the code it loads, and the time to require it
// (module load: the SDK clients, the config check) against an empty Node process and against the
// least a handler of this design loads (the reference), for a plain HMAC source and for a source
// with every feature on.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import handlerOptionsJson from '../scripts/handler-build-options.json';
import { CONFIG_ENV_VAR } from '../lambda/common/config-document';
import type { IngestConfig } from '../lambda/ingest/config';
import { PayloadSchema, PayloadValidation, WebhookAuth } from '../lib';
import { stageHandlerAsset } from '../lib/payload-schema';
import { ingestConfig } from '../test/support/presets';
import { median } from './measure';
import type { BenchContext, Row, SuiteResult } from './run';

const RUNS = 15;
const SDK_ONLY_ENTRY = `
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';
export const clients = [new Logger(), new Metrics({ namespace: 'x' }), new KinesisClient({ requestHandler: new NodeHttpHandler() }), new SecretsManagerClient({ requestHandler: new NodeHttpHandler() })];
`;
// The Node built-in modules that any handler on the SDK's HTTP handler and hashing loads at init.
const BUILTINS_CODE = "require('node:https'); require('node:crypto'); require('node:stream')";
// Those built-ins and Powertools' Logger and Metrics: what any handler that logs and counts as
// these do loads before it has an AWS client or any code of its own.
// esbuild drops a bare side-effect import of a built-in: the modules are kept by exporting them.
const LEAST_ENTRY = `
import * as https from 'node:https';
import * as crypto from 'node:crypto';
import * as stream from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
export const tools = [https, crypto, stream, new Logger(), new Metrics({ namespace: 'x' })];
`;
const MAX_LOADED_BYTES = 400 * 1024;
const MAX_RATIO = 1.5;

/** scripts/handler-build.mjs, loaded at run time (an ES module without types). */
interface HandlerBuild {
  buildHandler(name: string, outdir: string): Promise<Metafile>;
}

/** The handler options as they were before the credentials alias and the chunks: the SDK as shipped. */
const { alias: _alias, ...stockOptions } = handlerOptionsJson as BuildOptions;

/** Wall time of one `node -e <code>` in ms; throws when it fails. */
function timeNode(code: string, env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`node -e ${code} failed: ${result.stderr}`);
  return ms;
}

/** The files of `dir` that `require(file)` loads, with their sizes. */
function loadedFiles(file: string, env: NodeJS.ProcessEnv): { name: string; bytes: number }[] {
  const code = `require(${JSON.stringify(file)}); console.log(JSON.stringify(Object.keys(require.cache)))`;
  const result = spawnSync(process.execPath, ['-e', code], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`loading ${file} failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as string[]).map((f) => ({ name: basename(f), bytes: statSync(f).size }));
}

/** Output bytes per package, largest first, from esbuild's metafile, over the outputs named. */
function bytesByPackage(metafile: Metafile, outputs: ReadonlySet<string>): [string, number][] {
  const totals = new Map<string, number>();
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (!outputs.has(basename(path))) continue;
    for (const [file, input] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? file.split('/').slice(0, 2).join('/');
      totals.set(name, (totals.get(name) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

interface Variant {
  readonly name: string;
  /** `node -e` code; '' is the empty process. */
  readonly code: string;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * `RUNS` rounds; each runs every variant once, starting at a different one each round, so that
 * drift on a shared machine touches all alike. Returns the times in ms by variant, by round.
 */
function timeRounds(variants: readonly Variant[]): Map<string, number[]> {
  const times = new Map(variants.map((v) => [v.name, [] as number[]]));
  for (const v of variants) timeNode(v.code, v.env); // warm the file cache
  for (let round = 0; round < RUNS; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(round + i) % variants.length];
      times.get(v.name)?.push(timeNode(v.code, v.env));
    }
  }
  return times;
}

/** Median of the per-round ratios a / b, and the two medians. */
function ratio(times: Map<string, number[]>, a: string, b: string): { value: number; aMs: number; bMs: number } {
  const as = times.get(a) ?? [];
  const bs = times.get(b) ?? [];
  return { value: median(as.map((ms, i) => ms / bs[i])), aMs: median(as), bMs: median(bs) };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** A plain Stripe source, and the same with every optional feature of the stream source on. */
function configs(): { plain: IngestConfig; everything: (validation: IngestConfig['payloadValidation']) => IngestConfig } {
  const plain = ingestConfig((s) => WebhookAuth.stripe(s), { source: 'stripe' });
  return {
    plain,
    everything: (payloadValidation) => ({
      ...plain,
      claimCheck: { bucket: 'payloads', prefix: 'stripe/' },
      multipart: { maxParts: 20, maxFields: 10, maxFieldBytes: 64 * 1024, maxFiles: 10, maxFileBytes: 1024 * 1024, maxTotalFileBytes: 5 * 1024 * 1024 },
      dedup: { tableName: 'dedup', ttlSeconds: 86_400, leaseSeconds: 30 },
      backpressure: { kind: 'queueAndSlowAccept', queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/spill', queueWindowMs: 10_000, retryAfterSeconds: 30, maxAttempts: 2, retryBudgetMs: 300 },
      payloadValidation,
    }),
  };
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const assetDir = join(ctx.root, 'assets', 'ingest');
  if (!existsSync(join(assetDir, 'index.js'))) throw new Error(`${assetDir} is missing: run npm run bundle first`);
  const scratch = mkdtempSync(join(tmpdir(), 'cold-start-'));
  try {
    return await measureIn(ctx, assetDir, scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function measureIn(ctx: BenchContext, assetDir: string, scratch: string): Promise<SuiteResult> {
  const assetBytes = readdirSync(assetDir).filter((f) => f.endsWith('.js')).reduce((sum, f) => sum + statSync(join(assetDir, f)).size, 0);

  // Every feature: the asset staged with a compiled schema, as a source with payload validation deploys it.
  const validation = PayloadValidation.strict(PayloadSchema.fromObject({
    type: 'object',
    required: ['id', 'type'],
    properties: { id: { type: 'string' }, type: { type: 'string', minLength: 1 }, created: { type: 'integer' }, at: { type: 'string', format: 'date-time' } },
  }))._bind('bench');
  const stagedDir = stageHandlerAsset(assetDir, validation.files, join(scratch, 'staged'));
  const { plain, everything } = configs();

  // The single-file bundle as it was before (no chunks, the SDK's credential chain), for comparison.
  const beforeDir = join(scratch, 'before');
  await build({ ...stockOptions, entryPoints: [join(ctx.root, 'lambda', 'ingest', 'index.ts')], outfile: join(beforeDir, 'index.js') });
  const beforeStaged = stageHandlerAsset(beforeDir, validation.files, join(scratch, 'staged'));
  // For comparison: esbuild's default mainFields for node (`main` first: the SDK's CommonJS builds).
  const { mainFields: _moduleFirst, supported: _supported, ...mainFirstOptions } = stockOptions;
  const mainFirst = await build({ ...mainFirstOptions, entryPoints: [join(ctx.root, 'lambda', 'ingest', 'index.ts')], write: false, outfile: join(scratch, 'main-first.js') });

  // The least any handler of this design loads: the two clients every source needs (Kinesis,
  // Secrets Manager) and Powertools' Logger and Metrics, nothing of the handler itself, built with
  // the SDK as shipped (its default credential chain).
  const reference = join(scratch, 'reference', 'index.js');
  await build({ ...stockOptions, stdin: { contents: SDK_ONLY_ENTRY, resolveDir: ctx.root, loader: 'ts' }, outfile: reference });
  // The same with the handlers' credentials alias, for attribution.
  const referenceEnvCredentials = join(scratch, 'reference-env', 'index.js');
  await build({ ...(handlerOptionsJson as BuildOptions), absWorkingDir: ctx.root, stdin: { contents: SDK_ONLY_ENTRY, resolveDir: ctx.root, loader: 'ts' }, outfile: referenceEnvCredentials });

  // The least a handler loads: the built-ins and Powertools, no AWS client, none of the handler.
  const least = join(scratch, 'least', 'index.js');
  await build({ ...(handlerOptionsJson as BuildOptions), absWorkingDir: ctx.root, stdin: { contents: LEAST_ENTRY, resolveDir: ctx.root, loader: 'ts' }, outfile: least });

  // The handler validates its configuration at module load, and the SDK clients want a region.
  // NODE_OPTIONS is dropped so that the child is a plain node, as Lambda runs it.
  const { NODE_OPTIONS: _ignored, ...parentEnv } = process.env;
  const envWith = (config: IngestConfig) => ({ ...parentEnv, [CONFIG_ENV_VAR]: JSON.stringify(config), AWS_REGION: 'us-east-1' });
  const plainEnv = envWith(plain);
  const everythingEnv = envWith(everything(validation.config));
  const requireOf = (file: string) => `require(${JSON.stringify(file)})`;
  const variants: Variant[] = [
    { name: 'empty', code: '', env: plainEnv },
    { name: 'plain', code: requireOf(join(assetDir, 'index.js')), env: plainEnv },
    { name: 'everything', code: requireOf(join(stagedDir, 'index.js')), env: everythingEnv },
    { name: 'everything before', code: requireOf(join(beforeStaged, 'index.js')), env: everythingEnv },
    { name: 'plain before', code: requireOf(join(beforeDir, 'index.js')), env: plainEnv },
    { name: 'reference', code: requireOf(reference), env: plainEnv },
    { name: 'reference env', code: requireOf(referenceEnvCredentials), env: plainEnv },
    { name: 'built-ins', code: BUILTINS_CODE, env: plainEnv },
    { name: 'least', code: requireOf(least), env: plainEnv },
  ];
  ctx.log(`  ${RUNS} rounds of ${variants.length} node processes`);
  const times = timeRounds(variants);

  const plainFiles = loadedFiles(join(assetDir, 'index.js'), plainEnv).filter((f) => f.name.endsWith('.js'));
  const everythingFiles = loadedFiles(join(stagedDir, 'index.js'), everythingEnv).filter((f) => existsSync(join(assetDir, f.name)));
  const sum = (files: readonly { bytes: number }[]) => files.reduce((acc, f) => acc + f.bytes, 0);
  const plainBytes = sum(plainFiles);
  const referenceBytes = statSync(reference).size;
  const beforeBytes = statSync(join(beforeDir, 'index.js')).size;

  // Which packages the plain source's bytes come from: the handler built again with
  // scripts/handler-build.mjs, its metafile restricted to the files the plain source loads.
  const handlerBuild = (await import(join(ctx.root, 'scripts', 'handler-build.mjs'))) as HandlerBuild;
  const metafile = await handlerBuild.buildHandler('ingest', join(scratch, 'analysis'));
  const top = bytesByPackage(metafile, new Set(plainFiles.map((f) => f.name))).slice(0, 15);

  const rows: Row[] = [];
  const requireRow = (name: string, a: string, b: string, target?: number): Row => {
    const r = ratio(times, a, b);
    return {
      name,
      value: r.value,
      unit: 'x',
      ...(target === undefined ? {} : { target: `<= ${target.toFixed(2)}x`, pass: r.value <= target }),
      detail: `median ${r.aMs.toFixed(0)} ms vs ${r.bMs.toFixed(0)} ms (+${(r.aMs - r.bMs).toFixed(0)} ms), ${RUNS} interleaved rounds`,
    };
  };
  rows.push(
    {
      name: 'plain Stripe source: code loaded from assets/ingest',
      value: plainBytes / 1024,
      unit: 'KB',
      digits: 1,
      target: `<= ${MAX_LOADED_BYTES / 1024} KB`,
      pass: plainBytes <= MAX_LOADED_BYTES,
      detail: plainFiles.map((f) => `${f.name} ${kb(f.bytes)}`).join(', '),
    },
    {
      name: 'every feature on: code loaded',
      value: sum(everythingFiles) / 1024,
      unit: 'KB',
      digits: 1,
      detail: `claim check, multipart, dedup, spill queue, payload validation (plus the staged schema module); JWT sources load jwt.js (${kb(statSync(join(assetDir, 'jwt.js')).size)}) instead of nothing`,
    },
    { name: 'assets/ingest, every .js file', value: assetBytes / 1024, unit: 'KB', digits: 1, detail: `the single-file bundle before: ${kb(beforeBytes)}` },
    {
      name: 'reference: Kinesis and Secrets Manager clients with Powertools, nothing else',
      value: referenceBytes / 1024,
      unit: 'KB',
      digits: 1,
      detail: `the SDK as shipped (its default credential chain), built otherwise with the handler options; with the handlers' environment credentials: ${kb(statSync(referenceEnvCredentials).size)}`,
    },
    requireRow('plain Stripe source: require / empty node process', 'plain', 'empty', MAX_RATIO),
    requireRow('plain Stripe source: require / reference', 'plain', 'reference', 1),
    requireRow('every feature on: require / empty node process', 'everything', 'empty'),
    requireRow('every feature on: require / reference', 'everything', 'reference'),
    requireRow('every feature on: require / the single-file bundle before', 'everything', 'everything before'),
    requireRow('plain Stripe source: require / the single-file bundle before', 'plain', 'plain before'),
    requireRow('reference: require / empty node process', 'reference', 'empty'),
    requireRow('reference with environment credentials: require / reference', 'reference env', 'reference'),
    requireRow('node:https, node:crypto and node:stream alone: require / empty node process', 'built-ins', 'empty'),
    requireRow('those built-ins with Powertools\' Logger and Metrics, no AWS client, no handler: require / empty node process', 'least', 'empty'),
    {
      name: 'the single-file bundle built CommonJS-first (esbuild\'s default mainFields, not shipped)',
      value: mainFirst.outputFiles[0].contents.length / 1024,
      unit: 'KB',
      digits: 1,
      detail: 'reference: the SDK\'s CommonJS builds, as the bundles were before module-first mainFields',
    },
  );
  const floor = ratio(times, 'built-ins', 'empty').value;
  const leastRatio = ratio(times, 'least', 'empty').value;
  const plainRatio = ratio(times, 'plain', 'empty').value;
  for (const row of rows) {
    if (row.pass === false) {
      Object.assign(row, {
        note: `The built-in modules every SDK handler needs (https with tls and net, crypto, stream) take ${floor.toFixed(2)}x alone, and ${leastRatio.toFixed(2)}x with Powertools' Logger and Metrics: before any AWS client or handler code, ${MAX_RATIO.toFixed(2)}x leaves ${(MAX_RATIO - leastRatio).toFixed(2)}x of an empty process for both. A plain source adds ${(plainRatio - leastRatio).toFixed(2)}x on top of that for compiling and running the SDK core, the Kinesis and Secrets Manager clients and the handler (${kb(plainBytes)} in all with Powertools; see the breakdown under the table). The reference takes ${ratio(times, 'reference', 'empty').value.toFixed(2)}x.`,
      });
    }
  }
  return {
    rows,
    notes: [
      `Bundle: \`npm run bundle\` (scripts/handler-build.mjs: esbuild, minified, node22, \`mainFields: ['module', 'main']\`, the SDK's credential chain replaced by environment credentials; ingest and trigger built as ES modules with code splitting, each file then turned into CommonJS). A plain source loads index.js and the shared chunks it requires; claim check (with busboy), dedup, spill queue, JWT and the schema runtime are chunks of their own, required at module load when the configuration uses them. Require time: wall time of \`node -e "require('<file>')"\`, ${RUNS} rounds in which every variant runs once (the first one rotating), with ${CONFIG_ENV_VAR} set to a valid Stripe source document (every feature: plus claim check, multipart, dedup, queueAndSlowAccept and a strict schema, staged as a deployment stages it) and AWS_REGION set; each ratio is the median of the per-round ratios. "Before" is the handler built as one file with the SDK as shipped, as the assets were before.`,
      `Largest contributors to the code a plain source loads (bytes in esbuild's output before the CommonJS step, by package):\n\n${top.map(([name, n]) => `- ${name}: ${(n / 1024).toFixed(1)} KB`).join('\n')}`,
    ],
    packages: ['esbuild', '@aws-sdk/client-kinesis', '@aws-sdk/client-s3', '@aws-sdk/client-dynamodb', '@aws-sdk/client-sqs', '@aws-sdk/client-secrets-manager', '@aws-lambda-powertools/logger'],
  };
}
