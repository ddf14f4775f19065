/**
 * wrk: finding it, running it, reading its report. The parser is pure (tested on captured outputs in
 * tests/unit/bench/wrk.test.ts); everything that spawns is below it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface WrkSocketErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly timeout: number;
}

export interface WrkResult {
  readonly threads: number;
  readonly connections: number;
  /** Completed requests, and the seconds wrk measured them over (its own clock, not -d). */
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSec: number;
  readonly bytesRead: number;
  readonly transferPerSec: number;
  /** Thread stats, latency in milliseconds. */
  readonly latency: { readonly avg: number; readonly stdev: number; readonly max: number };
  /** Per-thread requests/sec (wrk's "Req/Sec" line). */
  readonly threadRequestsPerSec: { readonly avg: number; readonly stdev: number; readonly max: number };
  /** Latency percentiles in milliseconds, keyed by percent ('50', '75', '90', '99'); empty without --latency. */
  readonly percentiles: Readonly<Record<string, number>>;
  /** p50 and p99 in milliseconds; NaN without --latency. */
  readonly p50: number;
  readonly p99: number;
  /** Responses whose status was not 2xx or 3xx. */
  readonly non2xx: number;
  readonly socketErrors: WrkSocketErrors;
  /** non2xx plus every socket error. */
  readonly errors: number;
}

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const METRIC_UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
const BINARY_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** A wrk duration (`850.00us`, `1.23ms`, `2.01s`, `1.50m`), in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)$/.exec(text.trim());
  if (m === null) throw new Error(`not a wrk duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * TIME_UNITS[m[2]!]!;
}

/** A wrk count in metric units (`17`, `5.86`, `37.11k`, `1.23M`). */
export function parseCount(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kMGT]?)$/.exec(text.trim());
  if (m === null) throw new Error(`not a wrk count: ${JSON.stringify(text)}`);
  return Number(m[1]) * METRIC_UNITS[m[2]!]!;
}

/** A wrk byte size in binary units (`586.53B`, `2.30KB`, `11.73MB`), in bytes. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(B|KB|MB|GB|TB)$/.exec(text.trim());
  if (m === null) throw new Error(`not a wrk size: ${JSON.stringify(text)}`);
  return Number(m[1]) * BINARY_UNITS[m[2]!]!;
}

/** Reads wrk's report; throws (with the output) when it is not one, e.g. "unable to connect". */
export function parseWrk(output: string): WrkResult {
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(output);
    if (m === null) throw new Error(`unreadable wrk output (no ${what}):\n${output}`);
    return m;
  };
  const setup = need(/^\s*(\d+) threads and (\d+) connections/m, 'threads line');
  const total = need(/^\s*(\d+) requests in (\S+), (\S+) read/m, 'requests line');
  const rps = need(/^Requests\/sec:\s+(\d+(?:\.\d+)?)/m, 'Requests/sec');
  const transfer = need(/^Transfer\/sec:\s+(\S+)/m, 'Transfer/sec');
  const latency = need(/^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)/m, 'latency stats');
  const perThread = need(/^\s*Req\/Sec\s+(\S+)\s+(\S+)\s+(\S+)/m, 'Req/Sec stats');

  const percentiles: Record<string, number> = {};
  const distribution = /^\s*Latency Distribution\s*\n((?:\s+\d+(?:\.\d+)?%\s+\S+\s*\n)+)/m.exec(output);
  if (distribution !== null) {
    for (const line of distribution[1]!.trim().split('\n')) {
      const [percent, value] = line.trim().split(/\s+/);
      percentiles[percent!.replace('%', '')] = parseDuration(value!);
    }
  }
  const non2xx = /^\s*Non-2xx or 3xx responses:\s+(\d+)/m.exec(output);
  const socket = /^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/m.exec(output);
  const socketErrors: WrkSocketErrors = {
    connect: Number(socket?.[1] ?? 0),
    read: Number(socket?.[2] ?? 0),
    write: Number(socket?.[3] ?? 0),
    timeout: Number(socket?.[4] ?? 0),
  };
  const non2xxCount = Number(non2xx?.[1] ?? 0);
  return {
    threads: Number(setup[1]),
    connections: Number(setup[2]),
    requests: Number(total[1]),
    seconds: parseDuration(total[2]!) / 1000,
    requestsPerSec: Number(rps[1]),
    bytesRead: parseBytes(total[3]!),
    transferPerSec: parseBytes(transfer[1]!),
    latency: {
      avg: parseDuration(latency[1]!),
      stdev: parseDuration(latency[2]!),
      max: parseDuration(latency[3]!),
    },
    threadRequestsPerSec: {
      avg: parseCount(perThread[1]!),
      stdev: parseCount(perThread[2]!),
      max: parseCount(perThread[3]!),
    },
    percentiles,
    p50: percentiles['50'] ?? Number.NaN,
    p99: percentiles['99'] ?? Number.NaN,
    non2xx: non2xxCount,
    socketErrors,
    errors:
      non2xxCount + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
  };
}

export interface WrkOptions {
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  /** Extra request headers (`Connection: close`). */
  readonly headers?: readonly string[];
  /** A Lua script file (wrk -s): how a POST with a body is sent. */
  readonly script?: string;
}

export function wrkArgs(url: string, options: WrkOptions): string[] {
  return [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--latency',
    ...(options.headers ?? []).flatMap((h) => ['-H', h]),
    ...(options.script === undefined ? [] : ['-s', options.script]),
    url,
  ];
}

/**
 * The wrk Lua script that sends `method` with `body` (bytes as Lua decimal escapes, so any survive);
 * wrk.format adds the Content-Length; headers go as -H. Null for a GET without a body, which needs no script.
 */
export function luaScript(method: string, body: Buffer | undefined): string | null {
  if (method === 'GET' && body === undefined) return null;
  const lines = [`wrk.method = ${JSON.stringify(method)}`];
  if (body !== undefined) {
    // Runs of one byte are written as string.rep, so a 64 KiB body is a short script.
    const parts: string[] = [];
    for (let i = 0; i < body.length; ) {
      let j = i;
      while (j < body.length && body[j] === body[i]) j++;
      parts.push(`string.rep("\\${body[i]}", ${j - i})`);
      i = j;
    }
    lines.push(`wrk.body = ${parts.join(' .. ')}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface WrkRun {
  /** The exact command line. */
  readonly command: string;
  /** wrk's whole report, as printed. */
  readonly output: string;
  readonly result: WrkResult;
}

const runningWrk = new Set<ReturnType<typeof spawn>>();

/** Ends any wrk still running (on Ctrl-C or an error in the harness). */
export function killWrk(): void {
  for (const child of runningWrk) child.kill('SIGKILL');
}

/** Runs wrk once against `url`; bounded by a guard of the duration plus 30 s. */
export function runWrk(url: string, options: WrkOptions): Promise<WrkRun> {
  const args = wrkArgs(url, options);
  const command = ['wrk', ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    runningWrk.add(child);
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000);
    child.on('error', (error) => {
      clearTimeout(guard);
      runningWrk.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      runningWrk.delete(child);
      try {
        resolve({ command, output, result: parseWrk(output) });
      } catch (error) {
        reject(new Error(`${command} ended (${signal ?? code}): ${(error as Error).message}`));
      }
    });
  });
}

/** `wrk --version`'s first line (wrk prints it and exits 1), or null when there is no wrk on PATH. */
export function wrkVersion(): string | null {
  const run = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (run.error !== undefined) return null;
  return `${run.stdout}${run.stderr}`
    .trim()
    .split('\n')[0]!
    .replace(/\s*Copyright.*$/, '')
    .trim();
}

/** True while apt or dpkg runs (wrk may be being installed right now). */
function packageManagerBusy(): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (/^(apt|apt-get|aptitude|dpkg|unattended-upgr)$/.test(comm)) return true;
    } catch {
      // the process ended meanwhile
    }
  }
  return false;
}

/**
 * wrk's version once wrk is on PATH. When it is missing while apt/dpkg is running, waits for them (up to
 * `waitSeconds`); otherwise throws at once with the command to install it. Installs nothing itself.
 */
export async function requireWrk(waitSeconds = 180, log = (line: string) => console.error(line)) {
  const deadline = Date.now() + waitSeconds * 1000;
  let told = false;
  for (;;) {
    const version = wrkVersion();
    if (version !== null) return version;
    if (!packageManagerBusy() || Date.now() > deadline)
      throw new Error(
        "wrk is not installed: run 'apt-get install -y wrk' (as root), then run the bench again",
      );
    if (!told) log('wrk not found yet and apt/dpkg is running: waiting for it (Ctrl-C to stop)…');
    told = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}
