import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');

interface PackEntry { readonly path: string; readonly size: number }

/** What `npm pack` (and so `npm run package`, through jsii-pacmak) puts in the tarball. */
function packedFiles(): { files: readonly PackEntry[]; size: number; entryCount: number } {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [pack] = JSON.parse(out) as { files: PackEntry[]; size: number; entryCount: number }[];
  return pack;
}

describe('the npm package', () => {
  // GIVEN the build output (npm test builds before jest runs)
  const pack = packedFiles();
  const paths = pack.files.map((f) => f.path);

  test('carries the library, its assets with their notices, the docs and the license', () => {
    for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'API.md', '.jsii', 'lib/index.js', 'lib/index.d.ts']) {
      expect(paths).toContain(file);
    }
    // Every bundled function, with the licenses of what was bundled into it.
    const functions = readdirSync(join(root, 'assets'));
    expect(functions).toEqual(expect.arrayContaining(['ingest', 'trigger', 'drain', 'rotation', 'mtls-ca', 'cli']));
    for (const fn of functions) {
      expect(paths).toContain(`assets/${fn}/index.js`);
      expect(paths).toContain(`assets/${fn}/THIRD-PARTY-LICENSES`);
    }
    // The CLI the package's bin names is in it.
    expect(paths).toContain('assets/cli/index.js');
  });

  test('leaves out tests, sources, build configuration and the bundles\' dependencies', () => {
    const unwanted = paths.filter((p) =>
      /^(test|bench|scripts|cli|bin|cdk\.out|dist|\.ci)\//.test(p)
      || /^lambda\/(?![a-z-]+\/[a-z-]+\.(js|d\.ts)$)/.test(p)
      || (!p.startsWith('node_modules/') && p.endsWith('.ts') && !p.endsWith('.d.ts'))
      || /^tsconfig/.test(p)
      // node_modules holds only the bundled dependencies of lib/ (ajv, used at synth), never a handler's.
      || (p.startsWith('node_modules/') && !/^node_modules\/(ajv|ajv-formats|fast-deep-equal|fast-uri|json-schema-traverse|require-from-string)\//.test(p)));
    expect(unwanted).toEqual([]);
  });

  test('stays small: one tarball under 3 MB', () => {
    expect(pack.size).toBeLessThan(3 * 1024 * 1024);
  });
});
