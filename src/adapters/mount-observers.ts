/**
 * What watches a mounted app's requests, as it watches the CLI's (docs/logging.md): the access log
 * (`accesslog`, `access_log_format`), /metrics on its own bind (`metrics_bind`) and the post_request hook,
 * each subscribed to the request channels for the handler's own `source`. The metrics code (prom-client)
 * is loaded only when `metrics_bind` is set.
 */
import type { Server } from 'node:http';
import { subscribeAccessLog } from '../observability/access-log.js';
import { LogFile } from '../observability/log-file.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { parseBind } from '../server/binds.js';
import { subscribePostRequest } from '../server/hooks.js';
import type { Settings } from '../settings/definitions.js';

export type ObserverSettings = Pick<
  Settings,
  'accesslog' | 'access_log_format' | 'metrics_bind' | 'post_request'
>;

export interface MountObservers {
  /**
   * Settles once every observer is subscribed (a request that arrives before waits for it, so none goes
   * uncounted); null when nothing is pending.
   */
  pending(): Promise<void> | null;
  /** Resolves once /metrics listens; rejects when it cannot (the requests are served all the same). */
  ready(): Promise<void>;
  /** The metrics, once subscribed; null without `metrics_bind`. */
  readonly metrics: Promise<Metrics | null>;
  /** Unsubscribes, stops /metrics and closes the access log file. */
  close(): Promise<void>;
}

/** Subscribes the observers the settings ask for to the requests of `source`. */
export function observeMount(
  source: object,
  settings: ObserverSettings,
  healthy: () => boolean,
  log: Logger,
): MountObservers {
  const off: Array<() => void> = [];
  let file: LogFile | null = null;
  if (settings.accesslog !== '') {
    // Opened now, so a bad path is an error when the handler is made, not at its first request.
    const sink = settings.accesslog === '-' ? process.stdout : (file = new LogFile(settings.accesslog));
    off.push(subscribeAccessLog(source, sink, settings.access_log_format));
  }
  if (settings.post_request !== null) off.push(subscribePostRequest(source, settings.post_request, log));

  const bind = settings.metrics_bind;
  if (bind !== '') parseBind(bind); // a malformed address is an error now
  let server: Server | null = null;
  let failure: unknown = null;
  let gate: Promise<void> | null = null;
  let metrics: Promise<Metrics | null> = Promise.resolve(null);
  let listening: Promise<void> = Promise.resolve();
  if (bind !== '') {
    const failed = (error: unknown) => {
      failure = error;
      log.error(`cannot serve metrics on ${bind}: ${error instanceof Error ? error.message : String(error)}`);
    };
    metrics = import('../observability/metrics.js').then(
      ({ Metrics, subscribeMetrics }) => {
        const created = new Metrics();
        off.push(subscribeMetrics(source, created));
        return created;
      },
      (error: unknown) => {
        failed(error);
        return null;
      },
    );
    gate = metrics.then(() => {
      gate = null;
    });
    listening = metrics.then(async (created) => {
      if (created === null) return;
      try {
        const { serveMetrics } = await import('../server/metrics-server.js');
        // A unix: bind gets the mode --socket-mode has by default.
        const served = await serveMetrics(created, bind, { umask: 0, mode: 0o660 }, null, healthy, log);
        server = served.server;
        log.info(`Serving metrics on ${served.address}/metrics`);
      } catch (error) {
        failed(error);
      }
    });
  }
  return {
    pending: () => gate,
    ready: () =>
      listening.then(() => {
        if (failure !== null) throw failure;
      }),
    metrics,
    close: async () => {
      await listening;
      for (const unsubscribe of off.splice(0)) unsubscribe();
      const closing = server;
      if (closing !== null)
        await new Promise<void>((resolve) => {
          closing.close(() => resolve());
          closing.closeAllConnections();
        });
      await file?.close();
    },
  };
}
