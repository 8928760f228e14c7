import { createHash, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { mockClient } from 'aws-sdk-client-mock';
import { LocalSecretsManager } from '../../../cli/local/secrets-manager';
import { normalizeSerialNumber, parseCertificateAuthority } from '../../../lambda/mtls-ca/client-ca';
import { expiryReport, onEvent, type CaProperties, type ClientProperties, type ClientSecretValue, type ProviderEvent } from '../../../lambda/mtls-ca/handler';
import { TEST_CREDENTIALS, TEST_REGION } from '../../support/kinesalite';
import { loadBundledHandler } from '../../support/bundle';
import { capturingOutput } from '../../support/output';

const CA_SECRET = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:ClientCa-AbCdEf';
const CLIENT_SECRET = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:Inventory-GhIjKl';
const caProps: CaProperties = { Kind: 'ca', CaSecretArn: CA_SECRET, TruststoreBucket: 'truststores', TruststoreKey: 'truststore.pem', CommonName: 'Example CA', ValidityDays: '3650' };
const clientProps: ClientProperties = { Kind: 'client', CaSecretArn: CA_SECRET, ClientSecretArn: CLIENT_SECRET, CommonName: 'inventory', Organization: 'Example Corp', ValidityDays: '90', Generation: '0' };

/** A versioned bucket, as far as HeadObject and PutObject go: there is no S3 emulator with versions here. */
function versionedBucket() {
  const s3 = mockClient(S3Client);
  const versions: { body: string; metadata: Record<string, string>; versionId: string }[] = [];
  s3.on(PutObjectCommand).callsFake((input: { Body: string; Metadata: Record<string, string> }) => {
    versions.push({ body: String(input.Body), metadata: input.Metadata, versionId: `v${versions.length + 1}` });
    return { VersionId: versions[versions.length - 1].versionId };
  });
  s3.on(HeadObjectCommand).callsFake(() => {
    const current = versions[versions.length - 1];
    if (current === undefined) throw new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 } });
    return { VersionId: current.versionId, Metadata: current.metadata };
  });
  return { s3, versions };
}

describe('managed mTLS custom resources', () => {
  let secretsManager: LocalSecretsManager;
  let secrets: SecretsManagerClient;

  beforeEach(async () => {
    // The secrets start as CloudFormation creates them: a generated placeholder value.
    secretsManager = await LocalSecretsManager.start({ [CA_SECRET]: 'placeholder-Xq1', [CLIENT_SECRET]: 'placeholder-Zr2' });
    secrets = new SecretsManagerClient({ endpoint: secretsManager.endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS, requestHandler: new NodeHttpHandler() });
  });
  afterEach(async () => {
    secrets.destroy();
    await secretsManager.stop();
  });

  const secretValue = async (arn: string) => (await secretsManager.secrets.get(arn)!.getSecretValue({ SecretId: arn })).SecretString as string;
  const event = (RequestType: ProviderEvent['RequestType'], props: CaProperties | ClientProperties, extra: Partial<ProviderEvent> = {}): ProviderEvent =>
    ({ RequestType, ResourceProperties: props, ...extra });

  test('creating the CA stores it in its secret and writes its certificate as the truststore', async () => {
    // GIVEN an empty versioned bucket WHEN the CA resource is created
    const { s3, versions } = versionedBucket();
    const result = await onEvent(event('Create', caProps), { secrets, s3: new S3Client({}) });

    // THEN the secret holds a CA with its key, and the truststore is that CA's certificate
    const ca = parseCertificateAuthority(await secretValue(CA_SECRET));
    expect(ca).toBeDefined();
    expect(new X509Certificate(ca!.certificatePem).subject).toBe('CN=Example CA');
    expect(versions).toHaveLength(1);
    expect(versions[0].body).toBe(ca!.certificatePem);
    expect(versions[0].metadata.sha256).toBe(createHash('sha256').update(ca!.certificatePem).digest('hex'));
    expect(result).toEqual({ PhysicalResourceId: `${CA_SECRET}/ca`, Data: { TruststoreVersion: 'v1', CaSerialNumber: ca!.serialNumber, CaNotAfter: ca!.notAfter } });
    s3.restore();
  });

  test('an update keeps the CA and the truststore version, even when its options change', async () => {
    const { s3, versions } = versionedBucket();
    const deps = { secrets, s3: new S3Client({}) };
    const created = await onEvent(event('Create', caProps), deps);
    const updated = await onEvent(event('Update', { ...caProps, CommonName: 'Renamed CA' }, { PhysicalResourceId: created.PhysicalResourceId, OldResourceProperties: caProps }), deps);
    // Replacing the CA would invalidate every issued certificate: it is created once.
    expect(updated).toEqual(created);
    expect(versions).toHaveLength(1);
    s3.restore();
  });

  test('a client certificate is issued by the CA into the sender\'s secret', async () => {
    const { s3 } = versionedBucket();
    const deps = { secrets, s3: new S3Client({}) };
    await onEvent(event('Create', caProps), deps);

    const result = await onEvent(event('Create', clientProps), deps);

    const value = JSON.parse(await secretValue(CLIENT_SECRET)) as ClientSecretValue;
    const ca = parseCertificateAuthority(await secretValue(CA_SECRET))!;
    const certificate = new X509Certificate(value.certificate);
    expect(certificate.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(certificate.subject).toBe('CN=inventory\nO=Example Corp');
    expect(value.caCertificate).toBe(ca.certificatePem);
    expect(value.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(value.serialNumber).toBe(normalizeSerialNumber(certificate.serialNumber));
    expect(result).toEqual({
      PhysicalResourceId: `${CLIENT_SECRET}/${value.serialNumber}`,
      Data: { SerialNumber: value.serialNumber, NotAfter: value.notAfter, Subject: value.subject },
    });
    // About 90 days, from the issuing moment.
    expect(Date.parse(value.notAfter) - Date.now()).toBeGreaterThan(89 * 86_400_000);
    s3.restore();
  });

  test('a client certificate never outlives the CA: its notAfter is the CA\'s when the CA expires sooner', async () => {
    // GIVEN a CA valid 10 days
    const { s3 } = versionedBucket();
    const deps = { secrets, s3: new S3Client({}) };
    const created = await onEvent(event('Create', { ...caProps, ValidityDays: '10' }), deps);
    // WHEN a client of 90 days is issued
    const result = await onEvent(event('Create', clientProps), deps);
    // THEN the certificate, the sender's secret and the NotAfter the expiry alarm watches all end with the CA
    const value = JSON.parse(await secretValue(CLIENT_SECRET)) as ClientSecretValue;
    expect(value.notAfter).toBe(created.Data?.CaNotAfter);
    expect(new Date(new X509Certificate(value.certificate).validTo).toISOString()).toBe(created.Data?.CaNotAfter);
    expect(result.Data?.NotAfter).toBe(created.Data?.CaNotAfter);
    s3.restore();
  });

  test('an update with the same options issues nothing; changed options issue a new certificate', async () => {
    const { s3 } = versionedBucket();
    const deps = { secrets, s3: new S3Client({}) };
    await onEvent(event('Create', caProps), deps);
    const first = await onEvent(event('Create', clientProps), deps);
    const stored = await secretValue(CLIENT_SECRET);

    // WHEN CloudFormation sends an update whose options are the same (a new service token, say)
    const same = await onEvent(event('Update', clientProps, { PhysicalResourceId: first.PhysicalResourceId, OldResourceProperties: { ...clientProps, ServiceToken: 'old' } }), deps);
    expect(same).toEqual(first);
    expect(await secretValue(CLIENT_SECRET)).toBe(stored);

    // WHEN the generation is raised THEN a new serial, hence a new physical id (CloudFormation
    // then deletes the old one, and the old serial leaves the verifiers' allowlist)
    const reissued = await onEvent(event('Update', { ...clientProps, Generation: '1' }, { PhysicalResourceId: first.PhysicalResourceId, OldResourceProperties: clientProps }), deps);
    expect(reissued.Data?.SerialNumber).not.toBe(first.Data?.SerialNumber);
    expect(reissued.PhysicalResourceId).not.toBe(first.PhysicalResourceId);
    expect(JSON.parse(await secretValue(CLIENT_SECRET)).serialNumber).toBe(reissued.Data?.SerialNumber);
    s3.restore();
  });

  test('a rolled-back reissue gets the replaced certificate back, the one its allowlist names', async () => {
    const { s3 } = versionedBucket();
    const deps = { secrets, s3: new S3Client({}) };
    await onEvent(event('Create', caProps), deps);
    const first = await onEvent(event('Create', clientProps), deps);
    const firstCertificate = JSON.parse(await secretValue(CLIENT_SECRET)).certificate as string;
    const next = { ...clientProps, Generation: '1' };
    const reissued = await onEvent(event('Update', next, { PhysicalResourceId: first.PhysicalResourceId, OldResourceProperties: clientProps }), deps);

    // WHEN the deployment fails later and CloudFormation rolls this resource back to its old options
    const rolledBack = await onEvent(event('Update', clientProps, { PhysicalResourceId: reissued.PhysicalResourceId, OldResourceProperties: next }), deps);

    // THEN the first certificate is current again, not a third one
    expect(rolledBack).toEqual(first);
    expect(JSON.parse(await secretValue(CLIENT_SECRET)).certificate).toBe(firstCertificate);
    s3.restore();
  });

  test('the expiry check reports days to expiry, and fails on a date it cannot read', () => {
    const now = Date.parse('2026-11-23T00:00:00Z');
    expect(expiryReport({ Kind: 'expiryCheck', Certificates: [{ SerialNumber: 'a1', NotAfter: '2026-12-03T12:00:00.000Z' }, { SerialNumber: 'b2', NotAfter: '2026-11-22T00:00:00Z' }] }, now))
      .toEqual([{ serialNumber: 'a1', days: 10.5 }, { serialNumber: 'b2', days: -1 }]);
    expect(() => expiryReport({ Kind: 'expiryCheck', Certificates: [{ SerialNumber: 'c3', NotAfter: 'soon' }] }, now)).toThrow(/certificate c3 has an unreadable NotAfter 'soon'/);
  });

  test('a delete changes nothing: revocation is the allowlist\'s job', async () => {
    const { s3, versions } = versionedBucket();
    const deps = { secrets, s3: new S3Client({}) };
    await expect(onEvent(event('Delete', clientProps, { PhysicalResourceId: `${CLIENT_SECRET}/abc` }), deps)).resolves.toEqual({ PhysicalResourceId: `${CLIENT_SECRET}/abc` });
    await expect(onEvent(event('Delete', caProps, { PhysicalResourceId: `${CA_SECRET}/ca` }), deps)).resolves.toEqual({ PhysicalResourceId: `${CA_SECRET}/ca` });
    expect(secretsManager.calls).toEqual([]);
    expect(versions).toHaveLength(0);
    s3.restore();
  });

  test('fails when a client is issued before the CA exists, or the bucket is not versioned', async () => {
    const s3 = mockClient(S3Client);
    s3.on(HeadObjectCommand).rejects(new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 } }));
    s3.on(PutObjectCommand).resolves({});
    const deps = { secrets, s3: new S3Client({}) };
    await expect(onEvent(event('Create', clientProps), deps)).rejects.toThrow(/the gateway's client CA secret holds no CA/);
    await expect(onEvent(event('Create', caProps), deps)).rejects.toThrow(/the truststore bucket truststores is not versioned/);
    s3.restore();
  });

  test('the bundled handler answers CloudFormation on the response URL, without a key in its logs', async () => {
    // GIVEN a CA in its secret, and a stand-in for CloudFormation's pre-signed response URL
    const { s3 } = versionedBucket();
    await onEvent(event('Create', caProps), { secrets, s3: new S3Client({}) });
    s3.restore();
    const responses: Record<string, unknown>[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => { responses.push({ method: req.method, ...JSON.parse(body) }); res.end(); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
    const saved = process.env;
    let logged = '';
    try {
      const mod = loadBundledHandler<{ handler: (e: unknown) => Promise<void> }>(join(__dirname, '..', '..', '..', 'assets', 'mtls-ca'), {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint,
        AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      });
      const cfn = { StackId: 'stack-1', RequestId: 'req-1', LogicalResourceId: 'InventoryCertificate', ResponseURL: responseUrl };
      // WHEN CloudFormation creates a client, and then a CA whose bucket cannot be reached
      ({ output: logged } = await capturingOutput(async () => {
        await mod.handler({ ...cfn, RequestType: 'Create', ResourceType: 'Custom::WebhookGatewayMtlsClient', ResourceProperties: { ServiceToken: 'arn', ...clientProps } });
        await mod.handler({ ...cfn, RequestId: 'req-2', RequestType: 'Create', ResourceType: 'Custom::WebhookGatewayClientCa', ResourceProperties: { ServiceToken: 'arn', ...caProps } });
        // AND the scheduled expiry check runs
        await mod.handler({ Kind: 'expiryCheck', Certificates: [{ SerialNumber: 'a1b2', NotAfter: new Date(Date.now() + 10 * 86_400_000).toISOString() }] });
      }));
    } finally {
      process.env = saved;
      server.close();
    }
    // THEN each got one PUT: SUCCESS with the serial, then FAILED with a reason
    const serial = JSON.parse(await secretValue(CLIENT_SECRET)).serialNumber as string;
    expect(responses[0]).toEqual({
      method: 'PUT', Status: 'SUCCESS', StackId: 'stack-1', RequestId: 'req-1', LogicalResourceId: 'InventoryCertificate',
      PhysicalResourceId: `${CLIENT_SECRET}/${serial}`, Data: expect.objectContaining({ SerialNumber: serial }),
    });
    expect(responses[1]).toMatchObject({ method: 'PUT', Status: 'FAILED', RequestId: 'req-2', PhysicalResourceId: 'InventoryCertificate-failed', Reason: expect.any(String) });
    expect(logged).toContain(serial);
    expect(logged).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    // The check answers no one: it writes one EMF line per certificate, dimensioned by its serial alone.
    expect(responses).toHaveLength(2);
    const emf = logged.split('\n').filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ ClientCertificateSerial: 'a1b2', _aws: { CloudWatchMetrics: [{ Namespace: 'CdkWebhookIngress', Dimensions: [['ClientCertificateSerial']] }] } });
    expect(emf[0].ClientCertificateDaysToExpiry).toBeCloseTo(10, 1);
  });
});
