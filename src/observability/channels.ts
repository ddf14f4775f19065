/**
 * The server's events as `node:diagnostics_channel` channels. The access log, /metrics, StatsD and the
 * post_request hook subscribe to them, and so can anything else in the process (an APM agent). Publishing
 * is guarded by `hasSubscribers`, so with nothing listening a request pays one property read.
 *
 *   nodicorn:request:start   RequestRecord   a request was accepted and is handed to the backend
 *   nodicorn:request:finish  RequestRecord   its response is over (sent in full or cut short)
 *   nodicorn:workers         WorkersRecord   the number of live Python workers changed
 *   nodicorn:log             LogRecord       a warning, error, exception or critical line was logged
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** One request, published at start and again (the same object, completed) at finish. */
export interface RequestRecord {
  /** The server that took the request (subscribers of one server filter on it). */
  readonly source: object;
  /**
   * The request's CGI environ, as the backend got it (a TypeScript app's gets its wsgi.* keys too); for a
   * refused request, only what the server could read of it (environ.ts refusedEnviron).
   */
  readonly environ: Readonly<Record<string, string>>;
  /**
   * The server answered the request itself (malformed, over a limit, CONNECT): no app saw it, and the
   * post_request hook does not run for it.
   */
  readonly refused: boolean;
  /** Wall-clock time the request head was handled (ms since the epoch). */
  readonly receivedMs: number;
  /** performance.now() at the same moment. */
  readonly start: number;
  /** Filled in at finish: the status sent (0 when none was), body bytes, duration. */
  status: number;
  bytes: number;
  durationMs: number;
  /** The response headers as sent, flattened (name, value, …). */
  responseHeaders: readonly string[];
  /** Time spent waiting for a Python worker (ms); -1 when the request never queued (a TypeScript app). */
  queueMs: number;
}

export interface WorkersRecord {
  readonly source: object;
  readonly count: number;
}

export interface LogRecord {
  readonly level: 'warning' | 'error' | 'exception' | 'critical';
}

export const REQUEST_START = 'nodicorn:request:start';
export const REQUEST_FINISH = 'nodicorn:request:finish';
export const WORKERS = 'nodicorn:workers';
export const LOG = 'nodicorn:log';

export const requestStart = diagnosticsChannel.channel(REQUEST_START);
export const requestFinish = diagnosticsChannel.channel(REQUEST_FINISH);
export const workersChanged = diagnosticsChannel.channel(WORKERS);
export const logged = diagnosticsChannel.channel(LOG);

/**
 * Subscribes `onMessage` to `channel` for records of `source` only; returns the unsubscribe function.
 * (diagnostics_channel is process-wide; several servers in one process each see their own requests.)
 */
export function subscribeFor<R extends { readonly source: object }>(
  name: string,
  source: object,
  onMessage: (record: R) => void,
): () => void {
  const listener = (message: unknown) => {
    if ((message as R).source === source) onMessage(message as R);
  };
  diagnosticsChannel.subscribe(name, listener);
  return () => {
    diagnosticsChannel.unsubscribe(name, listener);
  };
}
