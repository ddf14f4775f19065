/**
 * Server hooks (Gunicorn's, set in nodicorn.config.{mjs,js,ts}): what each one is given, and how they are
 * called. A hook that throws (or whose promise rejects) is logged and the server carries on; only
 * on_starting stops the start, as in Gunicorn.
 */
import { REQUEST_FINISH, type RequestRecord, subscribeFor } from '../observability/channels.js';
import type { Logger } from '../observability/logger.js';

/** What when_ready, on_reload and on_exit are given. */
export interface ServerInfo {
  readonly pid: number;
  /** The addresses listened on, as logged. */
  readonly addresses: readonly string[];
  /** The resolved settings (frozen). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** The pids of the Python workers alive now (empty for a TypeScript app). */
  readonly workers: readonly number[];
}

/** What post_worker_init and worker_exit are given about a Python worker. */
export interface WorkerInfo {
  readonly pid: number;
  /** The worker's sequence number since the server started (Gunicorn's worker.age). */
  readonly age: number;
  /** worker_exit only: how it exited. */
  readonly exitCode?: number | null;
  readonly signal?: string | null;
}

export type OnStarting = (settings: Readonly<Record<string, unknown>>) => unknown;
export type ServerHook = (server: ServerInfo) => unknown;
export type WorkerHook = (worker: WorkerInfo) => unknown;
/** Called with the request's environ (its CGI keys) before the app; it may change the environ. */
export type PreRequest = (environ: Record<string, string>) => unknown;
/** Called when the response is over, with the environ and the status sent (0 when none was). */
export type PostRequest = (environ: Readonly<Record<string, string>>, status: number) => unknown;

function failed(log: Logger, name: string, error: unknown): void {
  log.exception(
    `Exception in ${name} hook\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
}

/** Calls a hook; a throw or a rejected promise is logged and goes no further. */
export function callHook<A extends unknown[]>(
  log: Logger,
  name: string,
  fn: ((...args: A) => unknown) | null,
  ...args: A
): void {
  if (fn === null) return;
  try {
    const result = fn(...args);
    if (result instanceof Promise) result.catch((error: unknown) => failed(log, name, error));
  } catch (error) {
    failed(log, name, error);
  }
}

/** Calls a hook and waits for it (at most `ms`); a failure is logged, not thrown. */
export async function awaitHook<A extends unknown[]>(
  log: Logger,
  name: string,
  fn: ((...args: A) => unknown) | null,
  ms: number,
  ...args: A
): Promise<void> {
  if (fn === null) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => fn(...args)),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log.warning(`${name} hook still running after ${ms / 1000}s; not waiting for it`);
          resolve();
        }, ms);
      }),
    ]);
  } catch (error) {
    failed(log, name, error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls post_request as each request of `source` finishes (not for those the server refused itself, which
 * no app saw); returns the unsubscribe function.
 */
export function subscribePostRequest(source: object, hook: PostRequest, log: Logger): () => void {
  return subscribeFor<RequestRecord>(REQUEST_FINISH, source, (r) => {
    if (!r.refused) callHook(log, 'post_request', hook, r.environ, r.status);
  });
}
