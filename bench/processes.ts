/**
 * Server processes for the bench: each runs in its own process group on 127.0.0.1 and a free port, is
 * ready once it answers, and is stopped with SIGTERM then SIGKILL to the whole group, so workers never
 * outlive it. Also what /proc tells about a group: CPU time used and resident memory.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

export interface Command {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

export const formatCommand = (c: Command): string =>
  [c.cmd, ...c.args].map((a) => (/^[\w./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');

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

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface BenchRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

/** One request on a fresh connection that is closed afterwards (nothing left to delay a shutdown). */
export function send(port: number, request: BenchRequest, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: request.method,
        path: request.path,
        agent: false,
        timeout: timeoutMs,
        headers: {
          connection: 'close',
          ...request.headers,
          ...(request.body === undefined ? {} : { 'content-length': String(request.body.length) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer on port ${port} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(request.body);
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

export interface Started {
  readonly port: number;
  readonly command: Command;
  readonly pid: number;
  /** The server's stderr so far (its last 8 KiB). */
  stderr(): string;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the server has exited. */
  stop(graceMs?: number): Promise<void>;
}

const STDERR_TAIL = 8192;
const START_TIMEOUT_MS = 30_000;

/**
 * Starts `command(port)` on a free port and waits until `ready(port)` resolves (it rejects while the
 * server cannot answer yet). A failed start stops the group and says why, with the server's stderr.
 */
export async function startProcess(
  name: string,
  command: (port: number) => Command,
  ready: (port: number) => Promise<void>,
): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    try {
      const port = await freePort();
      return await startOnce(name, port, command(port), ready);
    } catch (error) {
      // Another process may take the port between the probe and the server's bind: try another one.
      if (attempt < 3 && /EADDRINUSE|address already in use/i.test((error as Error).message)) continue;
      throw error;
    }
  }
}

async function startOnce(
  name: string,
  port: number,
  command: Command,
  ready: (port: number) => Promise<void>,
): Promise<Started> {
  const child: ChildProcess = spawn(command.cmd, [...command.args], {
    cwd: command.cwd,
    detached: true, // its own process group: workers are stopped with it, Ctrl-C is ours to relay
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`${name}: cannot start ${formatCommand(command)}: ${error.message}`);
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
  const started: Started = { port, command, pid, stderr: () => stderr, stop };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `${name} exited at start (${child.exitCode ?? child.signalCode}): ${formatCommand(command)}\n${stderr}`,
      );
    }
    const listening = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (listening) {
      try {
        await ready(port);
        return started;
      } catch (error) {
        await stop();
        throw new Error(`${name}: ${(error as Error).message}\n${stderr}`);
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${name} did not listen on port ${port} within ${START_TIMEOUT_MS / 1000} s\n${stderr}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
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

/** /proc/PID/stat of every live process in group `pgid`: the fields after "(comm)". */
function groupStats(pgid: number): string[][] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const stats: string[][] = [];
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime … rss (index 21)
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) stats.push(fields);
  }
  return stats;
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
  const stats = groupStats(pgid);
  if (stats.length === 0) return { user: Number.NaN, system: Number.NaN };
  const hz = ticksPerSecond();
  let user = 0;
  let system = 0;
  for (const fields of stats) {
    user += Number(fields[11]);
    system += Number(fields[12]);
  }
  return { user: user / hz, system: system / hz };
}

const PAGE_SIZE = (() => {
  const n = Number(spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 4096;
})();

/** Resident memory of a group's processes, summed, in bytes (shared pages count once per process). */
export function groupRss(pgid: number): number {
  return groupStats(pgid).reduce((sum, fields) => sum + Number(fields[21]) * PAGE_SIZE, 0);
}

/** Samples `groupRss` every `ms` until stopped; `stop()` gives the peak seen. */
export function watchPeakRss(pgid: number, ms = 200): { stop(): number } {
  let peak = groupRss(pgid);
  const timer = setInterval(() => {
    peak = Math.max(peak, groupRss(pgid));
  }, ms);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, groupRss(pgid));
    },
  };
}
