/**
 * How many front processes, and how the Python workers are shared out between them: pure functions of
 * the settings and the machine, so that the rule `--fronts auto` follows is tested without processes.
 */
import { SettingError } from '../settings/registry.js';

/** `--fronts`: a number of front processes, or `auto` (chosen from the CPU count and -w). */
export type FrontCount = number | 'auto';

/** The most fronts `--fronts` takes: one per core is the useful maximum on any machine sold today. */
export const MAX_FRONTS = 64;

export function frontCount(text: string): FrontCount {
  const t = text.trim().toLowerCase();
  if (t === 'auto') return 'auto';
  if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > MAX_FRONTS)
    throw new SettingError(`expected auto or a number from 1 to ${MAX_FRONTS}, got ${JSON.stringify(text)}`);
  return Number(t);
}

/**
 * The rule behind `auto`, from the measurements in docs/benchmarks.md: one front (one Node thread) speaks
 * HTTP for about one core's worth of Python workers on the cheapest apps; a second front pays once there
 * are cores for both fronts and for the workers they feed.
 */
export const CORES_PER_FRONT = 4;

export const FRONTS_DOC = `Front processes: each accepts connections on the shared sockets, speaks HTTP and runs its share of the -w workers (or its own copy of a TypeScript app), under one primary process that holds the signals, the pid file, the logs and /metrics. 'auto' runs one front per ${CORES_PER_FRONT} cores (and never more fronts than Python workers), so one on machines with fewer cores, where a second front does not pay (docs/benchmarks.md has the model).`;

/** The number of fronts to run: `setting` itself, or what `auto` makes of `cores` and the app. */
export function chooseFronts(
  setting: FrontCount,
  cores: number,
  app: { readonly python: boolean; readonly workers: number },
): number {
  if (setting !== 'auto') return setting;
  const byCores = Math.floor(cores / CORES_PER_FRONT);
  // Each front needs a worker of its own; an in-process (TypeScript) app has no workers to share out.
  return Math.max(1, app.python ? Math.min(byCores, app.workers) : byCores);
}

/** `total` workers over `fronts` fronts, as evenly as can be, the first fronts taking one more. */
export function shareOut(total: number, fronts: number): number[] {
  return Array.from({ length: fronts }, (_, i) => Math.floor(total / fronts) + (i < total % fronts ? 1 : 0));
}

/** SIGTTIN: the front that takes the new worker (the one with fewest; the first of those). */
export function frontForMore(shares: readonly number[]): number {
  return shares.indexOf(Math.min(...shares));
}

/**
 * SIGTTOU: the front that gives up a worker (the one with most; the last of those), or -1 when every
 * front is down to one worker: a front cannot serve without one.
 */
export function frontForFewer(shares: readonly number[]): number {
  const most = Math.max(...shares);
  return most <= 1 ? -1 : shares.lastIndexOf(most);
}
