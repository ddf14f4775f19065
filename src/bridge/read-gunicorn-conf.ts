/**
 * The Python step of reading a Gunicorn config file (`gunicorn.conf.py`): the interpreter the workers would
 * use executes it (so `workers = multiprocessing.cpu_count() * 2 + 1` works) and prints its public names as
 * JSON (python/nodicorn_worker/gunicorn_conf.py). Mapping those names to settings is src/settings/
 * gunicorn-conf.ts's job; the CLI joins the two (ConfigContext.readGunicornConf).
 */
import { execFile } from 'node:child_process';
import { SettingError } from '../errors/registry.js';
import type { ConfName, GunicornConfNames, PythonContext } from '../settings/config-types.js';
import { findPython } from './find-python.js';
import { workerEnv } from './worker-package.js';

/** Runs `python -m nodicorn_worker.gunicorn_conf LOCATION` and reads what it prints. */
export async function readGunicornConfNames(
  location: string,
  context: PythonContext,
): Promise<GunicornConfNames> {
  const python = await findPython(context.python, context.env).catch((error: unknown) => {
    throw new SettingError(`${location} is a Gunicorn config file, read with Python, and ${String(error)}`, {
      cause: error,
    });
  });
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      python.executable,
      ['-m', 'nodicorn_worker.gunicorn_conf', location],
      { cwd: context.cwd, env: workerEnv(context.env), timeout: 30_000, maxBuffer: 16 << 20 },
      (error, out, err) => {
        if (error === null) resolve({ stdout: out, stderr: err });
        else
          reject(
            new SettingError(
              `cannot read Gunicorn config file ${location}:\n${(err || error.message).trimEnd()}`,
            ),
          );
      },
    );
  });
  try {
    return { names: (JSON.parse(stdout) as { names: Record<string, ConfName> }).names, output: stderr };
  } catch {
    throw new SettingError(`cannot read Gunicorn config file ${location}: unexpected output from Python`);
  }
}
