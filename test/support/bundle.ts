import { join } from 'node:path';
import { TEST_CREDENTIALS, TEST_REGION } from './kinesalite';

/**
 * Starts a bundled handler (`<dir>/index.js`) as Lambda would: a fresh copy of the module, loaded
 * with `env` over `base`, the local region and the local peers' credentials. process.env keeps
 * that environment afterwards; the caller restores it.
 */
export function loadBundledHandler<T>(dir: string, env: Readonly<Record<string, string>>, base: NodeJS.ProcessEnv = process.env): T {
  process.env = {
    ...base,
    AWS_REGION: TEST_REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    ...env,
  };
  let mod: T | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(join(dir, 'index.js')) as T;
  });
  return mod as T;
}
