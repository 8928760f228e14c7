/**
 * The mutation fuzzer: `npm run fuzz` (not part of `npm test`; a 5,000-mutation slice is, see
 * ./fuzz.test.ts).
 *
 *   npm run fuzz                                   100,000 mutations, a random seed (printed)
 *   npm run fuzz -- --seed 42 --count 20000        a given seed and number of mutations
 *   npm run fuzz -- --seed 42 --case 1234          one case alone, with its event and answer
 *   npm run fuzz -- --scheme twilio-form,stripe    only these schemes' cases (the same ones as in a whole run)
 *   npm run fuzz -- --all-examples                 every finding, not only the first for each scheme
 *   npm run fuzz -- --workers 1                    worker threads, each with its own handlers and peers (default 2)
 *   npm run fuzz -- --concurrency 4                requests in flight per worker (default 8)
 *
 * It builds validly signed requests for every scheme the library has (Stripe, GitHub, Segment,
 * Shopify, Slack, Twilio form and JSON, Standard Webhooks HMAC and Ed25519, the Planasonix trigger
 * scheme, a generic HMAC, a bearer token, a JWT against a local JWKS, an mTLS identity), mutates
 * them (./mutations), sends them as API Gateway REST proxy events to the bundled handlers
 * (assets/ingest and assets/trigger, run `npm run bundle` first; the npm script does) with
 * kinesalite, a Secrets Manager and a Step Functions stand-in and a JWKS server on 127.0.0.1,
 * and judges each answer with the oracle written down in ./oracle.ts.
 *
 * It prints, per scheme and in total, the mutations run, the 2xx answers, and the findings, each
 * of which must be 0: forgeries accepted, 5xx answers, crashes, duplicate JSON keys accepted,
 * ambiguous headers accepted, methods other than POST accepted, reused idempotency keys
 * accepted, records that do not match the answer, secrets in logs or answers; then one example
 * of each finding per scheme. The exit code is 1 when any finding is not 0.
 *
 * The same seed replays the same mutations (timestamps and tokens follow the clock).
 */
import { randomInt } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { TEST_CREDENTIALS, TEST_REGION } from '../support/kinesalite';
import { formatReport, mergeReports, nonZeroFindings, runFuzz, type FuzzReport } from './harness';

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function integer(name: string, fallback: number | undefined): number | undefined {
  const raw = argument(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`--${name} must be a whole number, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return value;
}

const baseEnv = { ...process.env };

/** A fresh copy of a bundle, loaded with its own environment, as Lambda starts one. */
function loadBundle(dir: string, env: Readonly<Record<string, string>>): unknown {
  process.env = {
    ...baseEnv,
    AWS_REGION: TEST_REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    ...env,
  };
  const file = join(dir, 'index.js');
  const load = createRequire(file);
  delete load.cache[load.resolve(file)];
  return load(file);
}

interface WorkerInput {
  readonly seed: number;
  readonly count: number;
  readonly concurrency: number;
  readonly schemes?: readonly string[];
  readonly allExamples: boolean;
  readonly shard: { readonly index: number; readonly count: number };
}

/** One worker's share of the cases, in a thread of its own (tsx compiles this file there too). */
function runWorker(input: WorkerInput): Promise<FuzzReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(__filename)});`, { eval: true, workerData: input });
    worker.once('message', (report: FuzzReport) => resolve(report));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker ${input.shard.index + 1} exited with ${code} before it reported`)));
  });
}

async function main(): Promise<void> {
  const seed = integer('seed', randomInt(0, 2 ** 31)) as number;
  const count = integer('count', 100_000) as number;
  const onlyCase = integer('case', undefined);
  const concurrency = integer('concurrency', 8) as number;
  const workers = Math.max(1, integer('workers', 2) as number);
  const schemes = argument('scheme')?.split(',').map((s) => s.trim());
  const allExamples = process.argv.includes('--all-examples');
  process.stdout.write(`fuzz: seed ${seed}, ${onlyCase === undefined ? `${count} mutations, ${workers} worker(s)` : `case ${onlyCase} alone`} (replay: npm run fuzz -- --seed ${seed} --count ${count})\n`);
  const started = Date.now();
  const report = onlyCase !== undefined || workers === 1
    ? await runFuzz({ seed, count, onlyCase, schemes, allExamples, load: loadBundle, concurrency, progress: onlyCase === undefined, trace: onlyCase !== undefined })
    : mergeReports(await Promise.all(Array.from({ length: workers }, (_, index) => runWorker({ seed, count, concurrency, schemes, allExamples, shard: { index, count: workers } }))), allExamples);
  process.stdout.write(`\n${formatReport(report)}\n`);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`${report.total.mutations} mutations and ${report.total.controls} controls in ${seconds.toFixed(1)} s (${(report.cases / seconds).toFixed(0)} requests/s), seed ${seed}\n`);
  const findings = nonZeroFindings(report);
  if (findings.length > 0) {
    process.stdout.write(`FAIL: ${findings.join(', ')} (each must be 0)\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write('PASS: no forgery accepted, no 5xx, no crash, no other finding\n');
  }
}

if (isMainThread) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  });
} else {
  const input = workerData as WorkerInput;
  runFuzz({ ...input, load: loadBundle, progress: true })
    .then((report) => parentPort?.postMessage(report))
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(2);
    });
}
