/**
 * The fuzz harness: starts the local peers, loads the bundled handlers (assets/ingest and
 * assets/trigger) once per scheme with the configuration its construct writes, feeds them the
 * mutated API Gateway events, reads back what they wrote, and counts what the oracle (./oracle)
 * calls a finding. Used by `npm run fuzz` (./run) and by the jest slice (./fuzz.test).
 */
import { existsSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { type IngestConfig } from '../../lambda/ingest/config';
import { TRIGGER_CONFIG_VERSION, type TriggerConfig } from '../../lambda/trigger/config';
import { LocalSecretsManager } from '../../cli/local/secrets-manager';
import { LocalStepFunctions } from '../../cli/local/step-functions';
import { JwksServer, selfSignedCertificate } from '../support/jwks-server';
import { clientFor, LocalKinesis } from '../support/kinesalite';
import { ingestConfig } from '../support/presets';
import { mutationsFor, variantsFor, type Mutation, type MutationState } from './mutations';
import { crashOf, duplicateKeyOf, expectedEvents, faithful, firstDifference, judge, type Judgement } from './oracle';
import { headerIndex, headerValue, toEvent, type Draft } from './request';
import { Rng } from './rng';
import { allSchemes, makeKeys, TokenMinter, type GenContext, type Scheme, type SignedRequest } from './schemes';

export type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
/** Loads `<dir>/index.js` fresh, with `env` in process.env, as Lambda starts a bundle. */
export type BundleLoader = (dir: string, env: Readonly<Record<string, string>>) => unknown;

/** The counters that must stay at 0. */
export const FINDINGS = [
  'forgeries',
  'serverErrors',
  'crashes',
  'duplicateKeysAccepted',
  'headerConflictsAccepted',
  'nonPostAccepted',
  'idempotencyConflictsAccepted',
  'recordMismatches',
  'leaks',
] as const;
export type Finding = (typeof FINDINGS)[number];

/** What each counter counts, for the report. */
export const FINDING_MEANINGS: Readonly<Record<Finding, string>> = {
  forgeries: '2xx for a request whose signed material differs from what was signed, or that the signer could not authorize',
  serverErrors: '5xx answers (no dependency ever fails here: every 5xx is a handler defect)',
  crashes: 'the handler threw or rejected, or answered without a status or with an error body that is not JSON',
  duplicateKeysAccepted: '2xx for a JSON body with a repeated member (payload integrity)',
  headerConflictsAccepted: '2xx while a header the scheme reads came twice with different values',
  nonPostAccepted: '2xx for a method other than POST',
  idempotencyConflictsAccepted: 'trigger: 2xx for an Idempotency-Key reused with another body',
  recordMismatches: '2xx with nothing written, a record for a refused request, or (unsigned bodies) a record that is not the body sent',
  leaks: 'a secret or a token in a log line or an answer',
};

export interface SchemeStats {
  cases: number;
  controls: number;
  controlsAccepted: number;
  mutations: number;
  /** 2xx answers to mutated requests. */
  accepted: number;
  forgeries: number;
  serverErrors: number;
  crashes: number;
  duplicateKeysAccepted: number;
  headerConflictsAccepted: number;
  nonPostAccepted: number;
  idempotencyConflictsAccepted: number;
  recordMismatches: number;
  leaks: number;
  statuses: Record<string, number>;
}

export interface Example {
  readonly finding: Finding | 'controlRejected';
  readonly scheme: string;
  readonly caseIndex: number;
  readonly mutations: string;
  readonly reason: string;
  readonly status: string;
  readonly request: string;
  readonly response: string;
}

export interface FuzzReport {
  readonly seed: number;
  readonly count: number;
  readonly cases: number;
  readonly elapsedMs: number;
  readonly perScheme: Readonly<Record<string, SchemeStats>>;
  readonly total: SchemeStats;
  /** The first example of each finding for each scheme. */
  readonly examples: readonly Example[];
  /** Per mutation operator: how often it was applied, and how often the case was answered 2xx. */
  readonly operators: Readonly<Record<string, { applied: number; accepted: number }>>;
  /** Log lines at ERROR level (a 5xx logs one; so may a handler defect that still answers). */
  readonly errorLogLines: number;
  /** For each finding: how many of each reason, by scheme (`twilio-form: url differs from what was signed`). */
  readonly reasons: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface FuzzOptions {
  readonly seed: number;
  /** Mutated requests to send; about one unmutated control per ten comes on top. */
  readonly count: number;
  /** Run this case alone. */
  readonly onlyCase?: number;
  readonly load: BundleLoader;
  /** Requests in flight at once. */
  readonly concurrency?: number;
  /** Run only the cases of these schemes (the same cases as in a whole run). */
  readonly schemes?: readonly string[];
  /** Keep every example, not only the first of each finding for each scheme. */
  readonly allExamples?: boolean;
  /** Run only every `count`-th case, from the `index`-th: one worker's share of a run. */
  readonly shard?: { readonly index: number; readonly count: number };
  /** Print a progress line after each thousand cases. */
  readonly progress?: boolean;
  /** Print each case's event and answer (for `--case`). */
  readonly trace?: boolean;
}

const ROOT = join(__dirname, '..', '..');
const STREAM = 'fuzz-records';
const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:fuzz-exports';
const JWT_ISSUER = 'https://idp.example.com/';
const CHUNK = 1000;

function emptyStats(): SchemeStats {
  return {
    cases: 0, controls: 0, controlsAccepted: 0, mutations: 0, accepted: 0, forgeries: 0, serverErrors: 0, crashes: 0,
    duplicateKeysAccepted: 0, headerConflictsAccepted: 0, nonPostAccepted: 0, idempotencyConflictsAccepted: 0, recordMismatches: 0, leaks: 0, statuses: {},
  };
}

function triggerConfig(scheme: Scheme): TriggerConfig {
  return {
    version: TRIGGER_CONFIG_VERSION,
    source: `fuzz-${scheme.name}`,
    target: { arn: STATE_MACHINE_ARN, stateMachineArn: STATE_MACHINE_ARN },
    auth: scheme.auth,
    secretCacheTtlSeconds: 60,
    parameters: [
      { name: 'exportId', from: { jsonPath: '$.export_id' }, required: true, type: 'string' },
      { name: 'location', from: { jsonPath: '$.location' }, required: true, type: 'string' },
    ],
    validation: 'strict',
    includeBody: true,
    idempotencyHeaders: ['idempotency-key'],
    maxBodyBytes: 1024 * 1024,
    retryAfterSeconds: 5,
  };
}

/** Every write to stdout and stderr, swallowed while the handlers run, and searched for secrets. */
class OutputTap {
  errorLines = 0;
  leaked: string[] = [];
  private readonly saved = { out: process.stdout.write, err: process.stderr.write };

  constructor(private readonly secrets: () => readonly string[]) {}

  start(): void {
    const tap = (chunk: unknown): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      this.errorLines += text.split('"level":"ERROR"').length - 1;
      for (const secret of this.secrets()) if (text.includes(secret)) this.leaked.push(secret);
      return true;
    };
    process.stdout.write = tap as typeof process.stdout.write;
    process.stderr.write = tap as typeof process.stderr.write;
  }

  /** Writes around the tap. */
  print(line: string): void {
    this.saved.out.call(process.stdout, `${line}\n`);
  }

  stop(): void {
    process.stdout.write = this.saved.out;
    process.stderr.write = this.saved.err;
  }
}

/** One request's outcome, before the records are read back. */
interface Outcome {
  readonly index: number;
  readonly scheme: Scheme;
  readonly control: boolean;
  readonly labels: readonly string[];
  readonly operators: readonly string[];
  /** The request as the mutations left it, for the examples. */
  readonly draft: Draft;
  readonly event: APIGatewayProxyEvent;
  readonly judgement: Judgement;
  readonly requestIds: readonly string[];
  readonly crash?: string;
  readonly response?: APIGatewayProxyResult;
}

const excerpt = (text: string, max: number) => {
  const s = JSON.stringify(text);
  return s.length > max ? `${s.slice(0, max)}...` : s;
};

function describeRequest(scheme: Scheme, event: APIGatewayProxyEvent, d: Draft): string {
  const interesting = new Set(['host', 'content-type', 'x-forwarded-host', ...scheme.readHeaders]);
  const headers = d.headers.filter(([n]) => interesting.has(n.toLowerCase())).map(([n, v]) => `${n}: ${excerpt(v, 70)}`);
  const extra = [
    ...d.headersOverride.map(([n, v]) => `headers[${n}]=${v === undefined ? 'absent' : excerpt(v, 40)}`),
    ...d.mvhOverride.map(([n, v]) => `multiValueHeaders[${n}]=${v === undefined ? 'absent' : excerpt(JSON.stringify(v), 60)}`),
    ...(d.query.length > 0 ? [`query ${excerpt(new URLSearchParams(d.query).toString(), 80)}`] : []),
    ...(d.clientCert === undefined ? [] : [`clientCert ${excerpt(JSON.stringify({ subjectDN: d.clientCert.subjectDN, serialNumber: d.clientCert.serialNumber }), 100)}`]),
  ];
  const body = d.body === null ? 'null' : excerpt(d.body.toString('utf8'), 120);
  return `${event.httpMethod} ${event.requestContext.path} | ${[...headers, ...extra].join(' | ')} | body ${body}`;
}

/** Runs the fuzzer and returns its report. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  for (const name of ['ingest', 'trigger']) {
    if (!existsSync(join(ROOT, 'assets', name, 'index.js'))) throw new Error(`assets/${name}/index.js is missing: run npm run bundle first`);
  }
  const started = Date.now();
  const keys = makeKeys();
  const nowS = () => Math.floor(Date.now() / 1000);
  const tokens = new TokenMinter(keys.jwt, JWT_ISSUER, nowS);
  const tls = selfSignedCertificate();
  const jwks = await JwksServer.start(tls);
  jwks.jwks = keys.jwt.jwks;
  const schemes = allSchemes({ keys, jwksUri: jwks.jwksUri, jwtIssuer: JWT_ISSUER });
  const unknown = (options.schemes ?? []).filter((name) => !schemes.some((s) => s.name === name));
  if (unknown.length > 0) {
    await jwks.stop();
    throw new Error(`unknown scheme ${unknown.join(', ')}; the schemes are ${schemes.map((s) => s.name).join(', ')}`);
  }
  const ctx: GenContext = { keys, jwtIssuer: JWT_ISSUER, tokens, nowS };
  const secrets = () => [...schemes.flatMap((s) => s.secrets), ...tokens.issued];
  const tap = new OutputTap(secrets);
  const savedCa = https.globalAgent.options.ca;
  const savedEnv = process.env;

  const kinesis = await LocalKinesis.start();
  // Retries: kinesalite may close an idle keep-alive connection just as a read reuses it.
  const reader = clientFor(kinesis.endpoint, { maxAttempts: 5 });
  const sfn = await LocalStepFunctions.start();
  const secretsManager = await LocalSecretsManager.start(Object.fromEntries(schemes
    .filter((s) => s.secretValue !== undefined)
    .map((s) => [(s.auth as { secretArn: string }).secretArn, s.secretValue as string])));
  try {
    await kinesis.createStream(STREAM, 1);
    // The identity provider's certificate is self-signed: trust it, as the Lambda runtime trusts a real IdP's.
    https.globalAgent.options.ca = [tls.cert];
    tap.start();

    // One bundle per scheme, configured as its construct configures it. Endpoints are read lazily,
    // so every bundle gets the same ones.
    const common = {
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint,
      AWS_ENDPOINT_URL_SFN: sfn.endpoint,
      POWERTOOLS_SERVICE_NAME: 'fuzz',
    };
    const handlers = new Map<Scheme, Handler>();
    for (const scheme of schemes) {
      const config: IngestConfig | TriggerConfig = scheme.handler === 'ingest'
        ? ingestConfig(scheme.preset, { auth: scheme.auth, source: `fuzz-${scheme.name}`, streamName: STREAM })
        : triggerConfig(scheme);
      const mod = options.load(join(ROOT, 'assets', scheme.handler), { ...common, [CONFIG_ENV_VAR]: JSON.stringify(config) }) as { handler: Handler };
      handlers.set(scheme, mod.handler);
    }

    const { iterator: firstIterator } = await shardIterator(reader);
    let iterator = firstIterator;
    const perScheme: Record<string, SchemeStats> = Object.fromEntries(schemes.map((s) => [s.name, emptyStats()]));
    const total = emptyStats();
    const examples: Example[] = [];
    const reasons: Record<string, Record<string, number>> = {};
    const operators: Record<string, { applied: number; accepted: number }> = {};
    const mutationCache = new Map(schemes.map((s) => [s, mutationsFor(s)]));

    const isControl = (i: number) => Math.floor(i / schemes.length) % 11 === 0;
    const indexes: number[] = [];
    if (options.onlyCase !== undefined) indexes.push(options.onlyCase);
    else for (let i = 0, mutated = 0; mutated < options.count; i++) {
      const mine = options.shard === undefined || i % options.shard.count === options.shard.index;
      if (mine && (options.schemes === undefined || options.schemes.includes(schemes[i % schemes.length].name))) indexes.push(i);
      if (!isControl(i)) mutated++;
    }

    let requestCounter = 0;
    const nextRequestId = (index: number) => `fuzz-${options.seed}-${index}-${requestCounter++}`;

    async function runCase(index: number): Promise<Outcome> {
      const scheme = schemes[index % schemes.length];
      const rng = Rng.forCase(options.seed, index);
      const control = isControl(index);
      let req: SignedRequest = scheme.sign(ctx, rng);
      const labels: string[] = [];
      const applied: string[] = [];
      if (!control) {
        let ops: number = rng.weighted([[60, 1], [28, 2], [12, 3]] as const);
        const variants = variantsFor(scheme);
        if (variants.length > 0 && rng.chance(0.15)) {
          const variant = rng.weighted(variants.map((v) => [v.weight, v] as const));
          req = variant.apply(scheme, ctx, rng, req);
          labels.push(variant.name);
          applied.push(variant.name);
          ops = rng.int(3);
        }
        const state: MutationState = { req, scheme, rng, ctx };
        const candidates = mutationCache.get(scheme) as Mutation[];
        for (let done = 0, tries = 0; done < ops && tries < 20; tries++) {
          const mutation = rng.weighted(candidates.map((m) => [m.weight, m] as const));
          let detail: string | undefined;
          try {
            detail = mutation.apply(state);
          } catch {
            // An operator that cannot edit this request (JSON nested too deep to rewrite): pick another.
            continue;
          }
          if (detail === undefined) continue;
          labels.push(`${mutation.name}(${detail})`);
          applied.push(mutation.name);
          done++;
        }
        req = state.req;
      }
      const handler = handlers.get(scheme) as Handler;
      const requestIds: string[] = [];
      const eventOf = (d: Draft) => {
        const requestId = nextRequestId(index);
        requestIds.push(requestId);
        return toEvent(d, { path: scheme.path, requestId, requestTimeEpoch: Date.now() });
      };
      let setupFailure: string | undefined;
      for (const setupDraft of req.setup) {
        const first = await invoke(handler, eventOf(setupDraft));
        const status = first.response?.statusCode ?? 0;
        if (first.crash !== undefined || status >= 500) setupFailure ??= `the first delivery: ${first.crash ?? `answered ${status}`}`;
      }
      const event = eventOf(req.draft);
      const judgement = judge(scheme, req.signed, event);
      const answer = await invoke(handler, event);
      const response = answer.response;
      // A first delivery that broke the handler is this case's crash.
      const crash = answer.crash ?? setupFailure;
      if (options.trace === true) tap.print(`event:\n${JSON.stringify(event, null, 2)}\njudgement: ${JSON.stringify(judgement)}\nanswer: ${crash ?? JSON.stringify(response, null, 2)}`);
      return { index, scheme, control, labels, operators: applied, draft: req.draft, event, judgement, requestIds, crash, response };
    }

    for (let start = 0; start < indexes.length; start += CHUNK) {
      const chunk = indexes.slice(start, start + CHUNK);
      const outcomes: Outcome[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: options.concurrency ?? 8 }, async () => {
        while (next < chunk.length) {
          const index = chunk[next++];
          outcomes.push(await runCase(index));
        }
      }));
      // Everything the chunk wrote is in the stream now; read it back once.
      const written = new Map<string, unknown[]>();
      for (;;) {
        const page = await reader.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        iterator = page.NextShardIterator as string;
        for (const record of page.Records ?? []) {
          const envelope = JSON.parse(Buffer.from(record.Data as Uint8Array).toString('utf8')) as { correlationId: string; payload?: unknown };
          const list = written.get(envelope.correlationId) ?? [];
          list.push(envelope.payload);
          written.set(envelope.correlationId, list);
        }
        if ((page.Records ?? []).length === 0) break;
      }
      outcomes.sort((a, b) => a.index - b.index);
      for (const outcome of outcomes) score(outcome, written);
      if (options.progress === true) {
        const who = options.shard === undefined ? '' : `worker ${options.shard.index + 1}/${options.shard.count}: `;
        tap.print(`  ${who}${Math.min(start + CHUNK, indexes.length)}/${indexes.length} cases, ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
    }

    function note(finding: Example['finding'], o: Outcome, reason: string): void {
      if (finding !== 'controlRejected') {
        perScheme[o.scheme.name][finding] += 1;
        total[finding] += 1;
      }
      // Pointers and values vary; the kind of reason does not.
      const kind = `${o.scheme.name}: ${reason.replace(/ \(at .*\)$/, '').replace(/\/\S*|"[^"]*"|(?<=\s)\d+\b|delivery-\w+/g, '…')}`;
      const tally = reasons[finding] ??= {};
      tally[kind] = (tally[kind] ?? 0) + 1;
      if (options.allExamples !== true && examples.some((e) => e.finding === finding && e.scheme === o.scheme.name)) return;
      examples.push({
        finding,
        scheme: o.scheme.name,
        caseIndex: o.index,
        mutations: o.labels.join(' + ') || '(none: a control)',
        reason,
        status: o.crash === undefined ? String(o.response?.statusCode) : 'crash',
        request: describeRequest(o.scheme, o.event, o.draft),
        response: o.crash ?? excerpt(String(o.response?.body), 220),
      });
    }

    function score(o: Outcome, written: ReadonlyMap<string, unknown[]>): void {
      const stats = perScheme[o.scheme.name];
      for (const s of [stats, total]) {
        s.cases += 1;
        if (o.control) s.controls += 1;
        else s.mutations += 1;
      }
      for (const op of o.operators) (operators[op] ??= { applied: 0, accepted: 0 }).applied += 1;
      if (o.crash !== undefined || o.response === undefined) {
        note('crashes', o, o.crash ?? 'no answer');
        return;
      }
      const status = o.response.statusCode;
      for (const s of [stats, total]) s.statuses[status] = (s.statuses[status] ?? 0) + 1;
      const body = String(o.response.body);
      for (const secret of secrets()) if (body.includes(secret)) note('leaks', o, 'a secret in the answer');
      if (status >= 500) note('serverErrors', o, `answered ${status}`);
      const ok = status >= 200 && status < 300;
      if (!ok) {
        if (o.control) note('controlRejected', o, `an unmutated, validly signed request was answered ${status}`);
        const mainId = o.requestIds[o.requestIds.length - 1];
        if ((written.get(mainId) ?? []).length > 0) note('recordMismatches', o, `answered ${status}, yet written to the stream`);
        return;
      }
      for (const op of o.operators) (operators[op] as { accepted: number }).accepted += 1;
      for (const s of [stats, total]) {
        if (o.control) s.controlsAccepted += 1;
        else s.accepted += 1;
      }
      if (o.judgement.forged !== undefined) note('forgeries', o, o.judgement.forged);
      else if (o.judgement.conflict !== undefined) note('headerConflictsAccepted', o, o.judgement.conflict);
      const duplicate = duplicateKeyOf(o.event);
      if (duplicate !== undefined) note('duplicateKeysAccepted', o, `the body repeats ${duplicate}`);
      if (o.event.httpMethod !== 'POST') note('nonPostAccepted', o, `${JSON.stringify(o.event.httpMethod)} answered ${status}`);

      const expected = expectedEvents(o.event);
      const misrecorded = (what: string, payloads: readonly unknown[]) => {
        const at = expected === undefined || payloads.length !== expected.length ? 'another number of events' : `at ${payloads.map((p, i) => firstDifference(p, expected[i])).find((d) => d !== undefined)}`;
        if (o.scheme.bodySigned && o.judgement.forged === undefined) note('forgeries', o, `${what} differs from the signed body (${at})`);
        else if (!o.scheme.bodySigned) note('recordMismatches', o, `${what} differs from the body sent (${at})`);
      };
      if (o.scheme.handler === 'ingest') {
        const parsed = JSON.parse(body) as { challenge?: unknown };
        if (status === 200 && typeof parsed.challenge === 'string') return;
        const mine = written.get(o.requestIds[o.requestIds.length - 1]) ?? [];
        if (mine.length === 0) note('recordMismatches', o, `answered ${status} but wrote nothing`);
        else if (!faithful(mine, expected)) misrecorded('the record written', mine);
        return;
      }
      // The trigger: the run started (or found) carries the body.
      const answer = JSON.parse(body) as { executionArn?: string; duplicate?: boolean };
      const run = answer.executionArn === undefined ? undefined : sfn.executions.get(answer.executionArn);
      if (run === undefined) {
        note('recordMismatches', o, `answered ${status} but no run exists`);
        return;
      }
      const input = JSON.parse(run.input) as { body?: unknown };
      if (faithful([input.body], expected)) return;
      if (answer.duplicate === true && headerIndex(o.draft, 'idempotency-key') >= 0) {
        note('idempotencyConflictsAccepted', o, `Idempotency-Key ${headerValue(o.draft, 'idempotency-key')} reused with another body: answered with the first body's run`);
      } else {
        misrecorded('the run input', [input.body]);
      }
    }

    for (const secret of new Set(tap.leaked)) {
      const owner = schemes.find((s) => s.secrets.includes(secret))?.name ?? 'jwt';
      perScheme[owner].leaks += 1;
      total.leaks += 1;
    }
    return {
      seed: options.seed,
      count: options.count,
      cases: indexes.length,
      elapsedMs: Date.now() - started,
      perScheme,
      total,
      examples,
      operators,
      errorLogLines: tap.errorLines,
      reasons,
    };
  } finally {
    tap.stop();
    // Deleted, not set to undefined: an Agent's options override a request's, so a `ca: undefined`
    // left behind would make every later HTTPS request of this process ignore its own `ca`.
    if (savedCa === undefined) delete https.globalAgent.options.ca;
    else https.globalAgent.options.ca = savedCa;
    process.env = savedEnv;
    reader.destroy();
    await Promise.allSettled([kinesis.stop(), sfn.stop(), secretsManager.stop(), jwks.stop()]);
  }
}

async function shardIterator(reader: KinesisClient): Promise<{ iterator: string }> {
  const { StreamDescription } = await reader.send(new DescribeStreamCommand({ StreamName: STREAM }));
  const shardId = StreamDescription?.Shards?.[0]?.ShardId as string;
  const { ShardIterator } = await reader.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }));
  return { iterator: ShardIterator as string };
}

async function invoke(handler: Handler, event: APIGatewayProxyEvent): Promise<{ response?: APIGatewayProxyResult; crash?: string }> {
  let response: unknown;
  try {
    response = await handler(event);
  } catch (error) {
    return { crash: `the handler threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` };
  }
  const crash = crashOf(response);
  return crash === undefined ? { response: response as APIGatewayProxyResult } : { crash, response: response as APIGatewayProxyResult };
}

/** One report of the runs of several workers over the same seed. */
export function mergeReports(reports: readonly FuzzReport[], allExamples = false): FuzzReport {
  const add = (into: SchemeStats, from: SchemeStats) => {
    for (const key of Object.keys(from) as (keyof SchemeStats)[]) {
      if (key === 'statuses') for (const [status, n] of Object.entries(from.statuses)) into.statuses[status] = (into.statuses[status] ?? 0) + n;
      else into[key] += from[key];
    }
  };
  const perScheme: Record<string, SchemeStats> = {};
  const total = emptyStats();
  const operators: Record<string, { applied: number; accepted: number }> = {};
  for (const r of reports) {
    for (const [name, stats] of Object.entries(r.perScheme)) add(perScheme[name] ??= emptyStats(), stats);
    add(total, r.total);
    for (const [op, n] of Object.entries(r.operators)) {
      const into = operators[op] ??= { applied: 0, accepted: 0 };
      into.applied += n.applied;
      into.accepted += n.accepted;
    }
  }
  const reasons: Record<string, Record<string, number>> = {};
  for (const r of reports) {
    for (const [finding, tally] of Object.entries(r.reasons)) {
      const into = reasons[finding] ??= {};
      for (const [kind, n] of Object.entries(tally)) into[kind] = (into[kind] ?? 0) + n;
    }
  }
  const examples = reports.flatMap((r) => r.examples).sort((a, b) => a.caseIndex - b.caseIndex)
    .filter((e, i, all) => allExamples || all.findIndex((o) => o.finding === e.finding && o.scheme === e.scheme) === i);
  return {
    seed: reports[0].seed,
    count: reports[0].count,
    cases: reports.reduce((n, r) => n + r.cases, 0),
    elapsedMs: Math.max(...reports.map((r) => r.elapsedMs)),
    perScheme,
    total,
    examples,
    operators,
    errorLogLines: reports.reduce((n, r) => n + r.errorLogLines, 0),
    reasons,
  };
}

// ---------------------------------------------------------------------------------------------
// The report

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** The report as text: a table per scheme, the totals, the mutation operators, one example per finding and scheme. */
export function formatReport(report: FuzzReport): string {
  const lines: string[] = [];
  const cols: [string, (s: SchemeStats) => number, number][] = [
    ['mutations', (s) => s.mutations, 9], ['accepted', (s) => s.accepted, 8], ['controls', (s) => s.controls, 8], ['ctl 2xx', (s) => s.controlsAccepted, 7],
    ['forged', (s) => s.forgeries, 6], ['5xx', (s) => s.serverErrors, 5], ['crash', (s) => s.crashes, 5], ['dupKey', (s) => s.duplicateKeysAccepted, 6],
    ['hdrConf', (s) => s.headerConflictsAccepted, 7], ['nonPost', (s) => s.nonPostAccepted, 7], ['idemKey', (s) => s.idempotencyConflictsAccepted, 7],
    ['record', (s) => s.recordMismatches, 6], ['leak', (s) => s.leaks, 4],
  ];
  const header = `${'scheme'.padEnd(22)}${cols.map(([name, , w]) => ` ${pad(name, w)}`).join('')}`;
  lines.push(header, '-'.repeat(header.length));
  const row = (name: string, s: SchemeStats) => `${name.padEnd(22)}${cols.map(([, f, w]) => ` ${pad(f(s), w)}`).join('')}`;
  for (const [name, s] of Object.entries(report.perScheme)) lines.push(row(name, s));
  lines.push('-'.repeat(header.length), row('TOTAL', report.total), '');
  const statuses = Object.entries(report.total.statuses).sort(([a], [b]) => Number(a) - Number(b)).map(([k, v]) => `${k}: ${v}`).join(', ');
  lines.push(`answers: ${statuses}`);
  lines.push(`ERROR log lines: ${report.errorLogLines}`, '');
  lines.push('mutation operators (applied / answered 2xx):');
  const ops = Object.entries(report.operators).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v.applied}/${v.accepted}`);
  for (let i = 0; i < ops.length; i += 4) lines.push(`  ${ops.slice(i, i + 4).map((o) => o.padEnd(34)).join('')}`.trimEnd());
  lines.push('');
  for (const finding of [...FINDINGS, 'controlRejected' as const]) {
    const found = report.examples.filter((e) => e.finding === finding);
    if (found.length === 0) continue;
    lines.push(`${finding}: ${finding === 'controlRejected' ? 'an unmutated control was refused: a harness problem, or a regression' : FINDING_MEANINGS[finding]}`);
    const tally = Object.entries(report.reasons[finding] ?? {}).sort(([, a], [, b]) => b - a);
    for (const [kind, n] of tally.slice(0, 12)) lines.push(`  ${pad(n, 6)}  ${kind}`);
    if (tally.length > 12) lines.push(`          (and ${tally.length - 12} other reasons)`);
    for (const e of found) {
      lines.push(`  [${e.scheme}] case ${e.caseIndex}: ${e.reason}`);
      lines.push(`    mutations: ${e.mutations}`);
      lines.push(`    request:   ${e.request}`);
      lines.push(`    answer:    ${e.status} ${e.response}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The findings that are not 0, as `name n` pairs. */
export function nonZeroFindings(report: FuzzReport): string[] {
  return FINDINGS.filter((f) => report.total[f] > 0).map((f) => `${f} ${report.total[f]}`);
}
