/** What tests read about the processes they start (from /proc), and waiting for a state to be reached. */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { RunningNodicorn } from './server.js';

/** A field of /proc/PID/status in KiB: the resident set now (VmRSS) or at its peak (VmHWM). */
export function memoryKiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

/** The server's Python worker processes (its children running nodicorn_worker), from /proc. */
export function pythonWorkers(server: RunningNodicorn): string[] {
  const pid = server.process.pid!;
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter((child) => {
      try {
        return child !== '' && readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('nodicorn_worker');
      } catch {
        return false; // exited meanwhile
      }
    });
}

/**
 * Polls until `check` holds, failing after `ms`: for states no event announces to a test (a worker that
 * has exited, a line an app wrote to its own file).
 */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The sizes of the nameless files `pid` holds open (O_TMPFILE or unlinked: its request and response
 * spools), from /proc: what a slow client has made the server put on disk.
 */
export function namelessFiles(pid: number): number[] {
  const sizes: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith('(deleted)'))
        sizes.push(statSync(`/proc/${pid}/fd/${fd}`).size);
    } catch {
      // closed meanwhile
    }
  }
  return sizes;
}

/**
 * `until` for states that events announce: `until(check)` re-checks each time `notify()` is called (from
 * a 'data' or 'message' handler, say), instead of polling; it fails after `ms`.
 */
export class Progress {
  #waiters: Array<() => void> = [];

  notify = (): void => {
    for (const waiter of this.#waiters.splice(0)) waiter();
  };

  async until(check: () => boolean, what: string | (() => string), ms = 15_000): Promise<void> {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      this.notify();
    }, ms);
    try {
      while (!check()) {
        if (late) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
