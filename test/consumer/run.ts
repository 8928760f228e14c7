/**
 * The consumer test (`npm run test:consumer`): the package as a user gets it, in an app of their own.
 *
 * 1. builds (unless --skip-build: CI runs it after `npm test`, which built) and packs the tarball;
 * 2. lays out a fresh app in a temporary folder outside the repository, as `cdk init app
 *    --language typescript` does, and installs the tarball with the peers at this repository's
 *    versions from the npm registry;
 * 3. pastes the README's snippets into its stack, the schema file the README shows beside it, and
 *    the reader's values (`domainName`, `certificateArn`);
 * 4. type-checks it (`tsc --noEmit`) and synthesizes it with the CDK CLI, offline, no AWS account;
 * 5. checks the installed package: LICENSE, each asset's THIRD-PARTY-LICENSES, the CLI's --help;
 * 6. runs the installed CLI: `local` on free ports, `send` a signed Stripe event and a request with
 *    the mTLS client's local certificate, `tail` the Stripe stream, then SIGTERM to the `npx` that
 *    started `local`: it must exit and free its port.
 *
 * Prints each step with its time; exits 1 on the first failure, with the failing command's output.
 * `--keep` keeps the temporary folder (its path is printed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockAfter, freshStack, readReadme, STRIPE_SCHEMA_FILE } from '../support/readme';

const root = join(__dirname, '..', '..');
const args = new Set(process.argv.slice(2));
const skipBuild = args.has('--skip-build');
const keep = args.has('--keep');
const STACK = 'Webhooks';
const started = Date.now();

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

class StepError extends Error {}

/** The environment of every command: no npm_* of the `npm run` that started this (it would point npm at the repository). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value;
  }
  return {
    ...env,
    CDK_DISABLE_VERSION_CHECK: '1',
    CDK_DISABLE_CLI_TELEMETRY: '1',
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    // No AWS account: a region, and no instance metadata lookups for credentials.
    AWS_REGION: 'eu-west-1',
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

interface Result { readonly stdout: string; readonly stderr: string }

/** Runs a command; throws with its exit status and output unless it exits 0. */
function run(command: string, argv: readonly string[], cwd: string, options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Result> {
  const shown = [command, ...argv].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', (error) => { clearTimeout(timer); reject(new StepError(`${shown}: ${error.message}`)); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new StepError(`${shown} (in ${cwd}) ${signal === null ? `exited ${code}` : `was killed (${signal})`}\n--- stderr\n${stderr.trimEnd()}\n--- stdout\n${stdout.trimEnd().split('\n').slice(-40).join('\n')}`));
    });
  });
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new StepError(message);
}

let stepNumber = 0;
async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  stepNumber += 1;
  const at = Date.now();
  process.stdout.write(`[${seconds(at - started).padStart(7)}] ${stepNumber}. ${name} ...`);
  try {
    const value = await body();
    process.stdout.write(` ok (${seconds(Date.now() - at)})\n`);
    return value;
  } catch (error) {
    process.stdout.write(` FAILED (${seconds(Date.now() - at)})\n`);
    throw error;
  }
}

/** The version of a dev dependency of this repository, exactly (the peers the app installs). */
function repoVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const version = pkg.devDependencies[name];
  check(version !== undefined, `package.json has no devDependency ${name}`);
  return version;
}

/** The app a user has after `cdk init app --language typescript` (the parts that matter here), with the README's stack. */
function writeApp(dir: string, readme: string): void {
  const write = (file: string, text: string) => {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  };
  write('package.json', `${JSON.stringify({
    name: 'webhooks',
    version: '0.1.0',
    private: true,
    bin: { webhooks: 'bin/webhooks.js' },
    scripts: { build: 'tsc', cdk: 'cdk' },
    dependencies: { 'aws-cdk-lib': repoVersion('aws-cdk-lib'), constructs: repoVersion('constructs') },
    devDependencies: {
      '@types/node': repoVersion('@types/node'),
      'aws-cdk': repoVersion('aws-cdk'),
      tsx: repoVersion('tsx'),
      typescript: repoVersion('typescript'),
    },
  }, null, 2)}\n`);
  write('tsconfig.json', `${JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['es2022'],
      declaration: true,
      strict: true,
      noImplicitAny: true,
      strictNullChecks: true,
      noImplicitThis: true,
      alwaysStrict: true,
      noImplicitReturns: true,
      inlineSourceMap: true,
      inlineSources: true,
      experimentalDecorators: true,
      strictPropertyInitialization: false,
      skipLibCheck: true,
      typeRoots: ['./node_modules/@types'],
      noEmit: true,
      isolatedModules: true,
      types: ['node'],
    },
    exclude: ['node_modules', 'cdk.out'],
  }, null, 2)}\n`);
  write('cdk.json', `${JSON.stringify({
    app: 'npx tsx bin/webhooks.ts',
    // Offline: no notices, no version reporting. Template findings are errors.
    notices: false,
    versionReporting: false,
    context: { '@aws-cdk/core:strictCfnValidateErrors': true },
  }, null, 2)}\n`);
  write('bin/webhooks.ts', [
    '#!/usr/bin/env node',
    "import * as cdk from 'aws-cdk-lib';",
    "import { WebhooksStack } from '../lib/webhooks-stack';",
    '',
    'const app = new cdk.App();',
    `new WebhooksStack(app, '${STACK}', {});`,
    '',
  ].join('\n'));
  // The README's stack, every snippet pasted in order, with the reader's domainName and certificateArn.
  write('lib/webhooks-stack.ts', freshStack(readme));
  // The schema the Stripe snippet pins, beside the stack's source file, as the README shows it.
  write(`lib/schemas/${STRIPE_SCHEMA_FILE}`, blockAfter(readme, `schema:${STRIPE_SCHEMA_FILE}`));
}

/** Resolves when the port accepts no connection. */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(true));
  });
}

interface Local {
  readonly child: ChildProcess;
  readonly url: string;
  readonly kinesis: string;
  readonly lines: string[];
  readonly stderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `npx cdk-webhook-ingress local` in the app; resolves once it prints where it serves. */
function startLocal(app: string): Promise<Local> {
  const argv = ['cdk-webhook-ingress', 'local', '--cdk-out', 'cdk.out', '--port', '0', '--kinesis-port', '0',
    '--secrets-file', 'local-secrets.json', '--client-certs', 'local-certs'];
  // Its own process group, so that a runner left behind can be cleaned up; the test signals only npx.
  const child = spawn('npx', argv, { cwd: app, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new StepError(`npx ${argv.join(' ')} ${why}\n--- stderr\n${stderr.join('').trimEnd()}\n--- stdout\n${lines.join('\n')}`));
    const timer = setTimeout(() => fail('printed no "serving on" line within 60 s'), 60_000);
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      lines.push(...parts);
      const url = lines.map((l) => /serving on (http:\/\/\S+)/.exec(l)?.[1]).find((u) => u !== undefined);
      const kinesis = lines.map((l) => /^\s*kinesis: (http:\/\/\S+)/.exec(l)?.[1]).find((u) => u !== undefined);
      if (url !== undefined && kinesis !== undefined) {
        clearTimeout(timer);
        resolve({ child, url, kinesis, lines, stderr, exited });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => { stderr.push(chunk.toString()); });
    void exited.then(({ code, signal }) => { clearTimeout(timer); fail(`exited early (${signal ?? code})`); });
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'cdk-webhook-ingress-consumer-'));
  const app = join(work, 'webhooks');
  let local: Local | undefined;
  console.log(`consumer test in ${work}`);
  try {
    const readme = readReadme(root);

    await step(skipBuild ? 'reuse the build (--skip-build)' : 'build (npm run build)', async () => {
      if (!skipBuild) await run('npm', ['run', 'build'], root);
      for (const file of ['lib/index.js', '.jsii', 'API.md', 'assets/cli/index.js']) {
        check(existsSync(join(root, file)), `${file} is missing: run 'npm run build' first, or drop --skip-build`);
      }
    });

    const tarball = await step('pack the tarball (npm pack)', async () => {
      const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], root);
      const [pack] = JSON.parse(stdout) as { filename: string; size: number; entryCount: number }[];
      process.stdout.write(` ${pack.filename}: ${(pack.size / 1024).toFixed(0)} KiB, ${pack.entryCount} files;`);
      return join(work, pack.filename);
    });

    await step('lay out a fresh app outside the repository, with the README\'s stack and schema', async () => {
      mkdirSync(app);
      writeApp(app, readme);
    });

    await step('install the tarball and the peers (npm install)', async () => {
      await run('npm', ['install', '--no-audit', '--no-fund', tarball], app, { timeoutMs: 600_000 });
      const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'cdk-webhook-ingress', 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(` cdk-webhook-ingress@${installed.version};`);
      // `cdk init` puts the CLI's recommended feature flags in cdk.json's context: so does this app.
      const flags = JSON.parse(readFileSync(join(app, 'node_modules', 'aws-cdk', 'lib', 'init-templates', '.recommended-feature-flags.json'), 'utf8')) as Record<string, unknown>;
      const cdkJson = JSON.parse(readFileSync(join(app, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
      writeFileSync(join(app, 'cdk.json'), `${JSON.stringify({ ...cdkJson, context: { ...flags, ...cdkJson.context } }, null, 2)}\n`);
      process.stdout.write(` ${Object.keys(flags).length} recommended feature flags in cdk.json;`);
    });

    await step('the installed package has LICENSE and every asset\'s THIRD-PARTY-LICENSES', async () => {
      const pkg = join(app, 'node_modules', 'cdk-webhook-ingress');
      check(existsSync(join(pkg, 'LICENSE')), `no LICENSE in ${pkg}`);
      check(readFileSync(join(pkg, 'LICENSE'), 'utf8').includes('Apache License'), `${pkg}/LICENSE is not the Apache License`);
      const assets = readdirSync(join(pkg, 'assets')).filter((name) => statSync(join(pkg, 'assets', name)).isDirectory());
      check(assets.includes('ingest') && assets.includes('cli'), `assets/ holds ${assets.join(', ')}`);
      const missing = assets.filter((name) => !existsSync(join(pkg, 'assets', name, 'THIRD-PARTY-LICENSES')));
      check(missing.length === 0, `no THIRD-PARTY-LICENSES in assets/${missing.join(', assets/')}`);
    });

    await step('the installed CLI: --help, sign --help and --version exit 0', async () => {
      const help = await run('npx', ['cdk-webhook-ingress', '--help'], app);
      check(/Usage: cdk-webhook-ingress/.test(help.stdout), `--help printed:\n${help.stdout}`);
      const sign = await run('npx', ['cdk-webhook-ingress', 'sign', '--help'], app);
      check(/--scheme/.test(sign.stdout), `sign --help printed:\n${sign.stdout}`);
      const version = await run('npx', ['cdk-webhook-ingress', '--version'], app);
      const { version: expected } = JSON.parse(readFileSync(join(app, 'node_modules', 'cdk-webhook-ingress', 'package.json'), 'utf8')) as { version: string };
      check(version.stdout.includes(expected), `--version printed '${version.stdout.trim()}', not ${expected}`);
    });

    await step('type-check the app (npx tsc --noEmit)', async () => {
      await run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'], app);
    });

    await step('synthesize with the CDK CLI (npx cdk synth, offline)', async () => {
      await run('npx', ['cdk', 'synth', '--no-notices', '--quiet'], app);
      const template = JSON.parse(readFileSync(join(app, 'cdk.out', `${STACK}.template.json`), 'utf8')) as { Outputs?: Record<string, unknown> };
      const outputs = Object.keys(template.Outputs ?? {});
      for (const output of ['StripeWebhookUrl', 'GitHubWebhookUrl', 'OrdersWebhookUrl', 'ExportTriggerUrl', 'InventoryWebhookUrl']) {
        check(outputs.includes(output), `the synthesized template has no output ${output}; it has ${outputs.join(', ')}`);
      }
    });

    local = await step('start the installed CLI\'s local runner (npx cdk-webhook-ingress local, free ports)', async () => {
      // The README's "Run it locally": a local value for the Stripe signing secret, by construct path.
      writeFileSync(join(app, 'local-secrets.json'), JSON.stringify({ [`${STACK}/StripeSigningSecret`]: 'whsec_local_test' }));
      const started = await startLocal(app);
      process.stdout.write(` ${started.url}, kinesis ${started.kinesis};`);
      return started;
    });

    const stream = local.lines.map((l) => /POST \/stripe\s+stream\s+-> stream (\S+)/.exec(l)?.[1]).find((s) => s !== undefined);
    check(stream !== undefined, `local printed no stream for /stripe:\n${local.lines.join('\n')}`);

    await step('send a signed Stripe event (npx cdk-webhook-ingress send)', async () => {
      writeFileSync(join(app, 'event.json'), '{"id":"evt_1","object":"event","type":"invoice.paid","created":1767225600,"data":{"object":{"id":"in_1"}}}');
      const { stdout } = await run('npx', ['cdk-webhook-ingress', 'send', `${local!.url}/stripe`, '--scheme', 'stripe', '--secret-env', 'STRIPE_SECRET', '--body', 'event.json'],
        app, { env: { STRIPE_SECRET: 'whsec_local_test' } });
      check(/"accepted":1\b/.test(stdout) && stdout.includes('evt_1'), `send printed:\n${stdout}`);
    });

    await step('tail the Stripe stream (npx cdk-webhook-ingress tail)', async () => {
      const { stdout } = await run('npx', ['cdk-webhook-ingress', 'tail', stream, '--endpoint', local!.kinesis, '--from-start', '--limit', '1'], app, { timeoutMs: 60_000 });
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      check(line !== undefined, `tail printed no record:\n${stdout}`);
      // One line per record: where it is, and the envelope the handler wrote, parsed.
      const record = JSON.parse(line) as { partitionKey?: string; data?: { id?: string; type?: string; source?: string; payload?: { data?: { object?: { id?: string } } } } };
      const envelope = record.data;
      check(record.partitionKey === 'evt_1' && envelope?.id === 'evt_1' && envelope.type === 'invoice.paid' && envelope.source === 'Stripe'
        && envelope.payload?.data?.object?.id === 'in_1', `tail printed an unexpected record:\n${line}`);
    });

    await step('send to the mTLS source with the local client certificate', async () => {
      const certificate = local!.lines.map((l) => /send --client-cert (\S+)/.exec(l)?.[1]).find((c) => c !== undefined);
      check(certificate !== undefined, `local printed no client certificate:\n${local!.lines.join('\n')}`);
      writeFileSync(join(app, 'stock.json'), '{"sku":"A-1","count":3}');
      const { stdout } = await run('npx', ['cdk-webhook-ingress', 'send', `${local!.url}/inventory`, '--body', 'stock.json', '--client-cert', certificate], app);
      check(/"accepted":1\b/.test(stdout), `send printed:\n${stdout}`);
    });

    await step('SIGTERM to the npx running local: it exits and frees its port', async () => {
      const running = local!;
      running.child.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
      const outcome = await Promise.race([running.exited, timeout]);
      check(outcome !== 'timeout', 'npx cdk-webhook-ingress local was still running 15 s after SIGTERM');
      local = undefined;
      check(outcome.code === 0 || outcome.signal === 'SIGTERM', `local exited ${outcome.signal ?? outcome.code}\n--- stderr\n${running.stderr.join('')}`);
      // The runner itself (npx's child) must be gone too: its port refuses connections.
      let free = false;
      for (let i = 0; i < 20 && !free; i++) {
        free = await refused(running.url) && await refused(running.kinesis);
        if (!free) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      check(free, `${running.url} or ${running.kinesis} still accepts connections after local exited`);
    });

    console.log(`consumer test passed in ${seconds(Date.now() - started)}`);
  } finally {
    if (local !== undefined) {
      // A failed step left it running: stop the whole group it started.
      try { process.kill(-local.child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }
    if (keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`\nconsumer test failed after ${seconds(Date.now() - started)}:\n${error instanceof StepError ? error.message : (error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
});
