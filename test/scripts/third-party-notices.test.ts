import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bundledPackages, thirdPartyNotices } = require('../../scripts/third-party-notices.cjs') as {
  bundledPackages(metafile: { inputs: Record<string, unknown> }, root: string): { name: string; version: string; license: string; texts: string[] }[];
  thirdPartyNotices(metafile: { inputs: Record<string, unknown> }, root: string, bundleName: string): string;
};

const root = join(__dirname, '..', '..');
const assets = join(root, 'assets');

/** A node_modules tree with the packages given, each with one source file. */
function fixture(packages: Record<string, { manifest: Record<string, unknown>; files?: Record<string, string> }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'notices-'));
  for (const [name, { manifest, files }] of Object.entries(packages)) {
    const pkgDir = join(dir, 'node_modules', name);
    mkdirSync(join(pkgDir, 'dist'), { recursive: true });
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name, version: '1.0.0', ...manifest }));
    writeFileSync(join(pkgDir, 'dist', 'index.js'), '');
    for (const [file, text] of Object.entries(files ?? {})) writeFileSync(join(pkgDir, file), text);
  }
  return dir;
}

const inputsOf = (...names: string[]) => ({ inputs: Object.fromEntries([...names.map((n) => [`node_modules/${n}/dist/index.js`, {}]), ['lambda/x/index.ts', {}]]) });

describe('third-party notices', () => {
  test('every asset ships THIRD-PARTY-LICENSES naming the packages it bundles', () => {
    // GIVEN the bundles built by `npm run bundle` (npm test builds before jest runs)
    const expected: Record<string, string[]> = {
      ingest: ['@aws-sdk/client-kinesis', '@aws-lambda-powertools/logger', '@smithy/node-http-handler', 'busboy', 'aws-jwt-verify'],
      trigger: ['@aws-sdk/client-sfn'],
      'mtls-ca': ['@peculiar/x509'],
      cli: ['kinesalite'],
    };
    for (const [fn, packages] of Object.entries(expected)) {
      // WHEN the notices beside the bundle are read
      const text = readFileSync(join(assets, fn, 'THIRD-PARTY-LICENSES'), 'utf8');
      // THEN each package is listed with its version and license, and license texts are present
      for (const name of packages) expect(text).toMatch(new RegExp(`^${name.replace(/[/@.-]/g, '\\$&')} \\d+\\.\\d+\\.\\d+ \\(`, 'm'));
      expect(text).toMatch(/Apache License\s+Version 2\.0/);
      expect(text).toMatch(/Permission is hereby granted, free of charge/);
    }
    // AND no asset folder lacks one
    for (const fn of readdirSync(assets)) expect(readdirSync(join(assets, fn))).toContain('THIRD-PARTY-LICENSES');
  });

  test('one entry per package: files of a scoped package and nested package.json files map to its root', () => {
    // GIVEN a scoped package whose dist/ has its own package.json (as aws-jwt-verify's ESM build does)
    const dir = fixture({ '@scope/pkg': { manifest: { license: 'MIT' }, files: { LICENSE: 'MIT text' } } });
    writeFileSync(join(dir, 'node_modules', '@scope', 'pkg', 'dist', 'package.json'), JSON.stringify({ name: 'inner', version: '9.9.9', type: 'module' }));
    // WHEN its files are bundled
    const packages = bundledPackages({ inputs: { 'node_modules/@scope/pkg/dist/index.js': {}, 'node_modules/@scope/pkg/dist/package.json': {} } }, dir);
    // THEN it is one package, named by its root manifest, with its license text
    expect(packages).toEqual([{ name: '@scope/pkg', version: '1.0.0', license: 'MIT', texts: ['MIT text'] }]);
  });

  test('reads legacy license declarations, and a package without a file passes on its declaration', () => {
    const dir = fixture({
      old: { manifest: { license: { type: 'MIT' }, author: { name: 'A. Author' } } },
      older: { manifest: { licenses: [{ type: 'BSD-3-Clause' }] }, files: { 'LICENSE.md': 'BSD text', NOTICE: 'notice text' } },
    });
    const text = thirdPartyNotices(inputsOf('old', 'older'), dir, 'x.js');
    expect(text).toContain('old 1.0.0 (MIT)');
    expect(text).toContain('declares the license MIT, author A. Author');
    expect(text).toContain('older 1.0.0 (BSD-3-Clause)');
    // The NOTICE file is carried too (Apache-2.0 section 4d).
    expect(text).toMatch(/BSD text\s+notice text/);
  });

  test('packages that ship the same text share one copy of it', () => {
    const dir = fixture({
      a: { manifest: { license: 'Apache-2.0' }, files: { LICENSE: 'the same text' } },
      b: { manifest: { license: 'Apache-2.0' }, files: { LICENSE: 'the same text' } },
    });
    const text = thirdPartyNotices(inputsOf('a', 'b'), dir, 'x.js');
    expect(text.match(/the same text/g)).toHaveLength(1);
    expect(text).toMatch(/a 1\.0\.0 \(Apache-2\.0\)\nb 1\.0\.0 \(Apache-2\.0\)/);
  });

  test('fails when a bundled package declares no license and ships none', () => {
    const dir = fixture({ mystery: { manifest: {} } });
    expect(() => bundledPackages(inputsOf('mystery'), dir)).toThrow(/mystery@1\.0\.0 .* declares no license and ships no license file/);
  });
});
