// Bundles every Lambda entry point (lambda/<handler>/index.ts) into assets/<handler>/index.js.
// The constructs load these folders with lambda.Code.fromAsset, so consumers of the npm package
// need neither esbuild nor Docker at synth time.
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import notices from './third-party-notices.cjs';

const root = new URL('..', import.meta.url).pathname;
const handlers = readdirSync(join(root, 'lambda'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'common')
  .map((entry) => entry.name)
  .filter((name) => existsSync(join(root, 'lambda', name, 'index.ts')));

rmSync(join(root, 'assets'), { recursive: true, force: true });

// The handlers' esbuild options, shared with the cold-start benchmark. Module-first mainFields:
// the SDK's ES module builds bundle smaller and load faster than its CommonJS ones. They load
// node:http and others with import(), which is turned into require() so that the bundles also load
// in a vm context (jest) as they do in Lambda.
const handlerOptions = JSON.parse(readFileSync(join(root, 'scripts', 'handler-build-options.json'), 'utf8'));

/** Writes the licenses of every package in a bundle beside it, as THIRD-PARTY-LICENSES. */
function writeNotices(name, result) {
  writeFileSync(join(root, 'assets', name, 'THIRD-PARTY-LICENSES'), notices.thirdPartyNotices(result.metafile, root, `assets/${name}/index.js`));
}

await Promise.all(
  handlers.map(async (name) => {
    const result = await build({
      ...handlerOptions,
      metafile: true,
      entryPoints: [join(root, 'lambda', name, 'index.ts')],
      outfile: join(root, 'assets', name, 'index.js'),
    });
    writeNotices(name, result);
  }),
);

// Two fixes to kinesalite for bundling, checked so that a new version cannot slip past them:
// - it loads its actions with require('./actions/' + name). esbuild bundles every file such a
//   pattern can match, keyed with the extension, so the extension is written out;
// - db/index.js assigns `buffer` without declaring it (a missing comma), which the bundle's strict
//   mode refuses.
const KINESALITE_PATCHES = [
  [/[\\/]kinesalite[\\/]index\.js$/, [
    ["require('./actions/' + action)", "require('./actions/' + action + '.js')"],
    ["require('./validations/' + action)", "require('./validations/' + action + '.js')"],
  ]],
  [/[\\/]kinesalite[\\/]db[\\/]index\.js$/, [
    ['exports.ITERATOR_PWD_IV)\n    buffer = ', 'exports.ITERATOR_PWD_IV),\n    buffer = '],
  ]],
];
const patchKinesalite = {
  name: 'patch-kinesalite',
  setup(plugin) {
    for (const [filter, replacements] of KINESALITE_PATCHES) {
      plugin.onLoad({ filter }, (args) => {
        let contents = readFileSync(args.path, 'utf8');
        for (const [from, to] of replacements) {
          if (!contents.includes(from)) throw new Error(`${args.path} changed: update the patch-kinesalite plugin`);
          contents = contents.replace(from, to);
        }
        return { contents, loader: 'js' };
      });
    }
  },
};

// The command-line tool (`npx cdk-webhook-ingress ...`): one self-contained file, with the
// embedded Kinesis emulator, so that installing the package is all it needs.
const cli = await build({
  metafile: true,
  plugins: [patchKinesalite],
  // Only kinesalite's on-disk mode loads leveldown (a native module); the CLI keeps streams in memory.
  external: ['leveldown'],
  entryPoints: [join(root, 'cli', 'index.ts')],
  outfile: join(root, 'assets', 'cli', 'index.js'),
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: '#!/usr/bin/env node' },
});
writeNotices('cli', cli);
console.log(`bundled ${handlers.length} handler(s): ${handlers.join(', ')}, and the cli`);
