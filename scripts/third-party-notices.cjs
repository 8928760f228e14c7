// Writes the licenses of the packages esbuild put into a bundle, from the bundle's metafile, so
// that every asset ships with the notices of what it contains (Apache-2.0 section 4, MIT's and
// BSD's "this permission notice shall be included").
'use strict';
const { existsSync, readdirSync, readFileSync } = require('node:fs');
const { join, resolve, sep } = require('node:path');

const LICENSE_FILE = /^(?:licen[cs]e|copying|notice)(?:[.-].*)?$/i;

/** The package a bundled file belongs to: the folder right under its last node_modules. */
function packageRootOf(file) {
  const at = file.lastIndexOf(`${sep}node_modules${sep}`) + `${sep}node_modules${sep}`.length;
  const parts = file.slice(at).split(sep);
  const dir = file.slice(0, at) + (parts[0].startsWith('@') ? `${parts[0]}${sep}${parts[1]}` : parts[0]);
  const manifest = join(dir, 'package.json');
  return existsSync(manifest) ? { dir, pkg: JSON.parse(readFileSync(manifest, 'utf8')) } : undefined;
}

/** package.json's license: an SPDX expression, or the legacy `{ type }` and `licenses: [{ type }]` forms. */
function declaredLicense(pkg) {
  if (typeof pkg.license === 'string') return pkg.license;
  if (typeof pkg.license?.type === 'string') return pkg.license.type;
  const legacy = Array.isArray(pkg.licenses) ? pkg.licenses.map((l) => l?.type).filter((t) => typeof t === 'string') : [];
  return legacy.length > 0 ? legacy.join(' OR ') : undefined;
}

function authorOf(pkg) {
  const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
  return author ? `, author ${author}` : '';
}

function repositoryOf(pkg) {
  const url = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  return url ? `, source ${url}` : '';
}

/**
 * The packages whose files are in the bundle, with their license texts, sorted by name.
 * A package that ships no license file is a build error: its notice could not be honoured.
 */
function bundledPackages(metafile, root) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const file = resolve(root, input);
    if (!file.includes(`${sep}node_modules${sep}`)) continue;
    const found = packageRootOf(file);
    if (found === undefined) throw new Error(`no package.json above ${input}`);
    const key = `${found.pkg.name}@${found.pkg.version}`;
    if (packages.has(key)) continue;
    const files = readdirSync(found.dir).filter((name) => LICENSE_FILE.test(name)).sort();
    const license = declaredLicense(found.pkg);
    // Without a license file, the package's own declaration is what there is to pass on.
    if (files.length === 0 && license === undefined) throw new Error(`${key} (${found.dir}) declares no license and ships no license file`);
    packages.set(key, {
      name: found.pkg.name,
      version: found.pkg.version,
      license: license ?? 'see text',
      texts: files.length > 0
        ? files.map((name) => readFileSync(join(found.dir, name), 'utf8').trim())
        : [`The package ships no license file. package.json declares the license ${license}${authorOf(found.pkg)}${repositoryOf(found.pkg)}.`],
    });
  }
  return [...packages.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The THIRD-PARTY-LICENSES text of a bundle: each distinct license text once, after the list of
 * the packages that ship it (the AWS SDK's many packages share one Apache-2.0 text).
 */
function thirdPartyNotices(metafile, root, bundleName) {
  const groups = new Map();
  for (const p of bundledPackages(metafile, root)) {
    const text = p.texts.join('\n\n');
    const names = groups.get(text) ?? [];
    names.push(`${p.name} ${p.version} (${p.license})`);
    groups.set(text, names);
  }
  const lines = [
    `Third-party software in ${bundleName}`,
    '',
    `Every package bundled into ${bundleName} is listed below, under the license text it ships.`,
    '',
  ];
  for (const [text, names] of groups) lines.push('='.repeat(78), ...names, '='.repeat(78), '', text, '');
  return lines.join('\n');
}

module.exports = { bundledPackages, thirdPartyNotices };
