/**
 * The servers a scenario compares, and starting/stopping them. Every server is a command line run in its
 * own process group on 127.0.0.1 and a free port, ready once its URL answers the expected body, stopped
 * with SIGTERM then SIGKILL to the whole group (so workers never outlive it). A peer (gunicorn, uwsgi,
 * waitress…) is one more `ServerSpec` with its `needs`; a scenario is a path, an expected body and servers.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/bench/servers.js). */
export const repo = fileURLToPath(new URL('../../', import.meta.url));
export const PYTHON = '/usr/bin/python3';

export interface Command {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

/** Something a server needs that the bench will not install: how to tell, and what to run. */
export interface Requirement {
  readonly what: string;
  readonly install: string;
  present(): boolean;
}

export interface ServerSpec {
  readonly name: string;
  command(port: number): Command;
  readonly needs: readonly Requirement[];
  /** One line naming what runs (recorded in --json). */
  version(): string;
}

export interface Scenario {
  readonly name: string;
  readonly path: string;
  /** What a correct answer's body contains (whitespace ignored): checked before any server is measured. */
  readonly expect: string;
  /** The first is nodicorn; ratios are its req/s divided by each other's. */
  readonly servers: readonly [ServerSpec, ...ServerSpec[]];
}

export const formatCommand = (c: Command): string =>
  [c.cmd, ...c.args].map((a) => (/^[\w./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');

function firstLine(cmd: string, args: string[]): string {
  const run = spawnSync(cmd, args, { encoding: 'utf8' });
  if (run.error !== undefined) return `unavailable (${run.error.message})`;
  return `${run.stdout}${run.stderr}`.trim().split('\n')[0]!.trim();
}

const built = (file: string): Requirement => ({
  what: file,
  install: 'npm run build',
  present: () => existsSync(`${repo}${file}`),
});

const pythonModule = (module: string, debianPackage: string): Requirement => ({
  what: `Python module ${module} for ${PYTHON}`,
  install: `apt-get install -y ${debianPackage}`,
  present: () => spawnSync(PYTHON, ['-c', `import ${module}`]).status === 0,
});

const nodicornVersion = (): string => {
  const pkg = JSON.parse(readFileSync(`${repo}package.json`, 'utf8')) as { version: string };
  return `nodicorn ${pkg.version} on node ${process.version}`;
};

/** nodicorn's own CLI, as a user runs it. */
function nodicorn(name: string, appArgs: string[], needs: Requirement[]): ServerSpec {
  return {
    name,
    command: (port) => ({
      cmd: process.execPath,
      args: [`${repo}bin/nodicorn.js`, ...appArgs, '-b', `127.0.0.1:${port}`, '--log-level', 'warning'],
      cwd: repo,
    }),
    needs: [built('dist/src/cli/main.js'), ...needs],
    version: nodicornVersion,
  };
}

/** The ceiling: node:http answering the same bytes with nothing in between. */
const bareNode: ServerSpec = {
  name: 'bare node:http',
  command: (port) => ({
    cmd: process.execPath,
    args: [`${repo}dist/bench/apps/bare-hello.js`, String(port)],
    cwd: repo,
  }),
  needs: [built('dist/bench/apps/bare-hello.js')],
  version: () => `node ${process.version}`,
};

function gunicorn(workers: number, app: string, chdir: string): ServerSpec {
  return {
    name: `gunicorn sync -w ${workers}`,
    command: (port) => ({
      cmd: PYTHON,
      args: ['-m', 'gunicorn', '--chdir', chdir, '-k', 'sync', '-w', String(workers)].concat([
        '-b',
        `127.0.0.1:${port}`,
        '--log-level',
        'warning',
        app,
      ]),
      cwd: repo,
    }),
    needs: [pythonModule('gunicorn', 'gunicorn')],
    version: () =>
      `gunicorn ${firstLine(PYTHON, ['-c', 'import gunicorn; print(gunicorn.__version__)'])} on ${firstLine(PYTHON, ['--version'])}`,
  };
}

export interface ScenarioOptions {
  /** Worker processes for the servers that have them (the Python ones). */
  readonly workers: number;
}

/** Every scenario; the harness runs those whose servers' needs are met (or the ones --only names). */
export function scenarios({ workers }: ScenarioOptions): Scenario[] {
  const w = ['-w', String(workers), '--python', PYTHON];
  return [
    {
      name: 'hello (TypeScript)',
      path: '/',
      expect: 'Hello, WSGI World!',
      servers: [
        nodicorn('nodicorn (TS hello)', ['dist/examples/hello.js:app'], [built('dist/examples/hello.js')]),
        bareNode,
      ],
    },
    {
      name: 'hello (Python)',
      path: '/',
      expect: 'Hello, WSGI World!',
      servers: [
        nodicorn(
          `nodicorn (Python hello, -w ${workers})`,
          ['--chdir', 'examples', 'hello:application', ...w],
          [],
        ),
        gunicorn(workers, 'hello:application', 'examples'),
      ],
    },
    {
      name: 'Flask JSON',
      path: '/',
      expect: '"message":"Hello, WSGI World!"',
      servers: [
        nodicorn(
          `nodicorn (Flask, -w ${workers})`,
          ['--chdir', 'bench/apps', 'flask_json:app', ...w],
          [pythonModule('flask', 'python3-flask')],
        ),
        gunicorn(workers, 'flask_json:app', 'bench/apps'),
      ],
    },
  ];
}

/** What is missing to run `scenario`. */
export function missing(scenario: Scenario): Requirement[] {
  const unique = new Map(scenario.servers.flatMap((s) => s.needs).map((r) => [r.what, r]));
  return [...unique.values()].filter((r) => !r.present());
}

/** A port free on 127.0.0.1 right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** One GET with a fresh connection that is closed afterwards (no keep-alive left to delay a shutdown). */
export function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { agent: false, headers: { connection: 'close' }, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Process groups of servers still running: killed by `killAllServers` (Ctrl-C, errors, exit). */
const groups = new Set<number>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** SIGKILLs every server group still known; synchronous, so it is safe in an 'exit' handler. */
export function killAllServers(): void {
  for (const pid of groups) killGroup(pid, 'SIGKILL');
  groups.clear();
}

/** Clock ticks per second of /proc/PID/stat's utime and stime. */
let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const run = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(run.stdout?.trim());
    clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

export interface CpuTime {
  /** Seconds of user and system CPU, summed over the processes of a group. */
  readonly user: number;
  readonly system: number;
}

/**
 * The CPU time the live processes of process group `pgid` have used so far (Linux /proc; NaN elsewhere).
 * Sampled before and after a run, it gives the server's CPU per request, which other load on the machine
 * disturbs far less than requests per second.
 */
export function groupCpuTime(pgid: number): CpuTime {
  let user = 0;
  let system = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return { user: Number.NaN, system: Number.NaN };
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    user += Number(fields[11]);
    system += Number(fields[12]);
  }
  const hz = ticksPerSecond();
  return { user: user / hz, system: system / hz };
}

export interface Started {
  readonly url: string;
  readonly command: Command;
  readonly pid: number;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the server has exited. */
  stop(graceMs?: number): Promise<void>;
}

const STDERR_TAIL = 8192;
const START_TIMEOUT_MS = 30_000;

/** Starts `spec` on a free port and waits until `scenario.path` answers 200 with the expected body. */
export async function startServer(spec: ServerSpec, scenario: Scenario): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(spec, scenario, await freePort());
    } catch (error) {
      // Another process may take the port between the probe and the server's bind: try another one.
      if (attempt < 3 && /EADDRINUSE|address already in use/i.test((error as Error).message)) continue;
      throw error;
    }
  }
}

async function startOnce(spec: ServerSpec, scenario: Scenario, port: number): Promise<Started> {
  const command = spec.command(port);
  const child: ChildProcess = spawn(command.cmd, [...command.args], {
    cwd: command.cwd,
    detached: true, // its own process group: workers are stopped with it, Ctrl-C is ours to relay
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`${spec.name}: cannot start ${formatCommand(command)}: ${error.message}`);
  }
  groups.add(pid);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-STDERR_TAIL);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async (graceMs = 5000): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(pid, 'SIGTERM');
      const force = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(force);
    }
    killGroup(pid, 'SIGKILL'); // anything of the group that outlived its leader
    groups.delete(pid);
  };

  const url = `http://127.0.0.1:${port}${scenario.path}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  const squash = (s: string) => s.replace(/\s/g, '');
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `${spec.name} exited at start (${child.exitCode ?? child.signalCode}): ${formatCommand(command)}\n${stderr}`,
      );
    }
    let answer: { status: number; body: string } | undefined;
    try {
      answer = await httpGet(url);
    } catch {
      // not listening yet
    }
    if (answer !== undefined) {
      if (answer.status === 200 && squash(answer.body).includes(squash(scenario.expect)))
        return { url, command, pid, stop };
      await stop();
      throw new Error(
        `${spec.name} answered ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}, ` +
          `expected 200 with ${JSON.stringify(scenario.expect)}\n${stderr}`,
      );
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${spec.name} did not answer ${url} within ${START_TIMEOUT_MS / 1000} s\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
