/**
 * How many front processes, and how the Python workers are shared out between them: pure functions of
 * the settings and the machine, so that the rule `--fronts auto` follows is tested without processes.
 */
import { FRONT_SHARE, type FrontCount } from '../settings/front-count.js';

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
