/**
 * `npm run bench`: runs every benchmark suite, prints each table, and writes bench/RESULTS.md.
 * Not part of `npm test` or CI: timings on shared machines are noise, so only ratios measured in
 * the same run are reported, and the targets are checked on those.
 *
 * ## Adding a suite
 *
 * A suite is a module in bench/ that exports
 *
 *     export async function run(ctx: BenchContext): Promise<SuiteResult>
 *
 * and has one entry in SUITES below (id, title, and the module, imported at the top). `SuiteResult.rows` are the
 * table rows, each `{ name, value, unit, target?, pass?, detail?, note? }`:
 * - `value` with `unit` is the figure (`1.04` with `x floor`, `812` with `KB`, ...);
 * - `target` is the target in words (`<= 1.10x`), and `pass` whether it was met; a row
 *   without a target is informational;
 * - `note` says why a target was missed; it is repeated under "Missed targets".
 * `SuiteResult.notes` are paragraphs printed under the table (method, caveats), and `versions`
 * names the packages the suite measured, for the report's version table.
 *
 * `tsx bench/run.ts <id> ...` runs only the named suites and prints them without writing
 * RESULTS.md, which always holds a full run.
 */
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import * as batchScaling from './batch-scaling';
import * as coldStart from './cold-start';
import * as ingestPath from './ingest-path';
import * as local from './local';
import * as verifyParse from './verify-parse';

export interface BenchContext {
  /** The repository root. */
  readonly root: string;
  /** Progress lines go to stderr, so that stdout holds the tables. */
  log(message: string): void;
}

export interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Digits after the point when printing `value`. */
  readonly digits?: number;
  readonly target?: string;
  readonly pass?: boolean;
  /** Supporting figures (absolute times, sizes), printed beside the value. */
  readonly detail?: string;
  /** Why a target was missed. */
  readonly note?: string;
}

export interface SuiteResult {
  readonly rows: readonly Row[];
  readonly notes?: readonly string[];
  /** Package names whose installed versions the report lists. */
  readonly packages?: readonly string[];
}

interface Suite {
  readonly id: string;
  readonly title: string;
  readonly module: { run(ctx: BenchContext): Promise<SuiteResult> };
}

const SUITES: readonly Suite[] = [
  { id: 'verify', title: '1. Verify and parse, per scheme', module: verifyParse },
  { id: 'ingest', title: '2. Ingest hot path', module: ingestPath },
  { id: 'cold-start', title: '3. Cold start', module: coldStart },
  { id: 'batch', title: '4. Batch scaling', module: batchScaling },
  { id: 'local', title: '5. Local end to end', module: local },
];

const root = join(__dirname, '..');

function installedVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function machine(): string[] {
  const cpu = cpus();
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return [
    `| | |`,
    `|---|---|`,
    `| CPU | ${cpu[0]?.model.trim() ?? 'unknown'} |`,
    `| cores | ${cpu.length} |`,
    `| memory | ${(totalmem() / 2 ** 30).toFixed(1)} GiB |`,
    `| OS | ${platform()} ${release()} |`,
    `| Node.js | ${process.version} |`,
    `| commit | ${commit} (plus uncommitted changes, if any) |`,
  ];
}

function formatRow(row: Row): string {
  const value = `${row.value.toFixed(row.digits ?? 2)} ${row.unit}`;
  const result = row.pass === undefined ? '' : row.pass ? 'pass' : '**MISSED**';
  return `| ${row.name} | ${value} | ${row.target ?? ''} | ${result} | ${row.detail ?? ''} |`;
}

function section(title: string, result: SuiteResult): string[] {
  return [
    `## ${title}`,
    '',
    '| measurement | value | target | result | detail |',
    '|---|---|---|---|---|',
    ...result.rows.map(formatRow),
    '',
    ...(result.notes ?? []).flatMap((note) => [note, '']),
  ];
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((id) => !SUITES.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown suite(s) ${unknown.join(', ')}; known: ${SUITES.map((s) => s.id).join(', ')}`);
  const suites = wanted.length === 0 ? SUITES : SUITES.filter((s) => wanted.includes(s.id));
  const ctx: BenchContext = { root, log: (message) => process.stderr.write(`${message}\n`) };
  const started = Date.now();

  const sections: string[] = [];
  /** Missed rows, grouped by their reason so that each reason is written once. */
  const missed = new Map<string, string[]>();
  const packages = new Set<string>();
  for (const suite of suites) {
    ctx.log(`# ${suite.title}`);
    const suiteStart = Date.now();
    const result = await suite.module.run(ctx);
    const lines = section(suite.title, result);
    process.stdout.write(`${lines.join('\n')}\n`);
    ctx.log(`  (${((Date.now() - suiteStart) / 1000).toFixed(0)} s)`);
    sections.push(...lines);
    for (const row of result.rows.filter((r) => r.pass === false)) {
      const key = `${suite.title}\n${row.note ?? 'No reason given.'}`;
      missed.set(key, [...(missed.get(key) ?? []), `${row.name} (${row.value.toFixed(row.digits ?? 2)} ${row.unit}, target ${row.target})`]);
    }
    for (const name of result.packages ?? []) packages.add(name);
  }
  const seconds = (Date.now() - started) / 1000;
  ctx.log(`all suites: ${seconds.toFixed(0)} s`);
  if (wanted.length > 0) return;

  const command = process.env.npm_lifecycle_event === 'bench' ? `npm run bench (${process.env.npm_lifecycle_script})` : `tsx bench/run.ts`;
  const report = [
    '# Benchmarks',
    '',
    `Written by \`${command}\` on ${new Date(started).toISOString()}, in ${seconds.toFixed(0)} s. Do not edit by hand; run it again.`,
    '',
    'Shared machines are noisy, so absolute times are given only for orientation. Each figure that a',
    'target applies to is a ratio against a floor measured in the same run: the candidates are timed',
    'interleaved, round by round, and the ratio is the median of the per-round ratios.',
    '',
    '## Machine',
    '',
    ...machine(),
    '',
    '## Package versions',
    '',
    '| package | version |',
    '|---|---|',
    `| cdk-webhook-ingress | ${installedVersionOfRoot()} |`,
    ...[...packages].sort().map((name) => `| ${name} | ${installedVersion(name)} |`),
    '',
    '## Missed targets',
    '',
    ...(missed.size === 0 ? ['None.'] : [...missed].map(([key, rows]) => {
      const [title, reason] = key.split('\n');
      return `- **${title}**: ${rows.join('; ')}.\n  Why: ${reason}`;
    })),
    '',
    ...sections,
    '',
  ];
  writeFileSync(join(root, 'bench', 'RESULTS.md'), report.join('\n'));
  ctx.log('wrote bench/RESULTS.md');
}

function installedVersionOfRoot(): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
