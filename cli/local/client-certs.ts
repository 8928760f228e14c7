/**
 * Local stand-ins for the certificates a gateway's managed CA issues (`gateway.addMtlsClient`):
 * a self-signed certificate with the client's local serial (see `localSerialNumber`) and subject,
 * for `send --client-cert`. The runner checks no chain (API Gateway's truststore is not
 * emulated); the handler checks the serial. Loaded only when an app has managed clients.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface LocalCertificateOptions {
  readonly serialNumber: string;
  readonly commonName: string;
  readonly organization?: string;
  readonly notAfter: Date;
  /** @default - now */
  readonly now?: Date;
}

/** A self-signed client certificate (P-256) with the given serial and subject, PEM. The key is thrown away. */
export async function localClientCertificate(options: LocalCertificateOptions): Promise<string> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const name: Record<string, string[]>[] = [{ CN: [options.commonName] }];
  if (options.organization !== undefined) name.push({ O: [options.organization] });
  const now = options.now ?? new Date();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: options.serialNumber,
    name,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: options.notAfter,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys: keys as unknown as x509.X509CertificateCreateSelfSignedParams['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return `${certificate.toString('pem')}\n`;
}
