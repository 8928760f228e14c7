/**
 * A managed client certificate authority for API Gateway mutual TLS: creates the CA and issues
 * client certificates. Pure functions over node:crypto (Web Crypto) and @peculiar/x509; no AWS
 * SDK, no shelling out, no logging. Keys are ECDSA P-256, signatures ECDSA with SHA-256, which
 * API Gateway truststores accept.
 */
import 'reflect-metadata';
import { createPrivateKey, KeyObject, randomBytes, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { normalizeSerialNumber as normalizeRequestSerial } from '../common/http';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** A certificate and its private key, PEM, as stored in Secrets Manager (JSON). */
export interface CertificateMaterial {
  /** `-----BEGIN CERTIFICATE-----` */
  readonly certificatePem: string;
  /** PKCS#8, `-----BEGIN PRIVATE KEY-----` */
  readonly privateKeyPem: string;
  /** Lower-case hex, no separators, no leading zeros (how the verifier compares serials). */
  readonly serialNumber: string;
  /** The subject as an x509 name string, for example `CN=orders-service,O=Example Corp`. */
  readonly subject: string;
  /** ISO 8601. */
  readonly notBefore: string;
  /** ISO 8601. */
  readonly notAfter: string;
}

export interface CaOptions {
  readonly commonName: string;
  readonly validityDays: number;
  /** @default - the current time */
  readonly now?: Date;
}

export interface ClientOptions {
  readonly commonName: string;
  readonly organization?: string;
  readonly validityDays: number;
  /** @default - the current time */
  readonly now?: Date;
}

type WebCryptoKey = webcrypto.CryptoKey;
type X509CryptoKey = x509.X509CertificateCreateWithKeyParams['signingKey'];
type X509KeyPair = x509.X509CertificateCreateSelfSignedParams['keys'];

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** Backdating of notBefore, for clocks that run behind. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_VALIDITY_DAYS = 3650;
const NAME_PATTERN = /^[A-Za-z0-9 ._-]{1,64}$/;

/** Creates a self-signed CA (`CN=<commonName>`, cA=true, pathLen 0) with a new P-256 key. */
export async function createCertificateAuthority(options: CaOptions): Promise<CertificateMaterial> {
  const commonName = checkName('commonName', options.commonName);
  const validity = checkValidity(options.validityDays, options.now);
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [commonName] }],
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    keys: keys as unknown as X509KeyPair,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as X509CryptoKey),
    ],
  });
  return material(certificate, await exportPrivateKey(keys.privateKey));
}

/**
 * Issues a client certificate (`CN=<commonName>[,O=<organization>]`, clientAuth, not a CA) with a
 * new P-256 key, signed by the CA. Its validity never reaches past the CA's: `notAfter` is capped
 * at the CA's `notAfter` (and `notBefore` at the CA's `notBefore`), so the certificate, its
 * `notAfter` and the expiry alarm that watches it tell the truth about when it stops working.
 * Throws when the CA material is not a CA whose key matches, or when the CA has expired.
 */
export async function issueClientCertificate(
  ca: Pick<CertificateMaterial, 'certificatePem' | 'privateKeyPem'>,
  options: ClientOptions,
): Promise<CertificateMaterial> {
  const commonName = checkName('commonName', options.commonName);
  const organization = options.organization === undefined ? undefined : checkName('organization', options.organization);
  const validity = checkValidity(options.validityDays, options.now);
  const issuer = await loadIssuer(ca, validity.issuedAt);
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: clientSubject(commonName, organization),
    issuer: issuer.certificate.subjectName,
    ...withinCaValidity(validity, issuer.certificate),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey as unknown as X509CryptoKey,
    signingKey: issuer.signingKey as unknown as X509CryptoKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await authorityKeyIdentifierOf(issuer.certificate),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as X509CryptoKey),
    ],
  });
  return material(certificate, await exportPrivateKey(keys.privateKey));
}

/** The CA's certificate and its key, imported for signing; throws when the material is no usable CA at `issuedAt`. */
async function loadIssuer(
  ca: Pick<CertificateMaterial, 'certificatePem' | 'privateKeyPem'>,
  issuedAt: Date,
): Promise<{ certificate: x509.X509Certificate; signingKey: WebCryptoKey }> {
  const checked = checkCa(ca);
  if (typeof checked === 'string') {
    throw new Error(`Invalid CA material: ${checked}`);
  }
  const details = checked.privateKey.asymmetricKeyDetails;
  if (checked.privateKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
    throw new Error('Invalid CA material: the CA key must be ECDSA P-256');
  }
  const certificate = new x509.X509Certificate(checked.certificatePem);
  if (certificate.notAfter.getTime() <= issuedAt.getTime()) {
    throw new Error(`The CA expired on ${certificate.notAfter.toISOString()}; a certificate it issues would never be valid. Create a new CA`);
  }
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    checked.privateKey.export({ type: 'pkcs8', format: 'der' }),
    KEY_ALGORITHM,
    false,
    ['sign'],
  );
  return { certificate, signingKey };
}

/** The validity asked for, capped at the CA's own. */
function withinCaValidity(validity: { notBefore: Date; notAfter: Date }, caCertificate: x509.X509Certificate): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: new Date(Math.max(validity.notBefore.getTime(), caCertificate.notBefore.getTime())),
    notAfter: new Date(Math.min(validity.notAfter.getTime(), caCertificate.notAfter.getTime())),
  };
}

/** The CA's key identifier, or one computed from its public key when the CA names none. */
async function authorityKeyIdentifierOf(caCertificate: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const caKeyId = caCertificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  return caKeyId
    ? new x509.AuthorityKeyIdentifierExtension(caKeyId)
    : x509.AuthorityKeyIdentifierExtension.create(await caCertificate.publicKey.export());
}

function clientSubject(commonName: string, organization: string | undefined): Array<Record<string, string[]>> {
  const subject: Array<Record<string, string[]>> = [{ CN: [commonName] }];
  if (organization !== undefined) {
    subject.push({ O: [organization] });
  }
  return subject;
}

/** Lower-case hex without separators or leading zeros, from forms like 'A1:0B:...', '0a0b', 'a1b2'. */
export function normalizeSerialNumber(serial: string): string {
  // The verifier's normalization (which never throws on a request), with the input checked.
  const hex = normalizeRequestSerial(serial);
  if (!/^[0-9a-f]+$/.test(hex)) {
    throw new Error('A serial number must be hexadecimal digits, optionally separated by colons');
  }
  return hex;
}

/**
 * The CA in a secret value: a CertificateMaterial JSON whose certificate is self-signed, has
 * basicConstraints cA=true and matches the private key. Anything else (a placeholder, a client
 * certificate, a mismatched key) is `undefined`. Expiry is not checked. The descriptive fields
 * are read from the certificate, not taken from the JSON.
 */
export function parseCertificateAuthority(secretString: string): CertificateMaterial | undefined {
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const { certificatePem, privateKeyPem } = value as Record<string, unknown>;
  if (typeof certificatePem !== 'string' || typeof privateKeyPem !== 'string') {
    return undefined;
  }
  const checked = checkCa({ certificatePem, privateKeyPem });
  if (typeof checked === 'string') {
    return undefined;
  }
  return material(new x509.X509Certificate(checked.certificatePem), privateKeyPem);
}

interface CheckedCa {
  readonly certificatePem: string;
  readonly privateKey: KeyObject;
}

/** The CA's parsed key, or why the material is not a usable CA. Never quotes the key. */
function checkCa(ca: Pick<CertificateMaterial, 'certificatePem' | 'privateKeyPem'>): CheckedCa | string {
  if (typeof ca?.certificatePem !== 'string' || typeof ca.privateKeyPem !== 'string') {
    return 'certificatePem and privateKeyPem must be PEM strings';
  }
  let certificate: NodeX509Certificate;
  try {
    certificate = new NodeX509Certificate(ca.certificatePem);
  } catch {
    return 'certificatePem is not a PEM certificate';
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: ca.privateKeyPem, format: 'pem' });
  } catch {
    return 'privateKeyPem is not a PEM private key';
  }
  if (!certificate.ca) {
    return 'the certificate is not a CA (basicConstraints cA is not true)';
  }
  if (!certificate.checkIssued(certificate) || !certificate.verify(certificate.publicKey)) {
    return 'the certificate is not self-signed';
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    return 'the private key does not match the certificate';
  }
  return { certificatePem: ca.certificatePem, privateKey };
}

function material(certificate: x509.X509Certificate, privateKeyPem: string): CertificateMaterial {
  return {
    certificatePem: `${certificate.toString('pem')}\n`, // ends in a newline, so PEMs concatenate into a bundle
    privateKeyPem,
    serialNumber: normalizeSerialNumber(certificate.serialNumber),
    subject: nameString(certificate.subjectName),
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
  };
}

/** `CN=a,O=b`: RDNs joined by commas without spaces, values escaped as RFC 4514 asks. */
function nameString(name: x509.Name): string {
  return name.toJSON()
    .map((rdn) => Object.entries(rdn).flatMap(([type, values]) => values.map((value) => `${type}=${escapeDnValue(value)}`)).join('+'))
    .join(',');
}

function escapeDnValue(value: string): string {
  if (value.startsWith('#') && /^#([0-9a-f]{2})+$/i.test(value)) {
    return value; // a hex-encoded value, as @peculiar/x509 renders non-string values
  }
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ');
}

function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new Error(`${field} must be 1 to 64 characters of letters, digits, spaces, '.', '_' and '-'`);
  }
  if (value.trim() !== value) {
    throw new Error(`${field} must not start or end with a space`);
  }
  return value;
}

function checkValidity(validityDays: unknown, now: Date | undefined): { issuedAt: Date; notBefore: Date; notAfter: Date } {
  if (typeof validityDays !== 'number' || !Number.isInteger(validityDays) || validityDays < 1 || validityDays > MAX_VALIDITY_DAYS) {
    throw new Error(`validityDays must be a whole number of days from 1 to ${MAX_VALIDITY_DAYS}`);
  }
  const at = now ?? new Date();
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
    throw new Error('now must be a valid Date');
  }
  return {
    issuedAt: at,
    notBefore: new Date(at.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(at.getTime() + validityDays * DAY_MS),
  };
}

/** 16 random bytes, positive, first byte 0x10..0x7f so the hex has neither sign nor leading zero. */
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  while ((bytes[0] & 0x7f) < 0x10) {
    bytes[0] = randomBytes(1)[0];
  }
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

async function generateKeyPair(): Promise<{ publicKey: WebCryptoKey; privateKey: WebCryptoKey }> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
}

async function exportPrivateKey(key: WebCryptoKey): Promise<string> {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}
