/**
 * Choosing the interpreter for workers: --python / NODICORN_PYTHON, then an active virtualenv, then
 * python3 on PATH. Each candidate must run and be Python >= 3.8; when none is, the error lists every
 * candidate tried and why it was rejected.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { NoPythonError } from '../errors/registry.js';

export interface PythonChoice {
  readonly executable: string;
  readonly version: string;
  readonly why: string;
}

function probe(executable: string): Promise<{ version: string } | { problem: string }> {
  return new Promise((resolve) => {
    execFile(
      executable,
      ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
      { timeout: 10_000 },
      (error, stdout, stderr) => {
        if (error !== null) {
          const code = (error as NodeJS.ErrnoException).code;
          resolve({
            problem:
              code === 'ENOENT'
                ? 'not found'
                : `does not run (${(stderr || error.message).trim().split('\n').pop()})`,
          });
          return;
        }
        const version = stdout.trim();
        const [major, minor] = version.split('.').map(Number);
        if (major !== 3 || (minor ?? 0) < 8)
          resolve({ problem: `is Python ${version}; nodicorn needs 3.8 or newer` });
        else resolve({ version });
      },
    );
  });
}

export async function findPython(
  explicit: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<PythonChoice> {
  const candidates: Array<{ executable: string; why: string }> = [];
  if (explicit !== '') candidates.push({ executable: explicit, why: '--python / NODICORN_PYTHON' });
  else {
    const venv = env.VIRTUAL_ENV;
    if (venv !== undefined && venv !== '')
      candidates.push({ executable: join(venv, 'bin', 'python'), why: 'VIRTUAL_ENV' });
    candidates.push({ executable: 'python3', why: 'python3 on PATH' });
  }
  const rejected: string[] = [];
  for (const candidate of candidates) {
    const result = await probe(candidate.executable);
    if ('version' in result) return { ...candidate, version: result.version };
    rejected.push(`  ${candidate.executable} (${candidate.why}): ${result.problem}`);
  }
  throw new NoPythonError(`no usable Python interpreter found; tried:\n${rejected.join('\n')}`);
}
