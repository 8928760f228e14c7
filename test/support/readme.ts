import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The README's TypeScript snippets, as a reader pastes them into a fresh app. Shared by
 * test/readme.test.ts (compiles and synthesizes them against lib/) and the consumer test
 * (test/consumer/run.ts: the same stack in an app that installed the packed tarball).
 */

/** The repository's README.md. */
export function readReadme(root = join(__dirname, '..', '..')): string {
  return readFileSync(join(root, 'README.md'), 'utf8');
}

/** The fenced block that follows an HTML comment marker in the README; throws when there is none. */
export function blockAfter(readme: string, marker: string): string {
  const at = readme.indexOf(`<!-- ${marker}`);
  if (at < 0) throw new Error(`README.md has no '<!-- ${marker}' marker`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  if (match === null) throw new Error(`README.md has no fenced block after '<!-- ${marker}'`);
  return match[1];
}

/** The names of the example app's snippets, in README order. */
export function snippetNames(readme: string): string[] {
  return [...readme.matchAll(/<!-- snippet:([a-z-]+) \(from bin\/example-app.ts\) -->/g)].map((m) => m[1]);
}

/**
 * What the README says is the reader's own to give, with the values a test gives it (TypeScript
 * expressions). Each one must be named, with what it is, in the snippet that uses it.
 */
export const READER_VALUES: Readonly<Record<string, string>> = {
  domainName: "'hooks.example.com'",
  certificateArn: "'arn:aws:acm:eu-west-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab'",
};

/** The line of the README's app stack that the snippets replace. */
export const SNIPPETS_PLACEHOLDER = '    // The snippets of this README go here, in order.\n';

/** The marker of the schema file the Stripe snippet pins, and that file's name beside the stack. */
export const STRIPE_SCHEMA_FILE = 'stripe-checkout-session-completed.json';

/** The README's app stack (a `WebhooksStack` class), with every snippet pasted into its constructor in README order. */
export function freshStack(readme: string, yours: Readonly<Record<string, string>> = READER_VALUES): string {
  const app = blockAfter(readme, 'snippet:app (');
  if (!app.includes(SNIPPETS_PLACEHOLDER)) throw new Error(`the README's app stack has no line '${SNIPPETS_PLACEHOLDER.trim()}'`);
  const given = Object.entries(yours).map(([name, value]) => `const ${name} = ${value};`);
  const body = [...given, ...snippetNames(readme).map((name) => blockAfter(readme, `snippet:${name} (`))].join('\n')
    .split('\n').map((line) => (line === '' ? line : `    ${line}`)).join('\n');
  // A function, so that no `$'` in the code is read as a replacement pattern.
  return app.replace(SNIPPETS_PLACEHOLDER, () => `${body}\n`);
}
