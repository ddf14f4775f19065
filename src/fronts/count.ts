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
 * The share of a request's server CPU spent in its front, for the lightest framework app the bench runs
 * (Flask JSON on this project's 2-core VM: about 76 µs in the front, 121 µs in the worker;
 * docs/benchmarks.md). Lighter apps give the front more, real apps (a database, templates) less.
 */
export const FRONT_SHARE = 0.4;

export const FRONTS_DOC = `Front processes (a number, or auto): each accepts connections on the shared sockets, speaks HTTP and runs its share of the -w workers (or its own copy of a TypeScript app), under one primary process that holds the signals, the pid file, the logs and /metrics. 'auto' gives a Python app one front per core's worth of front work: ${FRONT_SHARE} of the cores its workers can keep busy, rounded (one on up to 3 cores; docs/benchmarks.md has the model); a TypeScript app one, as more would split its in-memory state.`;

/**
 * The number of fronts to run: `setting` itself, or what `auto` makes of `cores` and the app. One front is
 * one thread, so it speaks HTTP for one core's worth of requests at most; past that the next one pays.
 */
export function chooseFronts(
  setting: FrontCount,
  cores: number,
  app: { readonly python: boolean; readonly workers: number },
): number {
  if (setting !== 'auto') return setting;
  // An in-process app keeps its state in its process: more fronts would split it, so only when asked.
  if (!app.python) return 1;
  // The cores the fronts can keep busy: their share of all cores, or of what the workers (each a core at
  // most, doing the other part of the work) let through.
  const frontCores = Math.min(cores * FRONT_SHARE, (app.workers * FRONT_SHARE) / (1 - FRONT_SHARE));
  // Each front needs a worker of its own.
  return Math.max(1, Math.min(app.workers, Math.round(frontCores)));
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
