/**
 * The managed client CA for mutual TLS: certificates it issues must verify with openssl against the
 * CA alone, and a TLS server that trusts only the CA must accept them and nothing else.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, KeyObject, webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import {
  createCertificateAuthority,
  issueClientCertificate,
  normalizeSerialNumber,
  parseCertificateAuthority,
  type CertificateMaterial,
} from '../../../lambda/mtls-ca/client-ca';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 24 * 60 * 60 * 1000;

type X509Key = x509.X509CertificateCreateWithKeyParams['signingKey'];
type X509KeyPair = x509.X509CertificateCreateSelfSignedParams['keys'];

/** Test only: a self-signed certificate made with @peculiar/x509 directly, not by the module under test. */
async function selfSigned(name: string, extensions: (keys: webcrypto.CryptoKeyPair) => Promise<x509.Extension[]>): Promise<{ cert: string; key: string }> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + DAY_MS),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys: keys as unknown as X509KeyPair,
    extensions: await extensions(keys),
  }, webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return { cert: cert.toString('pem'), key: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** Test only: the TLS server's certificate, for 127.0.0.1 and localhost. */
const serverCertificate = () => selfSigned('CN=localhost', async () => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
  new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }, { type: 'dns', value: 'localhost' }]),
]);

/** Test only: a client certificate signed by nobody but itself. */
const selfSignedClient = () => selfSigned('CN=orders-service,O=Example Corp', async (keys) => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as X509Key),
]);

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The openssl verify error, or undefined when it verified. */
function opensslVerifyError(...args: string[]): string | undefined {
  try {
    openssl('verify', ...args);
    return undefined;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
}

describe('createCertificateAuthority and issueClientCertificate', () => {
  let dir: string;
  let ca: CertificateMaterial;
  let client: CertificateMaterial;
  let otherCa: CertificateMaterial;
  let fromOtherCa: CertificateMaterial;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'client-ca-'));
    ca = await createCertificateAuthority({ commonName: 'Example Webhook Client CA', validityDays: 3650 });
    client = await issueClientCertificate(ca, { commonName: 'orders-service', organization: 'Example Corp', validityDays: 365 });
    // Same name as the managed CA, different key: only the signature tells them apart.
    otherCa = await createCertificateAuthority({ commonName: 'Example Webhook Client CA', validityDays: 3650 });
    fromOtherCa = await issueClientCertificate(otherCa, { commonName: 'orders-service', organization: 'Example Corp', validityDays: 365 });
    writeFileSync(join(dir, 'ca.pem'), ca.certificatePem);
    writeFileSync(join(dir, 'client.pem'), client.certificatePem);
    writeFileSync(join(dir, 'other-ca.pem'), otherCa.certificatePem);
    writeFileSync(join(dir, 'from-other-ca.pem'), fromOtherCa.certificatePem);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('openssl verifies the client certificate against the CA alone, for client authentication', () => {
    // WHEN
    const out = openssl('verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslclient', '-x509_strict', join(dir, 'client.pem'));
    // THEN
    expect(out).toMatch(/client\.pem: OK/);
  });

  test('fails openssl verify for a certificate from another CA with the same name', () => {
    // WHEN
    const error = opensslVerifyError('-CAfile', join(dir, 'ca.pem'), join(dir, 'from-other-ca.pem'));
    // THEN
    expect(error).toMatch(/certificate signature failure|unable to get local issuer certificate/);
    // ...while its own CA accepts it, so the failure is the issuer's and not the certificate's.
    expect(opensslVerifyError('-CAfile', join(dir, 'other-ca.pem'), join(dir, 'from-other-ca.pem'))).toBeUndefined();
  });

  test('the CA is a self-signed P-256 CA with pathlen 0 that may only sign certificates and CRLs', () => {
    // WHEN
    const text = openssl('x509', '-noout', '-text', '-in', join(dir, 'ca.pem'));
    const cert = new X509Certificate(ca.certificatePem);
    // THEN
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(text).toMatch(/X509v3 Subject Key Identifier/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/NIST CURVE: P-256/);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=Example Webhook Client CA');
    expect(cert.issuer).toBe(cert.subject);
    expect(ca.subject).toBe('CN=Example Webhook Client CA');
    expect(ca.certificatePem).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    expect(ca.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    expect(cert.checkPrivateKey(createPrivateKey(ca.privateKeyPem))).toBe(true);
    expect(ca.serialNumber).toBe(normalizeSerialNumber(cert.serialNumber));
  });

  test('the client certificate is a clientAuth leaf issued by the CA, with its serial in normalized form', () => {
    // WHEN
    const text = openssl('x509', '-noout', '-text', '-in', join(dir, 'client.pem'));
    const cert = new X509Certificate(client.certificatePem);
    const caKeyId = /X509v3 Subject Key Identifier:\s+([0-9A-F:]+)/.exec(openssl('x509', '-noout', '-text', '-in', join(dir, 'ca.pem')))?.[1];
    // THEN
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(text).toMatch(/X509v3 Subject Key Identifier/);
    expect(caKeyId).toBeDefined();
    expect(/X509v3 Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1]).toBe(caKeyId);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual([CLIENT_AUTH]);
    expect(cert.subject).toBe('CN=orders-service\nO=Example Corp');
    expect(cert.issuer).toBe('CN=Example Webhook Client CA');
    expect(cert.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(client.privateKeyPem))).toBe(true);
    expect(client.subject).toBe('CN=orders-service,O=Example Corp');
    expect(client.serialNumber).toBe(normalizeSerialNumber(cert.serialNumber));
    expect(client.serialNumber).toMatch(/^[1-7][0-9a-f]{31}$/);
    expect(client.serialNumber).not.toBe(fromOtherCa.serialNumber);
  });

  test('notBefore is 5 minutes before now and notAfter validityDays after, as the certificate says', async () => {
    // GIVEN
    const now = new Date('2030-01-15T12:00:00.000Z');
    // WHEN
    const issued = await issueClientCertificate(ca, { commonName: 'billing', validityDays: 30, now });
    const cert = new X509Certificate(issued.certificatePem);
    // THEN
    expect(issued.notBefore).toBe('2030-01-15T11:55:00.000Z');
    expect(issued.notAfter).toBe('2030-02-14T12:00:00.000Z');
    expect(new Date(cert.validFrom).toISOString()).toBe(issued.notBefore);
    expect(new Date(cert.validTo).toISOString()).toBe(issued.notAfter);
    expect(issued.subject).toBe('CN=billing');
  });

  test('notAfter is capped at the CA\'s notAfter when the requested validity would outlive the CA', async () => {
    // GIVEN a CA that expires in 10 days
    const createdAt = new Date('2030-01-01T00:00:00.000Z');
    const shortCa = await createCertificateAuthority({ commonName: 'Short-lived CA', validityDays: 10, now: createdAt });
    // WHEN a client certificate of 365 days is issued a day later
    const issued = await issueClientCertificate(shortCa, { commonName: 'billing', validityDays: 365, now: new Date('2030-01-02T00:00:00.000Z') });
    // THEN it ends when the CA ends, and the certificate itself says so
    expect(shortCa.notAfter).toBe('2030-01-11T00:00:00.000Z');
    expect(issued.notAfter).toBe(shortCa.notAfter);
    expect(new Date(new X509Certificate(issued.certificatePem).validTo).toISOString()).toBe(shortCa.notAfter);
    expect(issued.notBefore).toBe('2030-01-01T23:55:00.000Z');
    // AND a validity that ends before the CA's is left as asked
    const within = await issueClientCertificate(shortCa, { commonName: 'billing', validityDays: 3, now: new Date('2030-01-02T00:00:00.000Z') });
    expect(within.notAfter).toBe('2030-01-05T00:00:00.000Z');
  });

  test('notBefore is never before the CA\'s notBefore', async () => {
    // GIVEN a CA created at noon WHEN a certificate is issued with a clock an hour behind
    const shortCa = await createCertificateAuthority({ commonName: 'Short-lived CA', validityDays: 10, now: new Date('2030-01-01T12:00:00.000Z') });
    const issued = await issueClientCertificate(shortCa, { commonName: 'billing', validityDays: 5, now: new Date('2030-01-01T11:00:00.000Z') });
    // THEN it starts when the CA starts
    expect(issued.notBefore).toBe(shortCa.notBefore);
  });

  test('fails when the CA has expired', async () => {
    const shortCa = await createCertificateAuthority({ commonName: 'Short-lived CA', validityDays: 1, now: new Date('2030-01-01T00:00:00.000Z') });
    await expect(issueClientCertificate(shortCa, { commonName: 'billing', validityDays: 30, now: new Date('2030-01-02T00:00:00.000Z') }))
      .rejects.toThrow(/The CA expired on 2030-01-02T00:00:00.000Z; a certificate it issues would never be valid/);
  });
});

interface Outcome {
  readonly status?: number;
  readonly body?: string;
  readonly error?: NodeJS.ErrnoException;
}

describe('mutual TLS against a server that trusts only the managed CA', () => {
  let server: https.Server;
  let port: number;
  let serverCert: string;
  let ca: CertificateMaterial;
  let client: CertificateMaterial;
  /** What the server reported for each rejected connection: OpenSSL's verify code, else the error. */
  const serverErrors: string[] = [];

  beforeAll(async () => {
    ca = await createCertificateAuthority({ commonName: 'Example Webhook Client CA', validityDays: 365 });
    client = await issueClientCertificate(ca, { commonName: 'orders-service', organization: 'Example Corp', validityDays: 30 });
    const tls = await serverCertificate();
    serverCert = tls.cert;
    server = https.createServer({ key: tls.key, cert: tls.cert, requestCert: true, rejectUnauthorized: true, ca: ca.certificatePem }, (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ authorized: socket.authorized, serialNumber: peer.serialNumber, subject: peer.subject }));
    });
    // Node's TLS server finishes the handshake, then destroys a socket whose client certificate did not
    // verify; the reason is the socket's authorizationError (an OpenSSL code), the error is generic.
    server.on('tlsClientError', (err, socket) => serverErrors.push(String(socket.authorizationError ?? err.message)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** One request on a fresh connection (no agent, so no session reuse), trusting the server's certificate. */
  function call(credentials?: { cert: string; key: string }): Promise<Outcome> {
    return new Promise((resolve) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/', agent: false, ca: serverCert, ...credentials }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { body += chunk; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
        res.on('error', (error) => resolve({ status: res.statusCode, error }));
      });
      req.setTimeout(5_000, () => req.destroy(new Error('timed out')));
      req.on('error', (error) => resolve({ error }));
      req.end();
    });
  }

  /** Calls, and returns the client's outcome with the error the server reported for that connection. */
  async function rejected(credentials?: { cert: string; key: string }): Promise<{ outcome: Outcome; serverError?: string }> {
    const before = serverErrors.length;
    const outcome = await call(credentials);
    for (let i = 0; i < 50 && serverErrors.length === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { outcome, serverError: serverErrors[before] };
  }

  test('accepts the issued client certificate, and the server sees its serial number', async () => {
    // WHEN
    const outcome = await call({ cert: client.certificatePem, key: client.privateKeyPem });
    // THEN
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe(200);
    const seen = JSON.parse(outcome.body!) as { authorized: boolean; serialNumber: string; subject: { CN: string; O: string } };
    expect(seen.authorized).toBe(true);
    expect(normalizeSerialNumber(seen.serialNumber)).toBe(client.serialNumber);
    expect(seen.subject).toEqual({ CN: 'orders-service', O: 'Example Corp' });
  });

  test('fails when the client certificate is self-signed', async () => {
    // GIVEN
    const forged = await selfSignedClient();
    // WHEN
    const { outcome, serverError } = await rejected(forged);
    // THEN
    expect(outcome.status).not.toBe(200);
    expect(outcome.error).toBeDefined();
    expect(serverError).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  test('fails when the client certificate from the same CA has expired', async () => {
    // GIVEN
    const expired = await issueClientCertificate(ca, {
      commonName: 'orders-service', organization: 'Example Corp', validityDays: 30, now: new Date(Date.now() - 400 * DAY_MS),
    });
    // WHEN
    const { outcome, serverError } = await rejected({ cert: expired.certificatePem, key: expired.privateKeyPem });
    // THEN
    expect(outcome.status).not.toBe(200);
    expect(outcome.error).toBeDefined();
    expect(serverError).toBe('CERT_HAS_EXPIRED');
  });

  test('fails when the client certificate is from another managed CA, even one with the same name', async () => {
    // GIVEN
    const otherCa = await createCertificateAuthority({ commonName: 'Example Webhook Client CA', validityDays: 365 });
    const foreign = await issueClientCertificate(otherCa, { commonName: 'orders-service', organization: 'Example Corp', validityDays: 30 });
    // WHEN
    const { outcome, serverError } = await rejected({ cert: foreign.certificatePem, key: foreign.privateKeyPem });
    // THEN
    expect(outcome.status).not.toBe(200);
    expect(outcome.error).toBeDefined();
    // The CA's key identifier does not match the certificate's authority key identifier, so OpenSSL
    // finds no issuer; with the key identifier gone it would fail on the signature instead.
    expect(serverError).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE)$/);
  });

  test('fails when the client sends no certificate', async () => {
    // WHEN
    const { outcome, serverError } = await rejected();
    // THEN
    expect(outcome.status).not.toBe(200);
    expect(outcome.error).toBeDefined();
    expect(serverError).toMatch(/peer did not return a certificate/);
  });
});

describe('normalizeSerialNumber', () => {
  test('lower-case hex without separators or leading zeros', () => {
    expect(normalizeSerialNumber('A1:0B:FF')).toBe('a10bff');
    expect(normalizeSerialNumber('00a1')).toBe('a1');
    expect(normalizeSerialNumber('0a0b')).toBe('a0b');
    expect(normalizeSerialNumber('a1b2')).toBe('a1b2');
    expect(normalizeSerialNumber('00:00:7F')).toBe('7f');
  });

  test('zero stays one digit', () => {
    expect(normalizeSerialNumber('0')).toBe('0');
    expect(normalizeSerialNumber('00:00')).toBe('0');
  });

  test('fails when the serial is not hexadecimal', () => {
    expect(() => normalizeSerialNumber('')).toThrow(/hexadecimal/);
    expect(() => normalizeSerialNumber('zz:01')).toThrow(/hexadecimal/);
  });
});

describe('parseCertificateAuthority', () => {
  let ca: CertificateMaterial;
  let otherCa: CertificateMaterial;

  beforeAll(async () => {
    ca = await createCertificateAuthority({ commonName: 'Example Webhook Client CA', validityDays: 365 });
    otherCa = await createCertificateAuthority({ commonName: 'Example Webhook Client CA', validityDays: 365 });
  });

  test('accepts a stored CA', () => {
    // WHEN
    const parsed = parseCertificateAuthority(JSON.stringify(ca));
    // THEN
    expect(parsed).toEqual(ca);
  });

  test('fails when the secret is a placeholder or not CA material', () => {
    expect(parseCertificateAuthority('9f8c2d7e-placeholder')).toBeUndefined();
    expect(parseCertificateAuthority('')).toBeUndefined();
    expect(parseCertificateAuthority('null')).toBeUndefined();
    expect(parseCertificateAuthority('{"certificatePem":"x","privateKeyPem":"y"}')).toBeUndefined();
    expect(parseCertificateAuthority(JSON.stringify({ certificatePem: ca.certificatePem }))).toBeUndefined();
  });

  test('fails when the material is a client certificate', async () => {
    // GIVEN
    const client = await issueClientCertificate(ca, { commonName: 'orders-service', validityDays: 30 });
    // THEN
    expect(parseCertificateAuthority(JSON.stringify(client))).toBeUndefined();
  });

  test('fails when the private key does not match the certificate', () => {
    // GIVEN
    const mismatched = { ...ca, privateKeyPem: otherCa.privateKeyPem };
    // THEN
    expect(parseCertificateAuthority(JSON.stringify(mismatched))).toBeUndefined();
  });
});

describe('input validation', () => {
  let ca: CertificateMaterial;

  beforeAll(async () => {
    ca = await createCertificateAuthority({ commonName: 'Example Webhook Client CA', validityDays: 365 });
  });

  test('fails when a common name is empty, too long, or could change the DN', async () => {
    await expect(createCertificateAuthority({ commonName: '', validityDays: 30 })).rejects.toThrow(/commonName must be 1 to 64 characters/);
    await expect(createCertificateAuthority({ commonName: 'x'.repeat(65), validityDays: 30 })).rejects.toThrow(/commonName must be 1 to 64/);
    await expect(createCertificateAuthority({ commonName: 'CA,O=Evil', validityDays: 30 })).rejects.toThrow(/commonName must be/);
    await expect(issueClientCertificate(ca, { commonName: 'svc+OU=x', validityDays: 30 })).rejects.toThrow(/commonName must be/);
    await expect(issueClientCertificate(ca, { commonName: ' svc', validityDays: 30 })).rejects.toThrow(/must not start or end with a space/);
    await expect(issueClientCertificate(ca, { commonName: 'x'.repeat(64), validityDays: 30 })).resolves.toMatchObject({ subject: `CN=${'x'.repeat(64)}` });
  });

  test('fails when an organization could change the DN', async () => {
    await expect(issueClientCertificate(ca, { commonName: 'svc', organization: 'Evil, Inc', validityDays: 30 })).rejects.toThrow(/organization must be/);
    await expect(issueClientCertificate(ca, { commonName: 'svc', organization: 'A=B', validityDays: 30 })).rejects.toThrow(/organization must be/);
    await expect(issueClientCertificate(ca, { commonName: 'svc', organization: '', validityDays: 30 })).rejects.toThrow(/organization must be/);
  });

  test('fails when validityDays is not a whole number from 1 to 3650', async () => {
    for (const validityDays of [0, -1, 3651, 1.5, Number.NaN, '30' as unknown as number]) {
      await expect(createCertificateAuthority({ commonName: 'ca', validityDays })).rejects.toThrow(/validityDays must be a whole number of days from 1 to 3650/);
      await expect(issueClientCertificate(ca, { commonName: 'svc', validityDays })).rejects.toThrow(/validityDays must be/);
    }
  });

  test('fails when now is not a valid date', async () => {
    await expect(createCertificateAuthority({ commonName: 'ca', validityDays: 30, now: new Date('nope') })).rejects.toThrow(/now must be a valid Date/);
  });

  test('fails when the CA material is not a CA with its key', async () => {
    // GIVEN
    const client = await issueClientCertificate(ca, { commonName: 'svc', validityDays: 30 });
    const otherCa = await createCertificateAuthority({ commonName: 'other', validityDays: 30 });
    const options = { commonName: 'svc', validityDays: 30 };
    // THEN
    await expect(issueClientCertificate(client, options)).rejects.toThrow(/Invalid CA material: the certificate is not a CA/);
    await expect(issueClientCertificate({ certificatePem: ca.certificatePem, privateKeyPem: otherCa.privateKeyPem }, options))
      .rejects.toThrow(/Invalid CA material: the private key does not match the certificate/);
    await expect(issueClientCertificate({ certificatePem: 'nope', privateKeyPem: ca.privateKeyPem }, options)).rejects.toThrow(/Invalid CA material: certificatePem is not a PEM certificate/);
    await expect(issueClientCertificate({ certificatePem: ca.certificatePem, privateKeyPem: 'nope' }, options)).rejects.toThrow(/Invalid CA material: privateKeyPem is not a PEM private key/);
  });

  test('the error about CA material never quotes the key', async () => {
    const otherCa = await createCertificateAuthority({ commonName: 'other', validityDays: 30 });
    const error = await issueClientCertificate({ certificatePem: ca.certificatePem, privateKeyPem: otherCa.privateKeyPem }, { commonName: 'svc', validityDays: 30 })
      .catch((e: Error) => e);
    expect(String((error as Error).message)).not.toContain('PRIVATE KEY');
    expect(String((error as Error).message)).not.toContain(otherCa.privateKeyPem.split('\n')[1]);
  });
});
