/** Running wrk and reading its report. */
import { spawn } from 'node:child_process';

export interface WrkResult {
  readonly requestsPerSec: number;
  readonly requests: number;
  /** Latency percentiles in milliseconds (wrk --latency). */
  readonly p50: number;
  readonly p99: number;
  /** Responses that were not 2xx/3xx, plus socket errors (connect, read, write, timeout). */
  readonly errors: number;
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** A wrk duration such as `1.23ms`, `850.00us`, `2.01s`, in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) throw new Error(`not a wrk duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** A wrk count such as `12345`, `1.23k`, `4.50M`. */
export function parseCount(text: string): number {
  const m = /^([\d.]+)([kMG]?)$/.exec(text.trim());
  if (m === null) throw new Error(`not a wrk count: ${JSON.stringify(text)}`);
  return Number(m[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]!]!;
}

export function parseWrk(output: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const total = /(\d+) requests in /.exec(output);
  if (rps === null || total === null) throw new Error(`unreadable wrk output:\n${output}`);
  const percentile = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(output);
    return m === null ? Number.NaN : parseDuration(m[1]!);
  };
  let errors = 0;
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  if (non2xx !== null) errors += Number(non2xx[1]);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  if (socket !== null) errors += [1, 2, 3, 4].reduce((sum, i) => sum + Number(socket[i]), 0);
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    p50: percentile('50'),
    p99: percentile('99'),
    errors,
  };
}

export interface WrkOptions {
  readonly connections: number;
  readonly seconds: number;
  readonly threads?: number;
}

export function wrkArgs(url: string, options: WrkOptions): string[] {
  return [`-t${options.threads ?? 1}`, `-c${options.connections}`, `-d${options.seconds}s`, '--latency', url];
}

export function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', wrkArgs(url, options), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 30) * 1000);
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(guard);
      try {
        resolve(parseWrk(out));
      } catch (error) {
        reject(error);
      }
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
