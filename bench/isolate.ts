// One measurement of a suite in a Node process of its own. A Lambda container runs one source's
// configuration, so its code sees one scheme: measured one after another in one process, rows
// depended on their order (the JIT's state and the heap carry over from row to row; the first
// ingest row measured ran about 1.2x slower against its floor than the same row measured later).
import { spawnSync } from 'node:child_process';
import type { BenchContext, Row } from './run';

const ROW_ENV = 'BENCH_ISOLATED_ROW';

/**
 * Runs the suite module `file` as a script that measures `row` alone (see isolatedRow), in
 * `processes` processes one after another, and returns the rows of the process whose first row
 * (the one with the target) has the median value: each process is one draw of the JIT's and the
 * allocator's luck, which moved a floor by up to 15 % from one process to the next. Progress
 * lines are passed on to this process's stderr.
 */
export function measureIsolated(ctx: BenchContext, file: string, row: object, processes = 1): Row[] {
  const runs = Array.from({ length: processes }, () => measureOnce(ctx, file, row));
  if (runs.length === 1) return runs[0];
  const byFirst = [...runs].sort((a, b) => a[0].value - b[0].value);
  const [first, ...rest] = byFirst[byFirst.length >> 1];
  const values = runs.map((r) => r[0].value.toFixed(2)).join(', ');
  return [{ ...first, detail: `${first.detail ?? ''}; median of ${runs.length} processes (${values})` }, ...rest];
}

function measureOnce(ctx: BenchContext, file: string, row: object): Row[] {
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], {
    cwd: ctx.root,
    env: { ...env, [ROW_ENV]: JSON.stringify(row) },
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  process.stderr.write(result.stderr);
  if (result.status !== 0) throw new Error(`${JSON.stringify(row)}: the measuring process failed (status ${result.status})`);
  return JSON.parse(result.stdout) as Row[];
}

/**
 * In a process measureIsolated started: measures the row it names with `measure` and writes the
 * rows to stdout. Call it from the suite module's `require.main === module` branch.
 */
export function isolatedRow<T>(measure: (row: T, ctx: BenchContext) => Promise<Row[]>): void {
  const wanted = process.env[ROW_ENV];
  if (wanted === undefined) throw new Error(`${ROW_ENV} is not set: run the suite through bench/run.ts`);
  const ctx: BenchContext = { root: process.cwd(), log: (message) => process.stderr.write(`${message}\n`) };
  measure(JSON.parse(wanted) as T, ctx).then((rows) => process.stdout.write(JSON.stringify(rows)), (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
