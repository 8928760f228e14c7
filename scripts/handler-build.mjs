// How one Lambda function's code is bundled: esbuild's options, and the split of the ingest and
// trigger functions into index.js and chunks loaded by configuration. Used by scripts/bundle.mjs
// (assets/<function>) and by the cold-start benchmark (bench/cold-start.ts).
import { build, transform } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';

const root = new URL('..', import.meta.url).pathname;
const requireInRoot = createRequire(join(root, 'package.json'));

// The handlers' esbuild options, shared with the cold-start benchmark. Module-first mainFields:
// the SDK's ES module builds bundle smaller and load faster than its CommonJS ones. They load
// node:http and others with import(), which is turned into require() so that the bundles also load
// in a vm context (jest) as they do in Lambda. The alias replaces the SDK's default credential
// chain with the environment's credentials (see lambda-env-credentials.mjs).
export const handlerOptions = JSON.parse(readFileSync(join(root, 'scripts', 'handler-build-options.json'), 'utf8'));

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
export const DEFERRED = {
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
export function moduleUses(dir) {
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

// Node built-in modules that the bundled packages import at their top level but that the handlers
// never or seldom call: loading them costs a cold start several milliseconds each (node:http2 and
// node:fs/promises also load assert, readline and others). Each is replaced by a stand-in whose
// exports are getters that require the module on first use. http2: the SDK's HTTP/2 handler, unused
// (the handlers use NodeHttpHandler); zlib: request compression, which no operation here uses;
// fs/promises: shared config files, read only when a setting is not in the environment; vm: the
// schema module of payload validation.
const LAZY_BUILTINS = ['http2', 'zlib', 'fs/promises', 'vm'];

/**
 * A stand-in for a built-in module. Some packages touch a built-in at their top level without
 * calling it (`typeof zlib.crc32`, `const { constants } = http2`), so plain functions are wrappers
 * that load the module when called, and `constants` is a proxy that loads it when a constant is
 * read; everything else (classes, objects) is a getter that loads the module.
 */
function builtinStandIn(spec) {
  const real = requireInRoot(spec);
  const property = (name) => {
    const value = real[name];
    const key = JSON.stringify(name);
    if (name === 'constants') return 'exports.constants = new Proxy({}, { get: (_, constant) => load().constants[constant], has: (_, constant) => constant in load().constants });';
    if (typeof value === 'function' && !/^[A-Z]/.test(name)) return `exports[${key}] = function () { return load()[${key}].apply(this, arguments); };`;
    return `Object.defineProperty(exports, ${key}, { enumerable: true, get: () => load()[${key}] });`;
  };
  return [
    '"use strict";',
    `let loaded; const load = () => loaded ??= require(${JSON.stringify(spec)});`,
    ...Object.keys(real).map(property),
  ].join('\n');
}

const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(plugin) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.map((b) => b.replace('/', '\\/')).join('|')})$`);
    plugin.onResolve({ filter }, (args) => {
      const path = args.path.startsWith('node:') ? args.path : `node:${args.path}`;
      return args.namespace === 'lazy-builtin' ? { path, external: true } : { path, namespace: 'lazy-builtin' };
    });
    plugin.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: builtinStandIn(args.path), loader: 'js' }));
  },
};

/**
 * Builds one handler into `outdir`; returns esbuild's metafile.
 *
 * @param {string} name the function: lambda/<name>/index.ts
 * @param {string} outdir the folder to write index.js (and chunks) to
 */
export async function buildHandler(name, outdir, uses = moduleUses(join(root, 'lambda'))) {
  const entry = join(root, 'lambda', name, 'index.ts');
  const chunks = DEFERRED[name];
  if (chunks === undefined) {
    const result = await build({ ...handlerOptions, absWorkingDir: root, plugins: [lazyBuiltins], metafile: true, entryPoints: [entry], outfile: join(outdir, 'index.js') });
    return result.metafile;
  }
  const result = await build({
    ...handlerOptions,
    absWorkingDir: root,
    format: 'esm',
    splitting: true,
    metafile: true,
    write: false,
    entryPoints: [{ in: entry, out: 'index' }, ...Object.keys(chunks).map((chunk) => ({ in: `deferred-chunk:${chunk}`, out: chunk }))],
    outdir,
    chunkNames: 'shared-[hash]',
    plugins: [lazyBuiltins, deferModules(chunks, uses)],
  });
  // Each file to CommonJS: its imports of the shared chunks become require()s.
  mkdirSync(outdir, { recursive: true });
  await Promise.all(result.outputFiles.map(async (file) => {
    const cjs = await transform(file.text, { format: 'cjs', platform: 'node', target: 'node22', minify: true, legalComments: 'none', logLevel: 'warning' });
    writeFileSync(file.path, cjs.code);
  }));
  return result.metafile;
}
