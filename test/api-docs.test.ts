import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');

/** API.md as committed: HEAD's copy in a git checkout (the build rewrites the working copy). */
function committedApiDocs(): string {
  try {
    return execFileSync('git', ['show', 'HEAD:API.md'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return readFileSync(join(root, 'API.md'), 'utf8');
  }
}

test('the committed API.md is what jsii-docgen generates from the current API', () => {
  // GIVEN the jsii assembly that `npm run build` just compiled
  const out = join(mkdtempSync(join(tmpdir(), 'api-docs-')), 'API.md');
  // WHEN the docs are generated again
  execFileSync(join(root, 'node_modules', '.bin', 'jsii-docgen'), ['-o', out], { cwd: root, stdio: 'ignore' });
  const generated = readFileSync(out, 'utf8');
  // THEN they match the committed file; if not, run `npm run build` and commit API.md
  expect(generated).toContain('### WebhookStreamSource');
  expect(generated).toContain('### WebhookAuth');
  expect(committedApiDocs()).toBe(generated);
});
