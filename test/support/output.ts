/** Runs fn while capturing everything written to stdout and stderr (Powertools logs there). */
export async function capturingOutput<T>(fn: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { chunks.push(String(c)); return true; });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => { chunks.push(String(c)); return true; });
  try {
    return { result: await fn(), output: chunks.join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
