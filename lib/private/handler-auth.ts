import type { AuthConfig } from '../../lambda/common/auth-config';
import type { AuthBinding } from '../webhook-auth';

/**
 * The handler's auth configuration for a bound scheme: the secret's ARN added and, for Twilio
 * without a configured `url`, the public URL the deployment knows (`deploymentUrl`: the gateway's
 * custom domain and the path), when it knows one. Without either, the handler takes the URL from
 * API Gateway's request context, never from the Host header.
 */
export function handlerAuthConfig(auth: AuthBinding, deploymentUrl: string | undefined): AuthConfig {
  let config = auth.config;
  if (config.kind === 'twilio' && config.url === undefined && deploymentUrl !== undefined) config = { ...config, url: deploymentUrl };
  return (auth.secret === undefined ? config : { ...config, secretArn: auth.secret.secretArn }) as AuthConfig;
}
