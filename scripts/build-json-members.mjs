// Assembles lambda/common/json-members.wat with wabt and writes the module, base64, into
// lambda/common/json-members.ts (the line that starts `export const JSON_MEMBERS_MODULE = `). test/lambda/common/json-members.test.ts
// fails when the two disagree. Run: node scripts/build-json-members.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import wabt from 'wabt';

const root = new URL('..', import.meta.url).pathname;
const watPath = join(root, 'lambda', 'common', 'json-members.wat');
const tsPath = join(root, 'lambda', 'common', 'json-members.ts');

export async function assemble(text) {
  const module = (await wabt()).parseWat('json-members.wat', text, { simd: true });
  try {
    module.validate();
    return Buffer.from(module.toBinary({}).buffer).toString('base64');
  } finally {
    module.destroy();
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const base64 = await assemble(readFileSync(watPath, 'utf8'));
  const ts = readFileSync(tsPath, 'utf8');
  const line = /^export const JSON_MEMBERS_MODULE = '[^']*';$/m;
  if (!line.test(ts)) throw new Error(`${tsPath} has no line "export const JSON_MEMBERS_MODULE = '...';"`);
  writeFileSync(tsPath, ts.replace(line, `export const JSON_MEMBERS_MODULE = '${base64}';`));
  console.log(`wrote ${Buffer.from(base64, 'base64').length} bytes of WebAssembly into ${tsPath}`);
}
