/**
 * The CloudFormation custom resources behind a WebhookGateway's managed mutual TLS:
 * - `ca`: the gateway's client CA. Created once and kept in its Secrets Manager secret; its
 *   certificate is the truststore object the custom domain is pinned to (by S3 object version).
 * - `client`: one sender's client certificate, issued by that CA into the sender's own secret.
 *   An update whose options did not change issues nothing; changed options issue a new
 *   certificate (a new physical id), and the old serial drops out of the verifiers' allowlist.
 *
 * Pure wiring over injected SDK clients; key material never reaches a log or a response.
 */
import { createHash } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createCertificateAuthority, issueClientCertificate, parseCertificateAuthority, type CertificateMaterial } from './client-ca';
import { daysToExpiry } from '../common/credentials';

/** The properties of the `ca` resource, as the construct writes them. */
export interface CaProperties {
  readonly Kind: 'ca';
  readonly CaSecretArn: string;
  readonly TruststoreBucket: string;
  readonly TruststoreKey: string;
  readonly CommonName: string;
  readonly ValidityDays: string;
}

/** The properties of a `client` resource. */
export interface ClientProperties {
  readonly Kind: 'client';
  readonly CaSecretArn: string;
  readonly ClientSecretArn: string;
  readonly CommonName: string;
  readonly Organization?: string;
  readonly ValidityDays: string;
  /** Changed by the construct's `reissue` option to force a new certificate with the same options. */
  readonly Generation?: string;
}

type Properties = CaProperties | ClientProperties;

/** The part of a CloudFormation custom resource event this provider reads. */
export interface ProviderEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Properties & { readonly ServiceToken?: string };
  readonly OldResourceProperties?: Properties & { readonly ServiceToken?: string };
}

export interface ProviderResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

export interface ProviderDependencies {
  readonly secrets: SecretsManagerClient;
  readonly s3: S3Client;
  readonly now?: () => Date;
}

/** What a sender's secret holds: the certificate, its key, and the CA that issued it. */
export interface ClientSecretValue {
  readonly certificate: string;
  readonly privateKey: string;
  readonly caCertificate: string;
  readonly serialNumber: string;
  readonly subject: string;
  readonly notAfter: string;
  /** The options it was issued for (see clientOptions). */
  readonly options?: string;
  /**
   * The certificate this one replaced, kept so that a rolled-back deployment gets it back rather
   * than a third certificate its restored allowlist does not name.
   */
  readonly previous?: Omit<ClientSecretValue, 'previous'>;
}

function validityDays(value: string): number {
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1) throw new Error(`ValidityDays must be a whole number of days, got '${value}'`);
  return days;
}

async function readSecret(deps: ProviderDependencies, secretId: string): Promise<string | undefined> {
  const { SecretString } = await deps.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
  return SecretString;
}

async function readCa(deps: ProviderDependencies, caSecretArn: string): Promise<CertificateMaterial | undefined> {
  const value = await readSecret(deps, caSecretArn);
  return value === undefined ? undefined : parseCertificateAuthority(value);
}

/** The CA of the secret, or a new one written to it. The secret starts with a placeholder value. */
async function ensureCa(deps: ProviderDependencies, props: CaProperties): Promise<CertificateMaterial> {
  const existing = await readCa(deps, props.CaSecretArn);
  if (existing !== undefined) return existing;
  const ca = await createCertificateAuthority({ commonName: props.CommonName, validityDays: validityDays(props.ValidityDays), now: deps.now?.() });
  await deps.secrets.send(new PutSecretValueCommand({ SecretId: props.CaSecretArn, SecretString: JSON.stringify(ca) }));
  return ca;
}

/** Writes the truststore unless the current object already holds it, and returns its version. */
async function ensureTruststore(deps: ProviderDependencies, props: CaProperties, pem: string): Promise<string> {
  const sha256 = createHash('sha256').update(pem, 'utf8').digest('hex');
  try {
    const head = await deps.s3.send(new HeadObjectCommand({ Bucket: props.TruststoreBucket, Key: props.TruststoreKey }));
    if (head.Metadata?.sha256 === sha256 && head.VersionId !== undefined) return head.VersionId;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404) throw error;
  }
  const put = await deps.s3.send(new PutObjectCommand({
    Bucket: props.TruststoreBucket,
    Key: props.TruststoreKey,
    Body: pem,
    ContentType: 'application/x-pem-file',
    Metadata: { sha256 },
  }));
  if (put.VersionId === undefined) throw new Error(`the truststore bucket ${props.TruststoreBucket} is not versioned`);
  return put.VersionId;
}

async function issue(deps: ProviderDependencies, props: ClientProperties, current: ClientSecretValue | undefined): Promise<ProviderResult> {
  const ca = await readCa(deps, props.CaSecretArn);
  if (ca === undefined) throw new Error('the gateway\'s client CA secret holds no CA; it is created by the gateway\'s ClientCa resource');
  const issued = await issueClientCertificate(ca, {
    commonName: props.CommonName,
    organization: props.Organization,
    validityDays: validityDays(props.ValidityDays),
    now: deps.now?.(),
  });
  const value: ClientSecretValue = {
    certificate: issued.certificatePem,
    privateKey: issued.privateKeyPem,
    caCertificate: ca.certificatePem,
    serialNumber: issued.serialNumber,
    subject: issued.subject,
    notAfter: issued.notAfter,
    options: clientOptions(props),
    ...(current === undefined ? {} : { previous: withoutPrevious(current) }),
  };
  await deps.secrets.send(new PutSecretValueCommand({ SecretId: props.ClientSecretArn, SecretString: JSON.stringify(value) }));
  return clientResult(props, value);
}

function withoutPrevious(value: ClientSecretValue): Omit<ClientSecretValue, 'previous'> {
  const { previous: _older, ...rest } = value;
  return rest;
}

/** The certificate in the sender's secret, if it holds one (it starts with a placeholder). */
async function storedClient(deps: ProviderDependencies, secretArn: string): Promise<ClientSecretValue | undefined> {
  const stored = await readSecret(deps, secretArn);
  try {
    const value = stored === undefined ? undefined : JSON.parse(stored) as Partial<ClientSecretValue>;
    return typeof value?.serialNumber === 'string' && typeof value.certificate === 'string' ? value as ClientSecretValue : undefined;
  } catch {
    return undefined;
  }
}

function clientResult(props: ClientProperties, value: ClientSecretValue): ProviderResult {
  return {
    PhysicalResourceId: `${props.ClientSecretArn}/${value.serialNumber}`,
    Data: { SerialNumber: value.serialNumber, NotAfter: value.notAfter, Subject: value.subject },
  };
}

/** The options that decide a client certificate: any change issues a new one. */
function clientOptions(props: ClientProperties): string {
  return JSON.stringify([props.CaSecretArn, props.ClientSecretArn, props.CommonName, props.Organization ?? '', props.ValidityDays, props.Generation ?? '']);
}

/** Handles one custom resource event. Throws to fail the deployment step, with a message safe to show. */
export async function onEvent(event: ProviderEvent, deps: ProviderDependencies): Promise<ProviderResult> {
  const props = event.ResourceProperties;
  if (props.Kind === 'ca') {
    const physicalId = `${props.CaSecretArn}/ca`;
    // The CA and the truststore outlive a deletion of this resource only as long as their secret
    // and bucket do: both are the stack's own resources, deleted (or retained) with it.
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId ?? physicalId };
    const ca = await ensureCa(deps, props);
    const version = await ensureTruststore(deps, props, ca.certificatePem);
    return { PhysicalResourceId: physicalId, Data: { TruststoreVersion: version, CaSerialNumber: ca.serialNumber, CaNotAfter: ca.notAfter } };
  }
  if (props.Kind === 'client') {
    // Deleting the old physical id after a reissue, or the client itself: nothing to undo here.
    // The certificate is revoked by leaving the verifiers' allowlist of serial numbers.
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId as string };
    const current = event.RequestType === 'Update' ? await storedClient(deps, props.ClientSecretArn) : undefined;
    const old = event.OldResourceProperties;
    if (current !== undefined && old?.Kind === 'client' && clientOptions(old) === clientOptions(props)) return clientResult(props, current);
    if (current?.previous !== undefined && current.previous.options === clientOptions(props)) {
      // A rollback to the options of the certificate this one replaced: that certificate again.
      const restored: ClientSecretValue = { ...current.previous, previous: withoutPrevious(current) };
      await deps.secrets.send(new PutSecretValueCommand({ SecretId: props.ClientSecretArn, SecretString: JSON.stringify(restored) }));
      return clientResult(props, restored);
    }
    return issue(deps, props, current);
  }
  throw new Error(`unknown resource kind '${(props as { Kind?: unknown }).Kind}'`);
}

/**
 * The scheduled check of a gateway's client certificates: their serial numbers and expiry dates,
 * as the construct knows them from the custom resources. The check reports their days to expiry,
 * so that the expiry alarms also watch certificates that are not in use.
 */
export interface ExpiryCheckEvent {
  readonly Kind: 'expiryCheck';
  readonly Certificates: readonly { readonly SerialNumber: string; readonly NotAfter: string }[];
}

export function isExpiryCheck(event: unknown): event is ExpiryCheckEvent {
  return typeof event === 'object' && event !== null && (event as { Kind?: unknown }).Kind === 'expiryCheck'
    && Array.isArray((event as { Certificates?: unknown }).Certificates);
}

/** Days to expiry per serial number; an unreadable date fails the check rather than hiding it. */
export function expiryReport(event: ExpiryCheckEvent, nowMs: number): { serialNumber: string; days: number }[] {
  return event.Certificates.map((certificate) => {
    const notAfterMs = Date.parse(certificate.NotAfter);
    if (Number.isNaN(notAfterMs)) throw new Error(`certificate ${certificate.SerialNumber} has an unreadable NotAfter '${certificate.NotAfter}'`);
    return { serialNumber: certificate.SerialNumber, days: daysToExpiry(notAfterMs, nowMs) };
  });
}
