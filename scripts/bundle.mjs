// Bundles every Lambda entry point (lambda/<handler>/index.ts) into assets/<handler>/index.js.
// The constructs load these folders with lambda.Code.fromAsset, so consumers of the npm package
// need neither esbuild nor Docker at synth time.
//
// Each function is built into a staging folder and renamed into assets/ when it is complete, so
// that a synth running meanwhile sees the old folder or the new one, never a half-written one.
import { build } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildHandler, moduleUses } from './handler-build.mjs';
import notices from './third-party-notices.cjs';

const root = new URL('..', import.meta.url).pathname;
const handlers = readdirSync(join(root, 'lambda'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'common')
  .map((entry) => entry.name)
  .filter((name) => existsSync(join(root, 'lambda', name, 'index.ts')));

/** Writes the licenses of every package in a bundle (all of its files) beside it, as THIRD-PARTY-LICENSES. */
function writeNotices(dir, name, metafile) {
  writeFileSync(join(dir, 'THIRD-PARTY-LICENSES'), notices.thirdPartyNotices(metafile, root, `assets/${name}`));
}

/** Replaces assets/<name> with the complete folder `staged`. */
function publish(staged, name) {
  const target = join(root, 'assets', name);
  mkdirSync(join(root, 'assets'), { recursive: true });
  const old = `${staged}.old`;
  if (existsSync(target)) renameSync(target, old);
  renameSync(staged, target);
  rmSync(old, { recursive: true, force: true });
}

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
async function buildCli(outdir) {
  const result = await build({
    metafile: true,
    plugins: [patchKinesalite],
    // Only kinesalite's on-disk mode loads leveldown (a native module); the CLI keeps streams in memory.
    external: ['leveldown'],
    entryPoints: [join(root, 'cli', 'index.ts')],
    outfile: join(outdir, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    banner: { js: '#!/usr/bin/env node' },
  });
  return result.metafile;
}

const staging = mkdtempSync(join(root, '.assets-'));
try {
  const uses = moduleUses(join(root, 'lambda'));
  const built = [...handlers.map((name) => ({ name, make: (dir) => buildHandler(name, dir, uses) })), { name: 'cli', make: buildCli }];
  const staged = await Promise.all(built.map(async ({ name, make }) => {
    const dir = join(staging, name);
    writeNotices(dir, name, await make(dir));
    return { name, dir };
  }));
  for (const { name, dir } of staged) publish(dir, name);
  // Folders of functions that no longer exist.
  for (const stale of readdirSync(join(root, 'assets')).filter((name) => !built.some((b) => b.name === name))) {
    rmSync(join(root, 'assets', stale), { recursive: true, force: true });
  }
} finally {
  rmSync(staging, { recursive: true, force: true });
}
console.log(`bundled ${handlers.length} handler(s): ${handlers.join(', ')}, and the cli`);
