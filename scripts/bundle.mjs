// Bundles every Lambda entry point (lambda/<handler>/index.ts) into assets/<handler>/index.js.
// The constructs load these folders with lambda.Code.fromAsset, so consumers of the npm package
// need neither esbuild nor Docker at synth time.
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const handlers = readdirSync(join(root, 'lambda'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'shared')
  .map((entry) => entry.name)
  .filter((name) => existsSync(join(root, 'lambda', name, 'index.ts')));

rmSync(join(root, 'assets'), { recursive: true, force: true });

await Promise.all(
  handlers.map((name) =>
    build({
      entryPoints: [join(root, 'lambda', name, 'index.ts')],
      outfile: join(root, 'assets', name, 'index.js'),
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minify: true,
      legalComments: 'none',
      logLevel: 'warning',
    }),
  ),
);
console.log(`bundled ${handlers.length} handler(s): ${handlers.join(', ')}`);
