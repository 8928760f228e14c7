// Bundles every Lambda entry point (lambda/<handler>/index.ts) into assets/<handler>/index.js.
// The constructs load these folders with lambda.Code.fromAsset, so consumers of the npm package
// need neither esbuild nor Docker at synth time.
//
// Each function is built into a staging folder and renamed into assets/ when it is complete, so
// that a synth running meanwhile sees the old folder or the new one, never a half-written one.
import { build, transform } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';
import notices from './third-party-notices.cjs';

const root = new URL('..', import.meta.url).pathname;
const requireInRoot = createRequire(join(root, 'package.json'));
const handlers = readdirSync(join(root, 'lambda'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'common')
  .map((entry) => entry.name)
  .filter((name) => existsSync(join(root, 'lambda', name, 'index.ts')));

// The handlers' esbuild options, shared with the cold-start benchmark. Module-first mainFields:
// the SDK's ES module builds bundle smaller and load faster than its CommonJS ones. They load
// node:http and others with import(), which is turned into require() so that the bundles also load
// in a vm context (jest) as they do in Lambda. The alias replaces the SDK's default credential
// chain with the environment's credentials (see lambda-env-credentials.mjs).
const handlerOptions = JSON.parse(readFileSync(join(root, 'scripts', 'handler-build-options.json'), 'utf8'));

// What a function loads only when its configuration uses it: chunk name -> the modules in it.
// Every other module is in index.js (or in a chunk that index.js requires at load).
//
// How: the handler code imports these modules statically (handler.ts reaches busboy and the SQS
// commands whatever the source), so the build replaces each of them, where lambda/ code imports
// it, by a stand-in whose exports are getters: the first use of one requires the chunk. esbuild
// builds index.js and the chunks in one ES module build with code splitting (the SDK core they
// share is in shared chunks, once), and each output file is then turned into CommonJS: Lambda
// keeps running index.js, and the chunks are plain synchronous require()s. A chunk is required when
// index.ts builds what the configuration asks for (new S3Client(...) for a claim check,
// createJwtVerifier for JWT, the schema module's require()s for payload validation), which is at
// module load, in Lambda's init phase, before the first request; a test that loads a bundle in a
// jest module registry of its own sees its chunks loaded there, once.
//
// Rejected: ES modules end to end (index.mjs) would need dynamic import() behind the config, whose
// promises resolve after the module has loaded (outside jest's isolateModules) and would change
// how every test loads a bundle; lazy require() without splitting loads less but parses the whole
// file; one full build per feature combination duplicates the SDK core across files.
const JWT_MODULES = ['aws-jwt-verify', 'aws-jwt-verify/error', 'aws-jwt-verify/https', 'aws-jwt-verify/jwk', 'aws-jwt-verify/jwt-verifier'];
const DEFERRED = {
  ingest: {
    // busboy rides with the claim check: multipart bodies need one (the config refuses it without).
    'claim-check': ['@aws-sdk/client-s3', 'busboy'],
    dedup: ['@aws-sdk/client-dynamodb'],
    spill: ['@aws-sdk/client-sqs'],
    jwt: JWT_MODULES,
    'schema-runtime': ['ajv/dist/runtime/equal', 'ajv/dist/runtime/ucs2length', 'ajv-formats/dist/formats'],
  },
  trigger: { jwt: JWT_MODULES },
};

/**
 * How lambda/ code uses each module: the names it imports (type-only imports left out), or
 * `whole` when it takes the module object (default or namespace import, require()).
 */
function moduleUses(dir) {
  const uses = new Map();
  const use = (spec) => uses.get(spec) ?? uses.set(spec, { names: new Set(), whole: false }).get(spec);
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) {
      const entry = use(node.moduleSpecifier.text);
      const clause = node.importClause;
      if (clause?.name !== undefined || (clause?.namedBindings !== undefined && ts.isNamespaceImport(clause.namedBindings))) entry.whole = true;
      if (clause?.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings)) {
        for (const element of clause.namedBindings.elements) if (!element.isTypeOnly) entry.names.add((element.propertyName ?? element.name).text);
      }
    }
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'require' && ts.isStringLiteral(node.arguments[0])) {
      use(node.arguments[0].text).whole = true;
    }
    ts.forEachChild(node, visit);
  };
  const walk = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const file = join(folder, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) visit(ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true));
    }
  };
  walk(dir);
  return uses;
}

/**
 * The esbuild plugin that moves the deferred modules into chunks: `deferred-chunk:<name>` entry
 * points export the modules' used parts, and imports of them from lambda/ resolve to stand-ins.
 */
function deferModules(chunks, uses) {
  const specs = Object.entries(chunks).flatMap(([chunk, modules]) => modules.map((spec, index) => ({ chunk, spec, key: `m${index}` })));
  const bySpec = new Map(specs.map((s) => [s.spec, s]));
  // The value as require() returns it decides the stand-in's shape: a function (busboy) or an object.
  const isFunction = (spec) => typeof requireInRoot(spec) === 'function';
  const namesOf = (spec) => {
    const use = uses.get(spec) ?? { names: new Set(), whole: true };
    return use.whole ? Object.keys(requireInRoot(spec)) : [...use.names];
  };
  const chunkEntry = (chunk) => specs.filter((s) => s.chunk === chunk).map(({ spec, key }) => {
    const use = uses.get(spec);
    if (use === undefined || use.whole) return `import * as ${key}ns from ${JSON.stringify(spec)};\nexport const ${key} = ${isFunction(spec) ? `${key}ns.default` : `${key}ns`};`;
    return `import { ${[...use.names].join(', ')} } from ${JSON.stringify(spec)};\nexport const ${key} = { ${[...use.names].join(', ')} };`;
  }).join('\n');
  const loader = [
    '"use strict";',
    'const loaded = Object.create(null);',
    'const chunks = {',
    ...Object.keys(chunks).map((chunk) => `  ${JSON.stringify(chunk)}: () => require(${JSON.stringify(`./${chunk}.js`)}),`),
    '};',
    'module.exports = (chunk) => loaded[chunk] ??= chunks[chunk]();',
  ].join('\n');
  const standIn = ({ chunk, spec, key }) => {
    const load = `const load = () => require("deferred-loader")(${JSON.stringify(chunk)}).${key};`;
    if (isFunction(spec)) return `"use strict";\n${load}\nmodule.exports = function () { return load().apply(this, arguments); };`;
    const real = requireInRoot(spec);
    return [
      '"use strict";',
      load,
      ...(real.__esModule ? ['Object.defineProperty(exports, "__esModule", { value: true });'] : []),
      ...namesOf(spec).map((name) => `Object.defineProperty(exports, ${JSON.stringify(name)}, { enumerable: true, get: () => load()[${JSON.stringify(name)}] });`),
    ].join('\n');
  };
  return {
    name: 'defer-modules',
    setup(plugin) {
      plugin.onResolve({ filter: /^deferred-chunk:/ }, (args) => ({ path: args.path.slice('deferred-chunk:'.length), namespace: 'deferred-chunk' }));
      plugin.onResolve({ filter: /^deferred-loader$/ }, () => ({ path: 'loader', namespace: 'deferred-loader' }));
      plugin.onResolve({ filter: /^\.\/[\w-]+\.js$/, namespace: 'deferred-loader' }, (args) => ({ path: args.path, external: true }));
      plugin.onResolve({ filter: /.*/ }, (args) => {
        const spec = bySpec.get(args.path);
        const fromLambda = args.importer.startsWith(join(root, 'lambda')) && !args.importer.includes('node_modules');
        return spec !== undefined && fromLambda ? { path: args.path, namespace: 'deferred-stand-in' } : undefined;
      });
      plugin.onLoad({ filter: /.*/, namespace: 'deferred-chunk' }, (args) => ({ contents: chunkEntry(args.path), resolveDir: root, loader: 'js' }));
      plugin.onLoad({ filter: /.*/, namespace: 'deferred-loader' }, () => ({ contents: loader, resolveDir: root, loader: 'js' }));
      plugin.onLoad({ filter: /.*/, namespace: 'deferred-stand-in' }, (args) => ({ contents: standIn(bySpec.get(args.path)), resolveDir: root, loader: 'js' }));
    },
  };
}

/** Builds one handler into `outdir`; returns esbuild's metafile. */
async function buildHandler(name, outdir, uses) {
  const entry = join(root, 'lambda', name, 'index.ts');
  const chunks = DEFERRED[name];
  if (chunks === undefined) {
    const result = await build({ ...handlerOptions, metafile: true, entryPoints: [entry], outfile: join(outdir, 'index.js') });
    return result.metafile;
  }
  const result = await build({
    ...handlerOptions,
    format: 'esm',
    splitting: true,
    metafile: true,
    write: false,
    entryPoints: [{ in: entry, out: 'index' }, ...Object.keys(chunks).map((chunk) => ({ in: `deferred-chunk:${chunk}`, out: chunk }))],
    outdir,
    chunkNames: 'shared-[hash]',
    plugins: [deferModules(chunks, uses)],
  });
  // Each file to CommonJS: its imports of the shared chunks become require()s.
  mkdirSync(outdir, { recursive: true });
  await Promise.all(result.outputFiles.map(async (file) => {
    const cjs = await transform(file.text, { format: 'cjs', platform: 'node', target: 'node22', minify: true, legalComments: 'none', logLevel: 'warning' });
    writeFileSync(file.path, cjs.code);
  }));
  return result.metafile;
}

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
