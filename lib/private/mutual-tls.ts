import type { AuthBinding } from '../webhook-auth';
import type { WebhookGateway } from '../webhook-gateway';

/**
 * A scheme that relies on mutual TLS needs a gateway with an mTLS domain (whose default endpoint is
 * off), and managed clients must come from that gateway's CA.
 */
export function checkMutualTls(owner: string, auth: AuthBinding, gateway: WebhookGateway | undefined): void {
  if (!auth.needsMutualTls) return;
  if (gateway?.truststoreBucket === undefined) {
    throw new Error(`${owner}: WebhookAuth.mtls() needs a gateway with an mTLS custom domain (domain.mtls), whose default endpoint is off; pass one as 'gateway'`);
  }
  const foreign = auth.mtlsClients?.find((client) => client.gateway !== gateway);
  if (foreign !== undefined) {
    throw new Error(`${owner}: the mTLS client '${foreign.node.path}' was issued by the CA of gateway '${foreign.gateway.node.path}'; a source accepts only clients of its own gateway ('${gateway.node.path}')`);
  }
}
