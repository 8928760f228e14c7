import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PEM key and certificate. */
export interface TlsIdentity {
  readonly key: string;
  readonly cert: string;
}

/**
 * A throwaway self-signed certificate for 127.0.0.1 (EC P-256, valid one day), made with the
 * openssl CLI in a temporary folder that is removed afterwards.
 */
export function selfSignedCertificate(): TlsIdentity {
  const dir = mkdtempSync(join(tmpdir(), 'jwks-tls-'));
  try {
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
    return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The JWKS path the server answers on. */
export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * An identity provider's JWKS endpoint over HTTPS on 127.0.0.1, on a port picked per run. The
 * key set and the status are mutable, so a test can rotate keys or take the endpoint down.
 */
export class JwksServer {
  static async start(tls: TlsIdentity): Promise<JwksServer> {
    const server = new JwksServer(tls);
    await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  /** The document served; replace it to rotate keys. */
  jwks: { keys: object[] } = { keys: [] };
  /** The status answered on the JWKS path; anything but 200 sends an error body. */
  status = 200;
  /** Requests received on the JWKS path. */
  requests = 0;
  private readonly server: Server;

  private constructor(tls: TlsIdentity) {
    this.server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      if (req.url !== JWKS_PATH) {
        res.writeHead(404).end();
        return;
      }
      this.requests += 1;
      if (this.status !== 200) {
        res.writeHead(this.status, { 'Content-Type': 'text/plain' }).end('unavailable');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(this.jwks));
    });
  }

  get jwksUri(): string {
    const { port } = this.server.address() as AddressInfo;
    return `https://127.0.0.1:${port}${JWKS_PATH}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
