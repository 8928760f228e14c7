// A tiny measurement loop. The machines are shared and noisy, so nothing here is an absolute
// speed: every candidate is timed in the same run as a floor, interleaved round by round, and the
// figures reported are medians of per-round samples.

/** One piece of work to time. `fn` is called once per operation; an async one is awaited. */
export interface Candidate {
  readonly name: string;
  readonly fn: () => unknown;
  readonly async?: boolean;
}

export interface MeasureOptions {
  /** Rounds; each round times every candidate once, in a rotating order. */
  readonly rounds: number;
  /** The wall time one sample of one candidate should take. */
  readonly sampleMs: number;
  /** Warm-up time per candidate before any sample counts (JIT, caches, GC heuristics). */
  readonly warmupMs: number;
}

export interface Measured {
  readonly name: string;
  /** Median nanoseconds per operation over the rounds. */
  readonly nsPerOp: number;
  /** Median operations per second (from the median time). */
  readonly opsPerSec: number;
  /** Median over the rounds of (this candidate's time / the first candidate's time in that round). */
  readonly ratio: number;
  /** Nanoseconds per operation, one sample per round. */
  readonly samples: readonly number[];
}

/** Keeps results reachable so that no optimizer can drop the work that produced them. */
export let sink: unknown;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nanoseconds per operation over `iterations` calls. */
async function sample(candidate: Candidate, iterations: number): Promise<number> {
  const { fn } = candidate;
  let last: unknown;
  const start = process.hrtime.bigint();
  if (candidate.async) {
    for (let i = 0; i < iterations; i++) last = await fn();
  } else {
    for (let i = 0; i < iterations; i++) last = fn();
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  sink = last;
  return elapsed / iterations;
}

/** Runs the candidate for about `ms`, and returns the iterations that take about `sampleMs`. */
async function warmUp(candidate: Candidate, ms: number, sampleMs: number): Promise<number> {
  let iterations = 1;
  let spent = 0;
  let nsPerOp = 0;
  while (spent < ms * 1e6) {
    nsPerOp = await sample(candidate, iterations);
    spent += nsPerOp * iterations;
    iterations = Math.min(iterations * 2, 1 << 20);
  }
  return Math.max(1, Math.round((sampleMs * 1e6) / nsPerOp));
}

/**
 * Times the candidates against the first one (the floor), interleaved: in each round every
 * candidate takes one sample, starting from a different candidate each round so that none always
 * runs right after a particular other (GC debt and CPU frequency drift are shared out).
 */
export async function measure(candidates: readonly Candidate[], options: MeasureOptions): Promise<Measured[]> {
  const iterations: number[] = [];
  for (const candidate of candidates) iterations.push(await warmUp(candidate, options.warmupMs, options.sampleMs));
  const samples: number[][] = candidates.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < candidates.length; k++) {
      const c = (round + k) % candidates.length;
      samples[c].push(await sample(candidates[c], iterations[c]));
    }
  }
  return candidates.map((candidate, c) => {
    const nsPerOp = median(samples[c]);
    return {
      name: candidate.name,
      nsPerOp,
      opsPerSec: 1e9 / nsPerOp,
      ratio: median(samples[c].map((ns, round) => ns / samples[0][round])),
      samples: samples[c],
    };
  });
}

/** The median over the rounds of a's time / b's time in the same round. */
export function pairRatio(a: Measured, b: Measured): number {
  return median(a.samples.map((ns, round) => ns / b.samples[round]));
}

/** `12.3 µs`, `1.23 ms`: a duration in nanoseconds, for tables. */
export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}
