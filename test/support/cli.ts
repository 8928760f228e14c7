import { execFile } from 'node:child_process';
import { join } from 'node:path';

/** The bundled command (`npm run bundle`), the package's bin. */
export const CLI = join(__dirname, '..', '..', 'assets', 'cli', 'index.js');

export interface CliOptions {
  readonly cwd?: string;
  /** Variables set over the test's environment. */
  readonly env?: Record<string, string | undefined>;
  readonly timeoutMs?: number;
}

/** Runs the bundled command; resolves with its output and exit code, never rejects. */
export function runCli(args: string[], options: CliOptions = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 60_000 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error === null ? 0 : (error as { code?: number }).code ?? -1 });
    });
  });
}
