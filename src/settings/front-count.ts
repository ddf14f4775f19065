/**
 * The `--fronts` setting: its type, parser and doc line (the rule `auto` follows is src/fronts/count.ts).
 */
import { SettingError } from './registry.js';

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
