/**
 * What a worker process uses, read from Linux's /proc: its resident set (for --max-worker-memory and
 * /metrics) and its CPU time (for /metrics). Each read is one small file; where there is no /proc (not
 * Linux) or the process has gone, there is nothing to report.
 */
import { readFile } from 'node:fs/promises';

/**
 * Clock ticks per second of /proc/PID/stat's times (USER_HZ): 100 on every Linux architecture Node runs
 * on; Node cannot ask sysconf(_SC_CLK_TCK), and Prometheus's own procfs reader assumes the same.
 */
export const USER_HZ = 100;

/** A process's resident set size in bytes, from /proc/PID/status (VmRSS, in kB); 0 when unreadable. */
export async function readRss(pid: number): Promise<number> {
  try {
    return rssOf(await readFile(`/proc/${pid}/status`, 'latin1'));
  } catch {
    return 0; // gone meanwhile, or no /proc (not Linux): nothing to act on
  }
}

/** VmRSS of a /proc/PID/status text, in bytes (0 when absent: a zombie has none). */
export function rssOf(status: string): number {
  const m = /^VmRSS:\s*(\d+)\s*kB/m.exec(status);
  return m === null ? 0 : Number(m[1]) * 1024;
}

/**
 * User plus system CPU seconds of a /proc/PID/stat line (fields 14 and 15, utime and stime, in clock
 * ticks); NaN when the line is not one. The command name (field 2) is in parentheses and may hold spaces
 * and parentheses itself, so the fields are counted from the last ')'.
 */
export function cpuSecondsOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

export interface ProcUsage {
  readonly pid: number;
  readonly rssBytes: number;
  readonly cpuSeconds: number;
}

/** A live process's resident set and CPU time; null when it has gone (or there is no /proc). */
export async function readUsage(pid: number): Promise<ProcUsage | null> {
  try {
    const [status, stat] = await Promise.all([
      readFile(`/proc/${pid}/status`, 'latin1'),
      readFile(`/proc/${pid}/stat`, 'latin1'),
    ]);
    const cpuSeconds = cpuSecondsOf(stat);
    return Number.isFinite(cpuSeconds) ? { pid, rssBytes: rssOf(status), cpuSeconds } : null;
  } catch {
    return null;
  }
}
