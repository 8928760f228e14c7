// Stands in for @aws-sdk/credential-provider-node in the Lambda bundles (an esbuild alias in
// scripts/handler-build-options.json). Lambda hands a function its role's credentials in the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), and the node default
// chain tries them first; the rest of that chain (SSO, shared ini files, credential_process, web
// identity, container and instance metadata, and the STS/SSO clients they need) is code a Lambda
// loads at every cold start and never runs. Region and endpoints still come from the SDK's config
// loader (AWS_REGION, AWS_ENDPOINT_URL_<SERVICE>).
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** The SDK clients' default credentials: the environment's, read when a request is signed. */
export const defaultProvider = (init = {}) => fromEnv(init);
