import { Annotations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { AuthBinding } from '../webhook-auth';
import type { WebhookGateway } from '../webhook-gateway';
import { hasManagedClientCa } from './managed-client-ca';

/**
 * A scheme that relies on mutual TLS needs a gateway with an mTLS domain (whose default endpoint is
 * off), and managed clients must come from that gateway's CA.
 */
export function checkMutualTls(scope: IConstruct, owner: string, auth: AuthBinding, gateway: WebhookGateway | undefined): void {
  if (!auth.needsMutualTls) return;
  if (gateway?.truststoreBucket === undefined) {
    throw new Error(`${owner}: WebhookAuth.mtls() needs a gateway with an mTLS custom domain (domain.mtls), whose default endpoint is off; pass one as 'gateway'`);
  }
  const foreign = auth.mtlsClients?.find((client) => client.gateway !== gateway);
  if (foreign !== undefined) {
    throw new Error(`${owner}: the mTLS client '${foreign.node.path}' was issued by the CA of gateway '${foreign.gateway.node.path}'; a source accepts only clients of its own gateway ('${gateway.node.path}')`);
  }
  if (auth.mtlsClients === undefined && hasManagedClientCa(gateway)) {
    // API Gateway checks no revocation: only the serial allowlist refuses a removed client.
    Annotations.of(scope).addWarningV2('cdk-webhook-ingress:mtlsWithoutClients', `${owner}: the gateway's managed CA issues its certificates, but this source lists no clients, so it also accepts removed or reissued clients' certificates until they expire; pass WebhookAuth.mtls({ clients: [...] })`);
  }
}
