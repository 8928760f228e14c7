/**
 * The command's errors, and what each means for the user: one line that names the problem and the
 * next step, never a bare `fetch failed` or a raw ENOENT.
 */
import { readFileSync } from 'node:fs';

/** A usage mistake: the CLI prints the message and exits with 2. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

/** A failure that is not a usage mistake, with a message fit to print as is: the CLI exits with 1. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
}

const TLS_CODES = /^(?:CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|ERR_SSL_)/;

/** The first error code (`ECONNREFUSED`, ...) in an error, its causes (fetch wraps them) or its aggregated errors. */
export function errorCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 5) return undefined;
  const { code, name, cause, errors } = error as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && code !== '') return code;
  if (name === 'TimeoutError') return 'TimeoutError';
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = errorCode(inner, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The message of an error and of its causes: `fetch failed: connect ECONNREFUSED ...`. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (message !== '' && !parts.includes(message)) parts.push(message);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(': ') || 'unknown error';
}

/**
 * Explains a failure to reach `where`, as one line with the next step; undefined when the error
 * is not about reaching it.
 *
 * @param nextStep what to do when nothing listens there, such as "start `local`"
 */
export function unreachable(error: unknown, where: string, nextStep: string): CliError | undefined {
  const code = errorCode(error);
  if (code === 'ECONNREFUSED') return new CliError(`nothing is listening at ${where} (connection refused): ${nextStep}`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new CliError(`cannot resolve the host of ${where} (${code}): check the URL, or your network`);
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new CliError(`${where} did not answer in time (${code}): check that it is the right address, and that it is up`);
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') {
    return new CliError(`${where} closed the connection before answering (${code}): is it an HTTP server? (http:// for the local runner, https:// for API Gateway)`);
  }
  if (code !== undefined && TLS_CODES.test(code)) {
    return new CliError(`${where}'s TLS certificate is not trusted (${code}): for a private certificate authority, set NODE_EXTRA_CA_CERTS to its PEM file`);
  }
  if (error instanceof Error && error.message === 'fetch failed') return new CliError(`could not reach ${where}: ${describeError(error.cause ?? error)}`);
  return undefined;
}

/** Reads a file the user named, or says in one line why it cannot be read. `-` is stdin. */
export function readUserFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (error) {
    const code = errorCode(error);
    const why = code === 'ENOENT' ? 'no such file'
      : code === 'EISDIR' ? 'it is a folder, not a file'
        : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
          : describeError(error);
    throw new UsageError(`cannot read ${what} '${file}': ${why}`);
  }
}
