/**
 * Starts the real nodicorn CLI on 127.0.0.1 port 0, reads the bound address from its ready line, and stops
 * it so no test leaves a process behind. Every server runs in a process group of its own (its Python
 * workers and fork servers join it): stopping it ends with SIGKILL to whatever of the group is left, and
 * so does the end of the test file. `withNodicorn` wraps start, use and stop in one call.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';
import { cliPath, repoRoot } from './paths.js';

export interface RunningNodicorn {
  readonly process: ChildProcess;
  readonly port: number;
  readonly url: string;
  /** Everything the server wrote to stderr (its error log) so far. */
  log(): string;
  /** Resolves once the log contains `text` (or rejects after `ms`). */
  waitForLog(text: string | RegExp, ms?: number): Promise<void>;
  /**
   * Sends a signal (to the server, or to its whole process group when started with `signalGroup`), waits
   * for the exit code (SIGKILL after `ms`), then kills what is left of the group: workers the server failed
   * to stop. Safe to call again: the group is killed each time, the exit code returned.
   */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
}

/** The process groups of servers started by this file and not stopped yet: they go at its end. */
const groups = new Set<number>();
after(() => {
  for (const pgid of groups) killGroup(pgid, 'SIGKILL');
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is empty already
  }
}

export interface StartOptions {
  readonly cwd?: string;
  /** Added to (or, where undefined, removed from) this process's environment. */
  readonly env?: Record<string, string | undefined>;
  /** Bind given explicitly (e.g. a unix socket); default 127.0.0.1:0. */
  readonly bind?: readonly string[];
  readonly timeoutMs?: number;
  /** A command that runs the server (and replaces itself with it: `prlimit --nofile=256:256`). */
  readonly wrap?: readonly string[];
  /** The command that is the CLI, instead of this checkout's bin/ (`npx nodicorn` in a project). */
  readonly command?: readonly string[];
  /**
   * `stop(signal)` signals the whole process group (`kill -- -PGID`), as systemd's control group, `tini
   * -g` or a terminal's Ctrl-C do, instead of the server alone.
   */
  readonly signalGroup?: boolean;
}

export async function startNodicorn(
  args: readonly string[],
  options: StartOptions = {},
): Promise<RunningNodicorn> {
  const binds = options.bind ?? ['127.0.0.1:0'];
  const command = [
    ...(options.wrap ?? []),
    ...(options.command ?? [process.execPath, cliPath]),
    ...args,
    ...binds.flatMap((b) => ['-b', b]),
  ];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const group = child.pid!;
  groups.add(group);
  let output = '';
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const w of waiters.splice(0)) w();
  };
  child.stderr!.on('data', onData);
  child.stdout!.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const w of waiters.splice(0)) w();
      resolve(code ?? (signal === null ? null : -1));
    }),
  );
  const waitForLog = (text: string | RegExp, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`timed out waiting for ${String(text)} in log:\n${output}`)),
        ms,
      );
      const check = () => {
        if (typeof text === 'string' ? output.includes(text) : text.test(output)) {
          clearTimeout(deadline);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(deadline);
          reject(
            new Error(
              `server exited (${child.exitCode ?? child.signalCode}) before ${String(text)}:\n${output}`,
            ),
          );
        } else waiters.push(check);
      };
      check();
    });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', ms = 15_000): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      if (options.signalGroup === true) killGroup(group, signal);
      else child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      await exited;
      clearTimeout(timer);
    }
    // Anything of the group still there (a worker the server failed to stop) goes too.
    killGroup(group, 'SIGKILL');
    groups.delete(group);
    return exited;
  };
  try {
    await waitForLog(/Listening at: (https?:\/\/\S+|unix:\S+|fd:\/\/\d+)/, options.timeoutMs ?? 20_000);
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
  const m = /Listening at: https?:\/\/(?:\[[^\]]+\]|[^:]+):(\d+)/.exec(output);
  const port = m === null ? 0 : Number(m[1]);
  return {
    process: child,
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => output,
    waitForLog,
    stop,
  };
}

/**
 * Starts a server, runs `fn` with it and stops it whatever happened (the process group included): the
 * start/try/finally/stop every integration test needs, in one call. Returns what `fn` returns.
 */
export async function withNodicorn<T>(
  args: readonly string[],
  fn: (server: RunningNodicorn) => Promise<T>,
  options: StartOptions = {},
): Promise<T> {
  const server = await startNodicorn(args, options);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}
