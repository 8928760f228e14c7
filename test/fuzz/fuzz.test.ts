/**
 * A 5,000-mutation slice of the mutation fuzzer (`npm run fuzz` runs 100,000; see ./run.ts), with
 * a fixed seed, spread over every scheme, against the bundled handler assets. The oracle is
 * written down in ./oracle.ts.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { loadBundledHandler } from '../support/bundle';
import { FINDING_MEANINGS, FINDINGS, runFuzz, type FuzzReport } from './harness';

const SEED = 20261213;
const COUNT = 5000;

const SCHEMES = [
  'stripe', 'github', 'segment', 'shopify', 'slack', 'twilio-form', 'twilio-json', 'standard-webhooks', 'standard-webhooks-v1a',
  'planasonix-trigger', 'hmac', 'bearer', 'jwt', 'mtls',
];

describe(`the mutation fuzzer: ${COUNT} mutations of validly signed requests, seed ${SEED}`, () => {
  let report: FuzzReport;

  beforeAll(async () => {
    // GIVEN every scheme's bundled handler, configured as its construct configures it
    // WHEN the fuzzer sends it validly signed requests, unmutated (controls) and mutated
    report = await runFuzz({ seed: SEED, count: COUNT, load: (dir, env) => loadBundledHandler(dir, env) });
  }, 180_000);

  test('every scheme was exercised: it got its share of mutations, and each unmutated control was accepted', () => {
    // THEN the harness cannot pass by refusing everything: each scheme accepts what it should
    expect(Object.keys(report.perScheme)).toEqual(SCHEMES);
    expect(report.total.mutations).toBe(COUNT);
    for (const [scheme, stats] of Object.entries(report.perScheme)) {
      expect({ scheme, mutations: stats.mutations >= COUNT / SCHEMES.length - 1, controls: stats.controls > 0, accepted: stats.controlsAccepted })
        .toEqual({ scheme, mutations: true, controls: true, accepted: stats.controls });
    }
    expect(report.examples.filter((e) => e.finding === 'controlRejected')).toEqual([]);
  });

  test.each(FINDINGS.map((f) => [f, FINDING_MEANINGS[f]]))('finds no %s (%s)', (finding) => {
    // THEN nothing the oracle calls a finding; on failure, one example per scheme shows what and how
    const examples = report.examples.filter((e) => e.finding === finding);
    expect({ [finding]: report.total[finding], examples }).toEqual({ [finding]: 0, examples: [] });
  });
});

describe('the fuzzer can fail', () => {
  test('fails a handler that accepts everything, writes nothing, logs credentials, and sometimes breaks', async () => {
    // GIVEN a handler that checks nothing
    const careless = {
      handler: async (event: APIGatewayProxyEvent) => {
        process.stdout.write(`${JSON.stringify(event.headers)}\n`);
        if (event.httpMethod === 'DELETE' || event.httpMethod === 'HEAD') throw new Error('boom');
        if (event.httpMethod === 'PUT' || event.httpMethod === 'PATCH') return { statusCode: 500, headers: {}, body: '{"error":"Internal","message":"oops"}' };
        return { statusCode: 202, headers: {}, body: '{"accepted":1}' };
      },
    };
    // WHEN the fuzzer runs a thousand mutations against it
    const report = await runFuzz({ seed: SEED, count: 1000, load: () => careless });
    // THEN every counter the slice above holds at 0 goes up
    for (const finding of FINDINGS.filter((f) => f !== 'idempotencyConflictsAccepted')) {
      expect({ finding, found: report.total[finding] > 0 }).toEqual({ finding, found: true });
    }
  }, 60_000);
});
