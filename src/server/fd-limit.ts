/**
 * The open-file limit (`ulimit -n`, RLIMIT_NOFILE) and the connection cap taken from it. Each connection
 * holds a descriptor; at the limit, accept() fails with EMFILE, and libuv then accepts and closes the
 * connection at once (its reserve-descriptor trick): the client sees a reset and nothing is logged. With
 * `server.maxConnections` a little below the limit, Node still accepts and closes the connections past
 * it, but says so ('drop'), and descriptors stay free for what the server itself must open (body spools,
 * log files, workers' pipes).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface FileLimit {
  readonly soft: number;
  /** Infinity for "unlimited". */
  readonly hard: number;
}

/** `Max open files  1024  1024  files` in /proc/self/limits (Linux), or null where there is none. */
export function parseOpenFileLimit(limits: string): FileLimit | null {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (m === null) return null;
  const value = (text: string) => (text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text));
  return { soft: value(m[1]!), hard: value(m[2]!) };
}

export function openFileLimit(): FileLimit | null {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/** Descriptors this process has open now, or 0 where /proc/self/fd cannot be read. */
export function openDescriptors(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** Each Python worker holds three pipes in the master (stdout, stderr and the frame channel). */
const PIPES_PER_WORKER = 3;

/**
 * How many connections all binds together may hold: the soft limit less what is open now, less the
 * workers' pipes twice over (a SIGHUP runs two generations side by side for a while), less a margin of
 * a sixteenth of the limit (at least 32) for body spools, response spools and log files. At least 1.
 */
export function connectionCap(limit: number, inUse: number, workers: number): number {
  if (!Number.isFinite(limit)) return Number.POSITIVE_INFINITY;
  const margin = Math.max(32, Math.floor(limit / 16));
  return Math.max(1, limit - inUse - 2 * PIPES_PER_WORKER * workers - margin);
}
