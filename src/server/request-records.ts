/**
 * Publishing requests on the request channels (observability/channels.ts), which the access log, /metrics,
 * StatsD and the post_request hook read. Callers check `hasSubscribers` first, so with nothing listening a
 * request makes no record.
 */
import { type RequestRecord, requestFinish, requestStart } from '../observability/channels.js';
import type { ResponseWriter } from './response-writer.js';

const NO_HEADERS: readonly string[] = [];

/** Whether anything listens to the request channels. */
export function requestsObserved(): boolean {
  return requestFinish.hasSubscribers || requestStart.hasSubscribers;
}

/**
 * Publishes the request on the channels, now and once its response is over (sent in full or cut short).
 * `refused`: the server answered it itself, and no app saw it.
 */
export function publishRequest(
  source: object,
  environ: Record<string, string>,
  writer: ResponseWriter,
  refused = false,
): void {
  const record: RequestRecord = {
    source,
    environ,
    refused,
    receivedMs: Date.now(),
    start: performance.now(),
    status: 0,
    bytes: 0,
    durationMs: 0,
    responseHeaders: NO_HEADERS,
    queueMs: -1,
  };
  if (requestStart.hasSubscribers) requestStart.publish(record);
  writer.response.once('close', () => {
    record.status = writer.status;
    record.bytes = writer.bytesSent;
    record.durationMs = performance.now() - record.start;
    record.responseHeaders = writer.sentHeaders;
    record.queueMs = writer.queueMs;
    requestFinish.publish(record);
  });
}

/** Publishes a refusal the server wrote itself, straight onto the socket, as started and finished. */
export function publishRefused(
  source: object,
  environ: Record<string, string>,
  status: number,
  bytes: number,
): void {
  if (!requestsObserved()) return;
  const record: RequestRecord = {
    source,
    environ,
    refused: true,
    receivedMs: Date.now(),
    start: performance.now(),
    status,
    bytes,
    durationMs: 0,
    queueMs: -1,
    responseHeaders: NO_HEADERS,
  };
  if (requestStart.hasSubscribers) requestStart.publish(record);
  requestFinish.publish(record);
}
