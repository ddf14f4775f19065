/**
 * Starts the real nodicorn CLI on 127.0.0.1 port 0, reads the bound address from its ready line, and stops
 * it (SIGKILL as a last resort) so no test leaves a process behind.
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
  /** Sends a signal (to the whole process group when started `detached`) and waits for the exit code. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
}

const running = new Set<ChildProcess>();
/** Servers started in a process group of their own: the group goes, workers included. */
const groups = new Set<number>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
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
   * Start the server in a process group of its own (its workers join it), as systemd's control group or
   * a shell's job: `stop()` then signals the whole group (`kill -- -PGID`).
   */
  readonly detached?: boolean;
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
    detached: options.detached === true,
  });
  running.add(child);
  const group = options.detached === true ? child.pid : undefined;
  if (group !== undefined) groups.add(group);
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
      running.delete(child);
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
  await waitForLog(/Listening at: (https?:\/\/\S+|unix:\S+)/, options.timeoutMs ?? 20_000);
  const m = /Listening at: https?:\/\/(?:\[[^\]]+\]|[^:]+):(\d+)/.exec(output);
  const port = m === null ? 0 : Number(m[1]);
  return {
    process: child,
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => output,
    waitForLog,
    stop: async (signal = 'SIGTERM', ms = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      if (group === undefined) child.kill(signal);
      else killGroup(group, signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(timer);
      if (group !== undefined) {
        // Anything of the group still there (a worker the server failed to stop) goes too.
        killGroup(group, 'SIGKILL');
        groups.delete(group);
      }
      return code;
    },
  };
}
