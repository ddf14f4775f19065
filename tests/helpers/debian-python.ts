/**
 * Flask and Django come from Debian's python3-flask / python3-django, installed for /usr/bin/python3 (the
 * `python3` on PATH may be another interpreter). Tests that need them fail loudly when they are missing:
 * they never skip.
 */
import { spawnSync } from 'node:child_process';

export const DEBIAN_PYTHON = '/usr/bin/python3';

export function requirePythonModules(...modules: string[]): void {
  const result = spawnSync(DEBIAN_PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `these tests need ${modules.join(' and ')} for ${DEBIAN_PYTHON}; install them with:\n` +
        `  apt-get install -y ${modules.map((m) => `python3-${m}`).join(' ')}\n${result.stderr ?? ''}`,
    );
  }
}
