import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * The HTTP transport every SDK client here uses: HTTP/1.1 (kinesalite and the other local peers
 * speak nothing else, and Lambda gains nothing from HTTP/2 for these calls), a short connection
 * timeout, and a request timeout that fails the call (TimeoutError) instead of only logging a
 * warning, so that a hung dependency is an outage answered in time, not API Gateway's 504 at 29 s.
 */
export function sdkTransport(requestTimeoutMs: number, connectionTimeoutMs = 1_000): NodeHttpHandler {
  return new NodeHttpHandler({ connectionTimeout: connectionTimeoutMs, requestTimeout: requestTimeoutMs, throwOnRequestTimeout: true });
}
