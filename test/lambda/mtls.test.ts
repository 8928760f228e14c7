import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LocalStepFunctions } from '../../cli/local/step-functions';
import { authenticate } from '../../lambda/common/authenticate';
import { normalizeSerialNumber as issuingSideNormalize } from '../../lambda/mtls-ca/client-ca';
import { parseAuthConfig, type MtlsAuthConfig } from '../../lambda/common/auth-config';
import { CONFIG_ENV_VAR, ConfigError } from '../../lambda/common/config-document';
import { type IngestConfig } from '../../lambda/ingest/config';
import { daysToExpiry, verifyClientCertificate } from '../../lambda/common/credentials';
import { ForbiddenError, MissingCredentialsError } from '../../lambda/common/errors';
import { fromApiGatewayEvent, normalizeSerialNumber, parseCertificateDate } from '../../lambda/common/http';
import { createIngestHandler, type IngestLogger } from '../../lambda/ingest/handler';
import { createTriggerHandler, executionArnOf } from '../../lambda/trigger/handler';
import type { TriggerConfig } from '../../lambda/trigger/config';
import { WebhookAuth } from '../../lib';
import { decode, LocalKinesis } from '../support/kinesalite';
import { ingestConfig } from '../support/presets';
import { apiGatewayEvent, type EventOptions } from '../support/signers';
import { capturingOutput } from '../support/output';
import { assetDir, loadHandler, restoringEnv, type BundledHandler } from '../support/bundled-source';

const NOW_MS = Date.UTC(2026, 10, 23, 12, 0, 0);
const DAY_MS = 86_400_000;
const SUBJECT = 'CN=orders.internal,O=Example Corp,C=US';
/** The serials a managed CA issued for the path and has not revoked, as the construct writes them. */
const ISSUED = ['a10bff', 'c0ffee0a1b2c3d'];
const REVOKED = 'de:ad:be:ef';
const MANAGED: MtlsAuthConfig = { kind: 'mtls', managed: true, allowedSerialNumbers: ISSUED };
const SM_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:exports';

/**
 * A self-signed P-256 certificate, serial 0x00C0FFEE0A1B2C3D (a leading zero byte in its DER),
 * valid until Nov 20 19:18:21 2036 GMT.
 */
const PEM = `-----BEGIN CERTIFICATE-----
MIIBxTCCAWugAwIBAgIIAMD/7gobLD0wCgYIKoZIzj0EAwIwPjEYMBYGA1UEAwwP
b3JkZXJzLmludGVybmFsMRUwEwYDVQQKDAxFeGFtcGxlIENvcnAxCzAJBgNVBAYT
AlVTMB4XDTI2MTEyMzE5MTgyMVoXDTM2MTEyMDE5MTgyMVowPjEYMBYGA1UEAwwP
b3JkZXJzLmludGVybmFsMRUwEwYDVQQKDAxFeGFtcGxlIENvcnAxCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEbPHmCZFVEfngQD4xHTFhad+T
tItDGrE66ajrZpE4P3RHHPFOXHNmKqbnt7rrzrJTnIiMdv+A5FF6qQ6Sap/9LaNT
MFEwHQYDVR0OBBYEFMpYUZkHfLHDsQYutMhhOVvvuqnNMB8GA1UdIwQYMBaAFMpY
UZkHfLHDsQYutMhhOVvvuqnNMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
SAAwRQIgY8UseUq9BHFz20ftxTtmEI2l9Y+ID5kkBdo95/rPsT4CIQDISpOKrbh2
i6TnwAt8jyPVCxdJHDVgh2ILQe9ndJV1DQ==
-----END CERTIFICATE-----
`;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** A date as API Gateway (OpenSSL) writes it: `Aug  5 09:36:04 2021 GMT`, the day padded with a space. */
function opensslDate(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
}

/** A request with a client certificate, its serial and notAfter written as API Gateway writes them. */
function withCert(serialNumber: string | undefined, notAfterMs = NOW_MS + 30 * DAY_MS, extra: EventOptions = {}): APIGatewayProxyEvent {
  return apiGatewayEvent('{"id":"evt_1","type":"order.placed"}', {
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'delivery-1' },
    requestTimeEpoch: NOW_MS,
    clientCertSubject: SUBJECT,
    clientCertSerialNumber: serialNumber,
    clientCertNotAfter: opensslDate(notAfterMs),
    ...extra,
  });
}
const withoutCert = () => apiGatewayEvent('{"id":"evt_1","type":"order.placed"}', {
  headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'delivery-1' },
  requestTimeEpoch: NOW_MS,
});
const requestOf = (event: APIGatewayProxyEvent) => fromApiGatewayEvent(event, NOW_MS);

function errorOf(response: APIGatewayProxyResult): { status: number; error: unknown; message: unknown } {
  expect(response.headers?.['Content-Type']).toBe('application/json; charset=utf-8');
  const body = JSON.parse(response.body) as { error: unknown; message: unknown };
  return { status: response.statusCode, error: body.error, message: body.message };
}

class CapturingLogger implements IngestLogger {
  readonly lines: string[] = [];
  info(message: string, attributes: Record<string, unknown>) { this.lines.push(JSON.stringify({ message, ...attributes })); }
  warn(message: string, attributes: Record<string, unknown>) { this.lines.push(JSON.stringify({ message, ...attributes })); }
  error(message: string, attributes: Record<string, unknown>) { this.lines.push(JSON.stringify({ message, ...attributes })); }
}

const emfLines = (output: string) => output.split('\n').filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('normalizeSerialNumber', () => {
  test.each([
    ['A1:0B:FF', 'a10bff'],
    ['00a1', 'a1'],
    ['00:A1:0B:FF', 'a10bff'],
    ['a1-0b-ff', 'a10bff'],
    ['a10bff', 'a10bff'],
    ['00', '0'],
    ['0xA1', 'a1'],
    [' a1:0b ', 'a10b'],
  ])('%s is %s', (serial, normalized) => {
    expect(normalizeSerialNumber(serial)).toBe(normalized);
  });

  test('agrees with the issuing side on every serial it accepts', () => {
    for (const serial of ['A1:0B:FF', '00a1', '0x00A1', '7f:00:01', '0', '000', 'c0ffee0a1b2c3d', ' DE-AD-BE-EF ']) {
      expect(normalizeSerialNumber(serial)).toBe(issuingSideNormalize(serial));
    }
  });
});

describe('parseCertificateDate', () => {
  test('reads the OpenSSL form API Gateway writes, with its space-padded day', () => {
    expect(parseCertificateDate('Aug  5 09:36:04 2021 GMT')).toBe(Date.UTC(2021, 7, 5, 9, 36, 4));
    expect(parseCertificateDate('Nov 20 19:18:21 2036 GMT')).toBe(Date.UTC(2036, 10, 20, 19, 18, 21));
  });

  test('reads ISO 8601 with a zone', () => {
    expect(parseCertificateDate('2021-08-05T09:36:04Z')).toBe(Date.UTC(2021, 7, 5, 9, 36, 4));
    expect(parseCertificateDate('2021-08-05T11:36:04.000+02:00')).toBe(Date.UTC(2021, 7, 5, 9, 36, 4));
  });

  test.each([undefined, '', 'yesterday', 'Feb 30 09:36:04 2021 GMT', 'Aug  5 25:36:04 2021 GMT', 'Xyz  5 09:36:04 2021 GMT', '2021-08-05T09:36:04', 'Aug  5 09:36:04 2021 PST'])(
    'is undefined for %p, never a guess', (value) => {
      expect(parseCertificateDate(value)).toBeUndefined();
    });
});

describe('fromApiGatewayEvent: the client certificate', () => {
  test('keeps the subject, and normalizes the serial number and reads the notAfter API Gateway reports', () => {
    const request = requestOf(apiGatewayEvent('{}', { clientCertSubject: SUBJECT, clientCertSerialNumber: 'A1:0B:FF', clientCertNotAfter: 'Aug  5 09:36:04 2021 GMT' }));
    expect(request).toMatchObject({ clientCertSubject: SUBJECT, clientCertSerialNumber: 'a10bff', clientCertNotAfterMs: Date.UTC(2021, 7, 5, 9, 36, 4) });
  });

  test('reads the serial number and notAfter from the PEM when API Gateway gives neither, and keeps no PEM', () => {
    const request = requestOf(apiGatewayEvent('{}', { clientCertSubject: SUBJECT, clientCertPem: PEM }));
    expect(request).toMatchObject({ clientCertSerialNumber: 'c0ffee0a1b2c3d', clientCertNotAfterMs: Date.UTC(2036, 10, 20, 19, 18, 21) });
    expect(JSON.stringify(request)).not.toContain('MIIBxTCC');
  });

  test('API Gateway\'s own fields win over the PEM; an unreadable PEM or date leaves the field out', () => {
    expect(requestOf(apiGatewayEvent('{}', { clientCertSerialNumber: 'a1', clientCertPem: PEM }))).toMatchObject({ clientCertSerialNumber: 'a1', clientCertNotAfterMs: Date.UTC(2036, 10, 20, 19, 18, 21) });
    const request = requestOf(apiGatewayEvent('{}', { clientCertSubject: SUBJECT, clientCertPem: 'not a certificate', clientCertNotAfter: 'soon' }));
    expect(request.clientCertSerialNumber).toBeUndefined();
    expect(request.clientCertNotAfterMs).toBeUndefined();
  });

  test('a request without a certificate has none of the fields', () => {
    const request = requestOf(withoutCert());
    expect([request.clientCertSubject, request.clientCertSerialNumber, request.clientCertNotAfterMs]).toEqual([undefined, undefined, undefined]);
  });
});

describe('parseAuthConfig: mtls', () => {
  test.each([
    [{ kind: 'mtls', allowedSerialNumbers: ['a10bff'], managed: true }],
    [{ kind: 'mtls', allowedSerialNumbers: ['0'] }],
    [{ kind: 'mtls', managed: false }],
    [{ kind: 'mtls' }],
  ])('accepts %j', (auth) => {
    expect(() => parseAuthConfig(auth)).not.toThrow();
  });

  test.each([
    [{ kind: 'mtls', allowedSerialNumbers: [] }, /auth.allowedSerialNumbers must be a non-empty list of non-empty strings/],
    [{ kind: 'mtls', allowedSerialNumbers: 'a10bff' }, /auth.allowedSerialNumbers must be a non-empty list/],
    [{ kind: 'mtls', allowedSerialNumbers: [''] }, /auth.allowedSerialNumbers must be a non-empty list/],
    [{ kind: 'mtls', allowedSerialNumbers: ['A1:0B:FF'] }, /auth.allowedSerialNumbers must be lower-case hex without separators or leading zeros, got 'A1:0B:FF'/],
    [{ kind: 'mtls', allowedSerialNumbers: ['00a1'] }, /got '00a1'/],
    [{ kind: 'mtls', allowedSerialNumbers: ['a1', 'xyz'] }, /got 'xyz'/],
    [{ kind: 'mtls', managed: 'yes' }, /auth.managed must be a boolean/],
  ])('refuses %j', (auth, message) => {
    expect(() => parseAuthConfig(auth)).toThrow(ConfigError);
    expect(() => parseAuthConfig(auth)).toThrow(message);
  });
});

describe('verifyClientCertificate: managed mTLS', () => {
  test.each(['a1:0b:ff', 'A1:0B:FF', '00:a1:0b:ff', '00A10BFF', 'a10bff'])('an issued, unrevoked certificate passes, its serial written as %s', (serial) => {
    expect(verifyClientCertificate(MANAGED, requestOf(withCert(serial, NOW_MS + DAY_MS)))).toEqual({ subject: SUBJECT, serialNumber: 'a10bff', notAfterMs: NOW_MS + DAY_MS });
  });

  test('a revoked certificate (its serial not in the list) is forbidden', () => {
    expect(() => verifyClientCertificate(MANAGED, requestOf(withCert(REVOKED)))).toThrow(new ForbiddenError('this client certificate is revoked or was not issued for this path'));
  });

  test('a certificate whose serial is unknown is forbidden when serials are listed', () => {
    expect(() => verifyClientCertificate(MANAGED, requestOf(withCert(undefined)))).toThrow(ForbiddenError);
    // Unmanaged, without a list, the subject alone identifies it, as before.
    expect(verifyClientCertificate({ kind: 'mtls' }, requestOf(withCert(undefined)))).toMatchObject({ subject: SUBJECT });
  });

  test('without a certificate: 403 on a managed route, 401 otherwise, as before', () => {
    expect(() => verifyClientCertificate(MANAGED, requestOf(withoutCert()))).toThrow(new ForbiddenError('a client certificate issued for this path is required'));
    expect(() => verifyClientCertificate({ kind: 'mtls', allowedSerialNumbers: ISSUED }, requestOf(withoutCert()))).toThrow(MissingCredentialsError);
    expect(() => verifyClientCertificate({ kind: 'mtls' }, requestOf(withoutCert()))).toThrow(MissingCredentialsError);
  });

  test('the subject allowlist still applies after the serial allowlist', () => {
    const config: MtlsAuthConfig = { ...MANAGED, allowedSubjects: ['CN=billing.internal,O=Example Corp,C=US'] };
    expect(() => verifyClientCertificate(config, requestOf(withCert('a1:0b:ff')))).toThrow(new ForbiddenError('this client certificate is not allowed to send here'));
  });

  test('the serial read from the PEM is checked the same way', () => {
    expect(verifyClientCertificate(MANAGED, requestOf(apiGatewayEvent('{}', { clientCertPem: PEM })))).toEqual({ serialNumber: 'c0ffee0a1b2c3d', notAfterMs: Date.UTC(2036, 10, 20, 19, 18, 21) });
  });
});

describe('authenticate: mtls', () => {
  const deps = { secrets: { get: async () => [] } };

  test('returns the subject, and the certificate\'s serial and notAfter', async () => {
    expect(await authenticate(MANAGED, requestOf(withCert('A1:0B:FF', NOW_MS + DAY_MS)), NOW_MS, deps)).toEqual({
      principal: SUBJECT,
      clientCertificate: { serialNumber: 'a10bff', notAfterMs: NOW_MS + DAY_MS },
    });
  });

  test('without a serial number there is no clientCertificate', async () => {
    expect(await authenticate({ kind: 'mtls' }, requestOf(withCert(undefined)), NOW_MS, deps)).toEqual({ principal: SUBJECT });
  });
});

describe('daysToExpiry', () => {
  test('is fractional days, to a thousandth, and negative once expired', () => {
    expect(daysToExpiry(NOW_MS + 30 * DAY_MS, NOW_MS)).toBe(30);
    expect(daysToExpiry(NOW_MS + 36 * 3_600_000, NOW_MS)).toBe(1.5);
    expect(daysToExpiry(NOW_MS + DAY_MS / 3, NOW_MS)).toBe(0.333);
    expect(daysToExpiry(NOW_MS - 2 * DAY_MS, NOW_MS)).toBe(-2);
  });
});

describe('the ingest handler on a managed mTLS route', () => {
  function handlerFor(auth: MtlsAuthConfig) {
    const expiries: [string, number][] = [];
    const written: unknown[] = [];
    const logger = new CapturingLogger();
    const handler = createIngestHandler({
      config: ingestConfig(() => WebhookAuth.mtls(), { auth, source: 'orders' }),
      logger,
      now: () => NOW_MS,
      secrets: { get: async () => [] },
      metrics: { quarantined: () => undefined, clientCertificateDaysToExpiry: (serial, days) => { expiries.push([serial, days]); } },
      writer: { write: async (records) => { written.push(...records); return { written: records.length, calls: 1, retried: 0 }; } },
    });
    return { handler, expiries, written, logger };
  }

  test('202 for an issued certificate, whose days to expiry are reported under its serial', async () => {
    const { handler, expiries, written, logger } = handlerFor(MANAGED);
    const response = await handler(withCert('00:A1:0B:FF', NOW_MS + 45 * DAY_MS, { clientCertPem: PEM }));
    expect(response.statusCode).toBe(202);
    expect(written).toHaveLength(1);
    expect(expiries).toEqual([['a10bff', 45]]);
    expect(logger.lines.at(-1)).toContain('"clientCertSerial":"a10bff"');
    expect(logger.lines.join('\n')).not.toContain('MIIBxTCC');
  });

  test('403 with a JSON error for a revoked certificate; nothing written, nothing reported', async () => {
    const { handler, expiries, written, logger } = handlerFor(MANAGED);
    expect(errorOf(await handler(withCert(REVOKED)))).toEqual({ status: 403, error: 'Forbidden', message: 'this client certificate is revoked or was not issued for this path' });
    expect([written, expiries]).toEqual([[], []]);
    // The operator can tell which certificate was refused.
    expect(JSON.parse(logger.lines.at(-1) as string)).toMatchObject({ message: 'rejected', statusCode: 403, clientCertSerial: 'deadbeef' });
  });

  test('403 with a JSON error when no certificate was presented', async () => {
    const { handler, written } = handlerFor(MANAGED);
    expect(errorOf(await handler(withoutCert()))).toEqual({ status: 403, error: 'Forbidden', message: 'a client certificate issued for this path is required' });
    expect(written).toEqual([]);
  });

  test('unmanaged, a missing certificate is still 401', async () => {
    const { handler } = handlerFor({ kind: 'mtls' });
    expect(errorOf(await handler(withoutCert()))).toMatchObject({ status: 401, message: 'a TLS client certificate is required' });
  });

  test('a certificate without a known notAfter is accepted and not reported', async () => {
    const { handler, expiries } = handlerFor(MANAGED);
    const event = apiGatewayEvent('{"id":"evt_2","type":"order.placed"}', { headers: { 'Content-Type': 'application/json' }, requestTimeEpoch: NOW_MS, clientCertSubject: SUBJECT, clientCertSerialNumber: 'c0:ff:ee:0a:1b:2c:3d' });
    expect((await handler(event)).statusCode).toBe(202);
    expect(expiries).toEqual([]);
  });
});

describe('the trigger handler on a managed mTLS route', () => {
  function triggerConfig(auth: MtlsAuthConfig): TriggerConfig {
    return {
      version: 1,
      source: 'exports',
      target: { arn: SM_ARN, stateMachineArn: SM_ARN },
      auth,
      secretCacheTtlSeconds: 60,
      parameters: [{ name: 'eventId', from: { jsonPath: '$.id' }, required: true, type: 'string' }],
      validation: 'strict',
      includeBody: false,
      idempotencyHeaders: ['idempotency-key'],
      maxBodyBytes: 1024 * 1024,
      retryAfterSeconds: 7,
    };
  }

  function handlerFor(auth: MtlsAuthConfig) {
    const expiries: [string, number][] = [];
    const starts: unknown[] = [];
    const handler = createTriggerHandler({
      config: triggerConfig(auth),
      logger: new CapturingLogger(),
      sfn: { send: async (command: { input: { name: string } }) => { starts.push(command.input); return { executionArn: executionArnOf(SM_ARN, command.input.name), startDate: new Date(NOW_MS) }; } } as never,
      now: () => NOW_MS,
      secrets: { get: async () => [] },
      metrics: { nonCurrentSecret: () => undefined, clientCertificateDaysToExpiry: (serial, days) => { expiries.push([serial, days]); } },
    });
    return { handler, expiries, starts };
  }

  test('202 for an issued certificate, whose days to expiry are reported under its serial', async () => {
    const { handler, expiries, starts } = handlerFor(MANAGED);
    expect((await handler(withCert('C0:FF:EE:0A:1B:2C:3D', NOW_MS + 7.5 * DAY_MS))).statusCode).toBe(202);
    expect(starts).toHaveLength(1);
    expect(expiries).toEqual([['c0ffee0a1b2c3d', 7.5]]);
  });

  test('403 for a revoked certificate or none; unmanaged, none is 401', async () => {
    const { handler, starts, expiries } = handlerFor(MANAGED);
    expect(errorOf(await handler(withCert(REVOKED)))).toMatchObject({ status: 403, message: 'this client certificate is revoked or was not issued for this path' });
    expect(errorOf(await handler(withoutCert()))).toMatchObject({ status: 403, message: 'a client certificate issued for this path is required' });
    expect([starts, expiries]).toEqual([[], []]);
    expect(errorOf(await handlerFor({ kind: 'mtls' }).handler(withoutCert()))).toMatchObject({ status: 401 });
  });
});

describe('the bundled handlers emit ClientCertificateDaysToExpiry in EMF', () => {
  const savedEnv = restoringEnv();

  function load(name: 'ingest' | 'trigger', env: Record<string, string>): BundledHandler {
    return loadHandler(assetDir(name), { ...env, POWERTOOLS_SERVICE_NAME: 'orders' }, savedEnv, ['POWERTOOLS_DEV', 'POWERTOOLS_METRICS_DISABLED']);
  }

  /**
   * The one EMF line with the metric. Its only dimension is the serial: without `service`, so that
   * every source and trigger a certificate calls reports into the one metric MtlsClient reads.
   */
  function expectExpiryLine(output: string, serial: string, notAfterMs: number, before: number, after: number) {
    const lines = emfLines(output).filter((l) => 'ClientCertificateDaysToExpiry' in l);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    const aws = line._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
    expect(aws.CloudWatchMetrics).toEqual([{
      Namespace: 'CdkWebhookIngress',
      Dimensions: [['ClientCertificateSerial']],
      Metrics: [{ Name: 'ClientCertificateDaysToExpiry', Unit: 'Count' }],
    }]);
    expect(line).toMatchObject({ ClientCertificateSerial: serial });
    expect(line).not.toHaveProperty('service');
    // The handler read `now` between `before` and `after`; the value is the days left from then.
    const days = line.ClientCertificateDaysToExpiry as number;
    expect(days).toBeLessThanOrEqual(Math.round(((notAfterMs - before) / DAY_MS) * 1000) / 1000);
    expect(days).toBeGreaterThanOrEqual(Math.round(((notAfterMs - after) / DAY_MS) * 1000) / 1000);
    // Whole seconds in the OpenSSL date: 30 days less under a second.
    expect(days).toBeCloseTo(30, 2);
  }

  test('ingest: one line per request, apart from the request\'s other metrics; none for a refused one', async () => {
    const kinesis = await LocalKinesis.start();
    try {
      await kinesis.createStream('mtls-orders', 1);
      // Sample-or-shed: every request also records WrittenEvents and ShedEvents, in the handler's own EMF line.
      const config: IngestConfig = ingestConfig(() => WebhookAuth.mtls(), {
        auth: MANAGED, source: 'orders', streamName: 'mtls-orders',
        backpressure: { kind: 'sampleOrShed', keepFraction: 0.5, pressureWindowMs: 60_000, maxAttempts: 3, retryBudgetMs: 2_000 },
      });
      const handler = load('ingest', { [CONFIG_ENV_VAR]: JSON.stringify(config), AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, AWS_LAMBDA_FUNCTION_NAME: 'OrdersIngest' });
      const notAfterMs = Math.floor(Date.now() / 1000) * 1000 + 30 * DAY_MS;
      const before = Date.now();
      const { result, output } = await capturingOutput(() => handler(withCert('00:A1:0B:FF', notAfterMs, { requestTimeEpoch: Date.now(), clientCertPem: PEM })));
      const after = Date.now();
      expect(result.statusCode).toBe(202);
      expect((await kinesis.readAll('mtls-orders')).map((r) => decode<{ payload: unknown }>(r).payload)).toEqual([{ id: 'evt_1', type: 'order.placed' }]);
      expectExpiryLine(output, 'a10bff', notAfterMs, before, after);
      // The serial dimension stays off the request's other metrics.
      const others = emfLines(output).filter((l) => !('ClientCertificateDaysToExpiry' in l));
      expect(others).toEqual([expect.objectContaining({ WrittenEvents: 1, ShedEvents: 0, service: 'orders' })]);
      expect(others[0]).not.toHaveProperty('ClientCertificateSerial');
      expect(output).not.toContain('MIIBxTCC');

      const refused = await capturingOutput(() => handler(withCert(REVOKED, notAfterMs, { requestTimeEpoch: Date.now() })));
      expect(refused.result.statusCode).toBe(403);
      expect(emfLines(refused.output).filter((l) => 'ClientCertificateDaysToExpiry' in l)).toEqual([]);
    } finally {
      await kinesis.stop();
    }
  });

  test('trigger: one line per started run', async () => {
    const sfn = await LocalStepFunctions.start({ stateMachineArns: [SM_ARN] });
    try {
      const config = {
        version: 1, source: 'exports', target: { arn: SM_ARN, stateMachineArn: SM_ARN }, auth: MANAGED, secretCacheTtlSeconds: 60,
        parameters: [{ name: 'eventId', from: { jsonPath: '$.id' }, required: true, type: 'string' }],
        validation: 'strict', includeBody: false, idempotencyHeaders: ['idempotency-key'], maxBodyBytes: 1024 * 1024, retryAfterSeconds: 7,
      };
      const handler = load('trigger', { [CONFIG_ENV_VAR]: JSON.stringify(config), AWS_ENDPOINT_URL_SFN: sfn.endpoint, AWS_LAMBDA_FUNCTION_NAME: 'ExportsTrigger' });
      const notAfterMs = Math.floor(Date.now() / 1000) * 1000 + 30 * DAY_MS;
      const before = Date.now();
      const { result, output } = await capturingOutput(() => handler(withCert('c0:ff:ee:0a:1b:2c:3d', notAfterMs, { requestTimeEpoch: Date.now() })));
      const after = Date.now();
      expect(result.statusCode).toBe(202);
      expect(sfn.executions.size).toBe(1);
      expectExpiryLine(output, 'c0ffee0a1b2c3d', notAfterMs, before, after);
    } finally {
      await sfn.stop();
    }
  });
});
