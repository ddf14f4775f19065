/**
 * Load shedding at the pool's queue, which Gunicorn cannot do (its queue is the kernel's listen backlog,
 * invisible to it): --max-queue refuses a request when too many wait, --queue-timeout answers one that has
 * waited too long before it reaches the app. Both answer 503 with Retry-After (RFC 9110 §15.6.4,
 * §10.2.3), so well-behaved clients and proxies retry later rather than at once.
 */
import type { Exchange } from '../server/backend.js';
import type { Dispatch } from './worker-process.js';

/** Seconds a refused client is asked to wait before it retries. */
export const RETRY_AFTER_SECONDS = 1;

export type ShedReason = 'queue_full' | 'queue_timeout';

const BODY = new TextEncoder().encode('Service Unavailable\n');

/** Answers 503 with Retry-After (unless the client is gone or something was sent already). */
export function refuse(exchange: Exchange): void {
  const writer = exchange.writer;
  if (writer.done || writer.clientGone) return;
  if (writer.headersSent) {
    writer.abort();
    return;
  }
  writer.sendWhole(
    '503 Service Unavailable',
    [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Retry-After', String(RETRY_AFTER_SECONDS)],
    ],
    BODY,
  );
}

/** Whether a request must be refused now because `queued` requests already wait (0 = no limit). */
export function queueFull(queued: number, maxQueue: number): boolean {
  return maxQueue > 0 && queued >= maxQueue;
}

/** Whether a request queued at `queuedAt` has waited past the limit (ms; 0 = no limit) at `now`. */
export function waitedTooLong(dispatch: Dispatch, now: number, limitMs: number): boolean {
  return limitMs > 0 && now - dispatch.queuedAt >= limitMs;
}

/**
 * Removes from `queue` (in place, order kept) the requests that waited past `limitMs` and hands each to
 * `shed`. Requests that were re-queued from a dead worker are at the front with their first queuing time.
 */
export function shedExpired(
  queue: Dispatch[],
  now: number,
  limitMs: number,
  shed: (dispatch: Dispatch) => void,
): void {
  if (limitMs <= 0 || queue.length === 0 || !waitedTooLong(queue[0]!, now, limitMs)) {
    // FIFO: when the head has not waited too long, usually nothing has (a re-queued request may be
    // older, and is caught when it reaches the head or at dispatch).
    return;
  }
  let kept = 0;
  for (const dispatch of queue) {
    if (waitedTooLong(dispatch, now, limitMs)) shed(dispatch);
    else queue[kept++] = dispatch;
  }
  queue.length = kept;
}
