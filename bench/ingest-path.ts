// Suite 2: the stream source's whole hot path for one signed event (Stripe, GitHub, Standard Webhooks),
// from the API Gateway event to the serialized Kinesis record, against the floor. No network: the
// writer keeps the records in memory, and the secret is already cached. Each scheme and size is
// measured in a Node process of its own, as a Lambda container serves one source (see isolate.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { WriteRecord } from '../lambda/common/kinesis-writer';
import { createIngestHandler, type IngestLogger } from '../lambda/ingest/handler';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { WebhookAuth } from '../lib';
import { ingestConfig } from '../test/support/presets';
import { apiGatewayEvent, githubSignature, standardWebhooksSignature, stripeSignature } from '../test/support/signers';
import { BODY_SIZES, eventBody } from './bodies';
import { isolatedRow, measureIsolated } from './isolate';
import { formatNs, measure } from './measure';
import type { BenchContext, Row, SuiteResult } from './run';

const SECRET = 'whsec_bench_signing_secret_0123456789abcdef';
const STANDARD_SECRET = `whsec_${Buffer.from('bench-standard-webhooks-key-32b!').toString('base64')}`;
const EVENT_ID = 'evt_bench_0001';
/**
 * Handler / floor, by body size: issue #16's targets at 1 KB and 16 KB (where the fixed
 * per-request work shows most), and the earlier 1.30x for larger bodies.
 */
const TARGETS: Readonly<Record<string, number>> = { '1 KB': 2.0, '16 KB': 1.25, '256 KB': 1.3 };

/** Processes per scheme and size; the report takes the one with the median ratio (see isolate.ts). */
const PROCESSES = 5;

const silent: IngestLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The HMAC the floor computes and compares, for one signed body. */
interface Floor {
  readonly key: string | Buffer;
  readonly prefix: string;
  readonly signature: Buffer;
}

/** A scheme on the hot path: how to sign a body, what the record's id is, and its floor. */
interface Scheme {
  readonly name: string;
  readonly preset: (secret: secretsmanager.ISecret) => WebhookAuth;
  readonly secret: string;
  readonly sizes: readonly string[];
  sign(body: Buffer, nowSeconds: number): { headers: Record<string, string>; id: string; floor: Floor };
}

const after = (text: string, marker: string) => text.slice(text.indexOf(marker) + marker.length);

const SCHEMES: readonly Scheme[] = [
  {
    name: 'stripe',
    preset: (s) => WebhookAuth.stripe(s),
    secret: SECRET,
    sizes: ['1 KB', '16 KB', '256 KB'],
    sign: (body, ts) => {
      const header = stripeSignature(SECRET, body, ts);
      return {
        headers: { 'Stripe-Signature': header, 'User-Agent': 'Stripe/1.0' },
        id: EVENT_ID,
        floor: { key: SECRET, prefix: `${ts}.`, signature: Buffer.from(after(header, 'v1='), 'hex') },
      };
    },
  },
  {
    name: 'github',
    preset: (s) => WebhookAuth.github(s),
    secret: SECRET,
    sizes: ['1 KB', '16 KB'],
    sign: (body) => {
      const header = githubSignature(SECRET, body);
      const id = '72d3162e-cc78-11e3-81ab-4c9367dc0958';
      return {
        headers: { 'X-Hub-Signature-256': header, 'X-GitHub-Delivery': id, 'X-GitHub-Event': 'push', 'User-Agent': 'GitHub-Hookshot/1' },
        id,
        floor: { key: SECRET, prefix: '', signature: Buffer.from(after(header, 'sha256='), 'hex') },
      };
    },
  },
  {
    name: 'standard webhooks',
    preset: (s) => WebhookAuth.standardWebhooks(s),
    secret: STANDARD_SECRET,
    sizes: ['1 KB', '16 KB'],
    sign: (body, ts) => {
      const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
      const header = standardWebhooksSignature(STANDARD_SECRET, id, ts, body);
      return {
        headers: { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': header },
        id,
        floor: { key: Buffer.from(after(STANDARD_SECRET, 'whsec_'), 'base64'), prefix: `${id}.${ts}.`, signature: Buffer.from(after(header, 'v1,'), 'base64') },
      };
    },
  },
];

/** The rows of one scheme at one body size: the handler and the re-serializing reference, each against the floor. */
async function measureScheme(ctx: BenchContext, scheme: Scheme, size: (typeof BODY_SIZES)[number]): Promise<Row[]> {
  let written: readonly WriteRecord[] = [];
  const handler = createIngestHandler({
    config: ingestConfig(scheme.preset, { source: scheme.name }),
    logger: silent,
    secrets: { get: async () => [scheme.secret] },
    writer: {
      write: async (records) => {
        written = records;
        return { written: records.length, calls: 1, retried: 0 };
      },
    },
  });
  const nowSeconds = Math.floor(Date.now() / 1000);
  const body = eventBody(size.bytes, EVENT_ID, nowSeconds);
  const signed = scheme.sign(body, nowSeconds);
  const event = apiGatewayEvent(body, {
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...signed.headers },
    requestTimeEpoch: nowSeconds * 1000,
  });
  const { key, prefix, signature } = signed.floor;

  // The floor takes the same API Gateway event: the body must be base64-decoded in any case.
  const verifyAndParse = () => {
    const raw = Buffer.from(event.body as string, 'base64');
    const expected = createHmac('sha256', key).update(prefix).update(raw).digest();
    if (!(expected.length === signature.length && timingSafeEqual(expected, signature))) throw new Error('floor rejected');
    return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  };
  const candidates = [
    { name: 'floor', fn: verifyAndParse },
    {
      // For reference: the least a path that re-serializes the parsed event costs.
      name: 'floor + JSON.stringify(payload)',
      fn: () => Buffer.from(JSON.stringify({ id: signed.id, payload: verifyAndParse() }), 'utf8'),
    },
    { name: 'ours', async: true, fn: () => handler(event) },
  ];

  // Before timing: the handler accepts, and the record carries the event unchanged.
  const response = await handler(event);
  const record = JSON.parse(Buffer.from(written[0]?.data ?? []).toString('utf8')) as { id?: string; payload?: unknown };
  if (response.statusCode !== 202 || written.length !== 1 || record.id !== signed.id || !isDeepStrictEqual(record.payload, JSON.parse(body.toString('utf8')))) {
    throw new Error(`ingest ${scheme.name} ${size.label}: the handler did not write the event (${response.statusCode} ${response.body})`);
  }

  ctx.log(`  ingest ${scheme.name} ${size.label} (${body.length} bytes)`);
  // The handler is a deep call graph: a longer warm-up than the floor needs lets the JIT reach the
  // code a warm container runs.
  const [floor, restringify, ours] = await measure(candidates, { rounds: 31, sampleMs: 20, warmupMs: 500 });
  const target = TARGETS[size.label] ?? 1.3;
  return [
    {
      name: `${scheme.name} ${size.label}: handler / floor`,
      value: ours.ratio,
      unit: 'x',
      target: `<= ${target.toFixed(2)}x`,
      pass: ours.ratio <= target,
      detail: `handler ${formatNs(ours.nsPerOp)}, floor ${formatNs(floor.nsPerOp)} per request`,
      ...(ours.ratio <= target ? {} : {
        note: 'The handler costs more than the floor per request: a fixed part (the header map, admission, the signature header, the envelope\'s request fields, about a dozen awaits, the 202 body; the envelope\'s constant pieces, metadata pointers and HMAC keys are already computed once per container) and, growing with the body, parse.ts\'s nesting-depth and duplicate-key checks (see section 1). The payload is spliced into the record, not serialized again.',
      }),
    },
    {
      name: `${scheme.name} ${size.label}: (floor + JSON.stringify of the payload) / floor`,
      value: restringify.ratio,
      unit: 'x',
      detail: `${formatNs(restringify.nsPerOp)} per request; reference only`,
    },
  ];
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const rows: Row[] = [];
  for (const scheme of SCHEMES) {
    for (const size of BODY_SIZES.filter((s) => scheme.sizes.includes(s.label))) rows.push(...measureIsolated(ctx, __filename, { scheme: scheme.name, size: size.label }, PROCESSES));
  }
  return {
    rows,
    notes: [
      '**handler**: `createIngestHandler` as the Lambda builds it, with the scheme\'s preset (Stripe at three sizes; GitHub and Standard Webhooks at 1 and 16 KB), driven with an API Gateway REST proxy event (base64 body): header map, correlation id, size check, `authenticate` (HMAC over the raw bytes, secret from an in-memory source, as the warm cache serves it), `parseBody`, metadata extraction, the envelope and its serialization to the record bytes, the write call (an in-memory writer: no network), and the 202 answer. The logger is a no-op (the deployed one writes one JSON line per request).',
      `**isolation**: each scheme at each size is measured in ${PROCESSES} Node processes of its own, one after another (the handler built once for its one configuration, as a Lambda container builds it), after a 500 ms warm-up per candidate; the row is the process with the median handler / floor ratio, and its detail lists all ${PROCESSES}.`,
      '**floor**: base64-decode the same event body, the scheme\'s HMAC-SHA256 (Stripe over `<t>.<body>`, GitHub over the body, Standard Webhooks over `<id>.<t>.<body>` with the decoded key) with `timingSafeEqual`, one `JSON.parse`. It produces no record; the reference row shows what serializing the parsed payload again would add on top of it.',
    ],
  };
}

if (require.main === module) {
  isolatedRow(async (row: { scheme: string; size: string }, ctx) => {
    const scheme = SCHEMES.find((s) => s.name === row.scheme);
    const size = BODY_SIZES.find((s) => s.label === row.size);
    if (scheme === undefined || size === undefined) throw new Error(`no ingest row ${JSON.stringify(row)}`);
    return measureScheme(ctx, scheme, size);
  });
}
