/**
 * What the primary and its fronts say to each other over the IPC channel node:child_process gives a
 * forked process (JSON messages). The channel carries control only, never a request:
 *
 *   front                                  primary
 *     hello ─────────────────────────────────▶
 *     ◀───────────────────────── socket × N     (each with a bound socket's handle, SCM_RIGHTS)
 *     ◀───────────────────────────── start      (its index and share of the workers)
 *     ready ─────────────────────────────────▶  (listening, workers booted)
 *     ◀──────────────────────────── signal      (SIGHUP, SIGTTIN, SIGTTOU: the primary's, passed on)
 *     ◀──────────────────────────── scrape      (for /metrics and the health check)
 *     scraped ───────────────────────────────▶
 *
 * SIGTERM, SIGINT and SIGQUIT are sent to a front as signals, so that one a front gets from elsewhere
 * (systemd's control group, `kill -- -PGID`) acts the same; the others, which a front ignores when they
 * come as signals, travel here, so that one sent to the whole process group acts once, in the primary.
 */

/** The environment variable that makes a nodicorn process a front (its value: the primary's pid). */
export const FRONT_ENV = '_NODICORN_FRONT_OF';

/** Signals the primary passes on over the channel. */
export const RELAYED = ['SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const;
export type RelayedSignal = (typeof RELAYED)[number];

export interface SocketMessage {
  readonly t: 'socket';
  readonly address: string;
  readonly unixPath: string;
}

export interface StartMessage {
  readonly t: 'start';
  /** 1, 2, …: the front's place, kept by the front that replaces it. */
  readonly index: number;
  /** This front's share of -w and of --max-workers. */
  readonly workers: number;
  readonly maxWorkers: number;
}

export type ToFront =
  | SocketMessage
  | StartMessage
  | { readonly t: 'signal'; readonly signal: RelayedSignal }
  | { readonly t: 'scrape'; readonly id: number };

export interface Scraped {
  readonly t: 'scraped';
  readonly id: number;
  /** The front's /metrics text, or null without --metrics-bind. */
  readonly metrics: string | null;
  readonly healthy: boolean;
  readonly workers: readonly number[];
}

export type FromFront =
  | { readonly t: 'hello' }
  | { readonly t: 'ready'; readonly workers: readonly number[] }
  | Scraped;

/** A message from the other side, checked as far as its type tag (the channel is ours, not a client's). */
export function isMessage<M extends { t: string }>(value: unknown): value is M {
  return typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string';
}
