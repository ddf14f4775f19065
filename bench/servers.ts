/** The servers a scenario compares, each started the same way: a command, a port, a readiness check. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('../../', import.meta.url));
export const PYTHON = '/usr/bin/python3';

export interface ServerSpec {
  readonly name: string;
  /** The command line for `port`, run from `cwd`. */
  command(port: number): { cmd: string; args: string[]; cwd: string };
}

const nodicorn = (name: string, app: string, cwd: string, extra: string[] = []): ServerSpec => ({
  name,
  command: (port) => ({
    cmd: process.execPath,
    args: [`${repo}bin/nodicorn.js`, ...extra, app, '-b', `127.0.0.1:${port}`, '--log-level', 'warning'],
    cwd,
  }),
});

const gunicorn = (
  name: string,
  app: string,
  cwd: string,
  workerClass: 'sync' | 'gthread',
  workers: number,
): ServerSpec => ({
  name,
  command: (port) => ({
    cmd: PYTHON,
    args: [
      '-m',
      'gunicorn',
      '-k',
      workerClass,
      '-w',
      String(workers),
      '-b',
      `127.0.0.1:${port}`,
      '--log-level',
      'warning',
      app,
    ],
    cwd,
  }),
});

export interface Scenario {
  readonly name: string;
  readonly path: string;
  /** What a correct answer contains: checked on every server before it is measured. */
  readonly expect: string;
  /** The first server is nodicorn; ratios are nodicorn / each other. */
  readonly servers: readonly ServerSpec[];
}

export function scenarios(workers: number): Scenario[] {
  const w = ['-w', String(workers), '--python', PYTHON];
  return [
    {
      name: 'TypeScript hello',
      path: '/',
      expect: 'Hello, WSGI World!',
      servers: [
        nodicorn('nodicorn (TS app, in-process)', 'dist/examples/hello.js:app', repo),
        {
          name: 'bare node:http',
          command: (port) => ({
            cmd: process.execPath,
            args: [`${repo}dist/bench/apps/bare-hello.js`, String(port)],
            cwd: repo,
          }),
        },
      ],
    },
    {
      name: 'Python seed app',
      path: '/',
      expect: 'Hello, WSGI World!',
      servers: [
        nodicorn('nodicorn', 'hello:my_wsgi_app', `${repo}examples`, w),
        gunicorn('gunicorn sync', 'hello:my_wsgi_app', `${repo}examples`, 'sync', workers),
      ],
    },
    {
      name: 'Flask JSON route',
      path: '/',
      expect: '"message":"Hello, WSGI World!"',
      servers: [
        nodicorn('nodicorn', 'flask_json:app', `${repo}bench/apps`, w),
        gunicorn('gunicorn sync', 'flask_json:app', `${repo}bench/apps`, 'sync', workers),
      ],
    },
  ];
}

export interface Started {
  readonly process: ChildProcess;
  readonly url: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of running) child.kill('SIGKILL');
    process.exit(130);
  });
}
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

let nextPort = 18_000 + (process.pid % 1000) * 10;

/** Starts a server and waits until `path` answers with `expect` (so a broken server is never measured). */
export async function startServer(spec: ServerSpec, path: string, expect: string): Promise<Started> {
  const port = nextPort++;
  const { cmd, args, cwd } = spec.command(port);
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const url = `http://127.0.0.1:${port}${path}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${spec.name} exited at start:\n${stderr}`);
    try {
      const response = await fetch(url);
      const text = await response.text();
      if (response.status !== 200 || !text.replace(/\s/g, '').includes(expect.replace(/\s/g, ''))) {
        throw new Error(
          `${spec.name} answered ${response.status} ${JSON.stringify(text.slice(0, 200))}, expected ${JSON.stringify(expect)}`,
        );
      }
      break;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith(spec.name)) {
        child.kill('SIGKILL');
        throw error;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${spec.name} did not answer within 20 s:\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    process: child,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          running.delete(child);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
