/** Where the shipped Python package (python/nodicorn_worker) is, and the environment that finds it. */
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding nodicorn_worker: python/ beside dist/. */
export const WORKER_PATH = fileURLToPath(new URL('../../../python/', import.meta.url));

/** `env` with the worker package first on PYTHONPATH, unbuffered (so output reaches the log at once). */
export function workerEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string | undefined> {
  const pythonPath = env.PYTHONPATH;
  return {
    ...env,
    PYTHONPATH: pythonPath ? `${WORKER_PATH}${delimiter}${pythonPath}` : WORKER_PATH,
    PYTHONUNBUFFERED: '1',
  };
}
