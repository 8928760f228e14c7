/**
 * A client certificate over plain HTTP, for the local runner: `send --client-cert` puts it in a
 * `Client-Cert` header (RFC 9440: `:<base64 DER>:`), and the runner hands it to an mTLS source's
 * handler as API Gateway does after a TLS handshake, in `requestContext.identity.clientCert`.
 */
import { X509Certificate } from 'node:crypto';
import { UsageError } from './errors';

/** The header that carries the certificate, as a TLS-terminating proxy forwards it (RFC 9440). */
export const CLIENT_CERT_HEADER = 'client-cert';

/** What API Gateway puts in `requestContext.identity.clientCert` for a verified certificate. */
export interface GatewayClientCert {
  readonly clientCertPem: string;
  readonly subjectDN: string;
  readonly issuerDN: string;
  /** Colon-separated hex pairs, as API Gateway writes it. */
  readonly serialNumber: string;
  /** OpenSSL's form, as API Gateway writes it: `Aug  5 09:36:04 2021 GMT`. */
  readonly validity: { readonly notBefore: string; readonly notAfter: string };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/**
 * The certificate in a file: PEM (the first certificate of a bundle), DER, or the JSON of an
 * `MtlsClient`'s secret as Secrets Manager holds it (its `certificate`).
 */
export function readCertificate(content: Buffer, file: string): X509Certificate {
  let text = content.toString('utf8');
  if (text.trimStart().startsWith('{')) {
    try {
      text = String((JSON.parse(text) as { certificate?: unknown }).certificate ?? '');
    } catch {
      // not JSON after all
    }
  }
  const pem = PEM_CERTIFICATE.exec(text)?.[0];
  try {
    return new X509Certificate(pem ?? content);
  } catch {
    throw new UsageError(`--client-cert ${file} holds no certificate: give a PEM or DER certificate, or the JSON of an MtlsClient's secret`);
  }
}

/** The `Client-Cert` header value for a certificate: `:<base64 DER>:`. */
export function clientCertHeaderValue(certificate: X509Certificate): string {
  return `:${certificate.raw.toString('base64')}:`;
}

/** `CN=a\nO=b` (node's form) as the comma-joined DN API Gateway reports: `CN=a,O=b`. */
function distinguishedName(name: string): string {
  return name.split('\n').filter((part) => part !== '').join(',');
}

/**
 * Reads a `Client-Cert` header into what API Gateway would report. Throws an Error whose message
 * says what is wrong with the header (never quoting it).
 */
export function gatewayClientCert(headerValue: string): { readonly cert: GatewayClientCert; readonly notBeforeMs: number; readonly notAfterMs: number } {
  const match = /^\s*:([A-Za-z0-9+/=\s]+):\s*$/.exec(headerValue);
  if (match === null) throw new Error(`the ${CLIENT_CERT_HEADER} header must be ':<base64 DER>:' (RFC 9440), as send --client-cert writes it`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(Buffer.from(match[1].replace(/\s/g, ''), 'base64'));
  } catch {
    throw new Error(`the ${CLIENT_CERT_HEADER} header holds no X.509 certificate`);
  }
  const serial = certificate.serialNumber.toLowerCase();
  const pairs = (serial.length % 2 === 0 ? serial : `0${serial}`).match(/../g) ?? [];
  return {
    cert: {
      clientCertPem: certificate.toString(),
      subjectDN: distinguishedName(certificate.subject),
      issuerDN: distinguishedName(certificate.issuer),
      serialNumber: pairs.join(':'),
      validity: { notBefore: certificate.validFrom, notAfter: certificate.validTo },
    },
    // V8 reads OpenSSL's date form.
    notBeforeMs: Date.parse(certificate.validFrom),
    notAfterMs: Date.parse(certificate.validTo),
  };
}
