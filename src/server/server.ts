/** A running server: one HTTP front per bind, all feeding one backend, and the graceful shutdown. */

import { readFileSync } from 'node:fs';
import type https from 'node:https';
import { type ForwardedFamily, parseProxyTrust } from '../http/forwarded.js';
import { GUNICORN_FORMAT, subscribeAccessLog } from '../observability/access-log.js';
import type { Logger, LogSink } from '../observability/logger.js';
import { type Metrics, subscribeMetrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited.js';
import { type StatsdClient, subscribeStatsdRequests } from '../observability/statsd.js';
import type { Backend } from './backend.js';
import {
  activatedSockets,
  type BoundSocket,
  listen,
  listenOn,
  parseBind,
  type SocketFileOptions,
} from './binds.js';
import { connectionCap, openDescriptors, openFileLimit } from './fd-limit.js';
import { type PostRequest, type PreRequest, subscribePostRequest } from './hooks.js';
import { createFront, type Front } from './http-front.js';
import { serveMetrics } from './metrics-server.js';

export interface RunningServer {
  /** The addresses listened on, as logged (`http://127.0.0.1:8000`, `unix:/tmp/s.sock`). */
  readonly addresses: readonly string[];
  /** Stops accepting, lets requests in flight finish within `graceMs`, then closes every connection. */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * What the server takes from the settings. Declared here, by the layer that uses them, rather than picked
 * from the settings registry, which sits above (src/settings/definitions.ts documents and validates each;
 * the resolved settings satisfy this type as they are).
 */
export interface ServerSettings {
  readonly bind: readonly string[];
  readonly keepalive: number;
  readonly header_timeout: number;
  readonly limit_request_line: number;
  readonly limit_request_fields: number;
  readonly limit_request_field_size: number;
  readonly limit_request_body: number;
  readonly root_path: string;
  readonly forwarded_allow_ips: readonly string[];
  readonly forwarded_headers: ForwardedFamily;
  readonly forwarded_trust: readonly string[];
  readonly certfile: string;
  readonly keyfile: string;
  readonly ca_certs: string;
  readonly cert_reqs: number;
  readonly http2: boolean;
  readonly proxy_protocol: boolean;
  readonly proxy_allow_ips: readonly string[];
  readonly umask: number;
  /** Octal, as written (`0660`). */
  readonly socket_mode: string;
  readonly backlog: number;
  readonly health_path: string;
  readonly pre_request: PreRequest | null;
  readonly post_request: PostRequest | null;
  readonly workers: number;
}

/** Lines about dropped connections per window, at most (the rest are counted). */
const DROPS_PER_WINDOW = 5;
const DROPS_WINDOW_MS = 10_000;

/**
 * Logs the open-file limit and caps the connections the binds take a little below it (fd-limit.ts), so
 * that running out of descriptors costs clients a logged drop, never a silent reset, and the server
 * keeps the descriptors it needs itself. The cap is shared out evenly between the binds.
 */
function capConnections(fronts: readonly Front[], workers: number, log: Logger): void {
  const limit = openFileLimit();
  if (limit === null) return;
  const cap = connectionCap(limit.soft, openDescriptors(), workers);
  const hard = Number.isFinite(limit.hard) ? String(limit.hard) : 'unlimited';
  if (!Number.isFinite(cap)) {
    log.info(`Open-file limit: unlimited (hard ${hard}); connections are not capped`);
    return;
  }
  const each = Math.max(1, Math.floor(cap / fronts.length));
  log.info(
    `Open-file limit: ${limit.soft} (hard ${hard}); accepting at most ${each} connections at once` +
      (fronts.length > 1 ? ` per bind (${fronts.length} binds)` : '') +
      ' (raise it with `ulimit -n` or LimitNOFILE= for more)',
  );
  const drops = new RateLimitedLog((line) => log.warning(line), {
    lines: DROPS_PER_WINDOW,
    windowMs: DROPS_WINDOW_MS,
    what: 'dropped connections',
  });
  for (const front of fronts) {
    front.server.maxConnections = each;
    front.server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      const from = data?.remoteAddress === undefined ? '' : ` from ${data.remoteAddress}:${data.remotePort}`;
      drops.log(
        `Dropped a connection${from}: ${each} connections are open, the most the open-file limit ` +
          `(${limit.soft}) leaves room for`,
      );
    });
  }
}

/** TLS options from the settings: none without --certfile; client certificates per --cert-reqs. */
function tlsOptions(settings: ServerSettings): https.ServerOptions | undefined {
  if (settings.certfile === '') return undefined;
  return {
    cert: readFileSync(settings.certfile),
    key: readFileSync(settings.keyfile === '' ? settings.certfile : settings.keyfile),
    ...(settings.ca_certs === '' ? {} : { ca: readFileSync(settings.ca_certs) }),
    requestCert: settings.cert_reqs > 0,
    rejectUnauthorized: settings.cert_reqs === 2,
  };
}

export interface ServerExtras {
  /** The access log's destination, when `--access-logfile` is set. */
  readonly accessLogSink?: LogSink;
  readonly accessLogFormat?: string;
  /** Counters for /metrics, served on `metricsBind` (`--metrics-bind`). */
  readonly metrics?: Metrics;
  readonly metricsBind?: string;
  /** The owner `unix:` socket files get (`--user`/`--group`). */
  readonly socketOwner?: { readonly uid?: number; readonly gid?: number };
  /** Where StatsD request metrics go (`--statsd-host`; the process metrics are subscribed by the caller). */
  readonly statsd?: StatsdClient;
  /** Sockets another process bound, listened on in place of --bind (one front of several, src/fronts/). */
  readonly sockets?: readonly BoundSocket[];
}

export async function startServer(
  settings: ServerSettings,
  backend: Backend,
  log: Logger,
  extras: ServerExtras = {},
): Promise<RunningServer> {
  const tls = tlsOptions(settings);
  // The identity request records carry, so this server's subscribers see only its requests.
  const source = {};
  const options = {
    source,
    healthPath: settings.health_path === '' ? null : settings.health_path,
    preRequest: settings.pre_request,
    limits: {
      requestLine: settings.limit_request_line,
      fields: settings.limit_request_fields,
      fieldSize: settings.limit_request_field_size,
      body: settings.limit_request_body,
    },
    keepAlive: settings.keepalive,
    headerTimeout: settings.header_timeout,
    scriptName: settings.root_path,
    proxyTrust: parseProxyTrust(
      settings.forwarded_allow_ips,
      settings.forwarded_headers,
      settings.forwarded_trust,
    ),
    ...(settings.proxy_protocol ? { proxyProtocol: parseProxyTrust(settings.proxy_allow_ips) } : {}),
    ...(tls === undefined ? {} : { tls, http2: settings.http2 }),
  };
  // Subscribed before the first request can arrive; unsubscribed once the last has finished.
  const unsubscribe: Array<() => void> = [];
  if (extras.metrics !== undefined) unsubscribe.push(subscribeMetrics(source, extras.metrics));
  if (extras.accessLogSink !== undefined)
    unsubscribe.push(
      subscribeAccessLog(source, extras.accessLogSink, extras.accessLogFormat ?? GUNICORN_FORMAT),
    );
  if (extras.statsd !== undefined) unsubscribe.push(subscribeStatsdRequests(extras.statsd, source));
  if (settings.post_request !== null)
    unsubscribe.push(subscribePostRequest(source, settings.post_request, log));
  if (settings.http2 && tls === undefined)
    log.warning('--http2 has no effect without --certfile: HTTP/2 is offered on TLS binds only');
  const socketFile: SocketFileOptions = {
    umask: settings.umask,
    mode: Number.parseInt(settings.socket_mode, 8),
    ...extras.socketOwner,
  };
  const fronts: Front[] = [];
  const addresses: string[] = [];
  try {
    for (const socket of extras.sockets ?? []) {
      const front = createFront(backend, options, log, socket.unixPath);
      fronts.push(front);
      addresses.push(await listenOn(front.server, socket, settings.backlog));
    }
    const activated = extras.sockets === undefined ? activatedSockets(process.env, process.pid) : [];
    if (activated.length > 0)
      log.info(`Using ${activated.length} socket(s) from systemd (LISTEN_FDS) instead of --bind`);
    for (const text of extras.sockets !== undefined ? [] : activated.length > 0 ? activated : settings.bind) {
      const bind = parseBind(text);
      const front = createFront(backend, options, log, bind.kind === 'unix' ? bind.path : '');
      fronts.push(front);
      addresses.push(
        await listen(front.server, bind, tls === undefined ? 'http' : 'https', socketFile, settings.backlog),
      );
    }
  } catch (error) {
    for (const front of fronts) front.server.close();
    for (const off of unsubscribe) off();
    throw error;
  }

  capConnections(fronts, settings.workers, log);

  let draining = false;
  const metricsServer =
    extras.metrics === undefined || extras.metricsBind === undefined
      ? null
      : await serveMetrics(
          extras.metrics,
          extras.metricsBind,
          socketFile,
          options.healthPath,
          () => !draining && backend.healthy(),
          log,
        );
  if (metricsServer !== null) addresses.push(`${metricsServer.address}/metrics`);

  let stopping: Promise<void> | null = null;
  const shutdown = (graceMs: number): Promise<void> => {
    stopping ??= (async () => {
      draining = true;
      const closed = fronts.map(
        (front) =>
          new Promise<void>((resolve) => {
            front.draining = true;
            front.server.close(() => resolve());
            front.closeIdle();
          }),
      );
      const deadline = Date.now() + graceMs;
      await backend.close(graceMs);
      // Responses still flushing to clients finish; connections that turn idle are closed as they do.
      const sweep = setInterval(() => {
        for (const front of fronts) front.closeIdle();
      }, 50);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(closed),
        new Promise((resolve) => {
          timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        }),
      ]);
      clearInterval(sweep);
      clearTimeout(timer);
      for (const front of fronts) front.closeAll();
      metricsServer?.server.close();
      metricsServer?.server.closeAllConnections();
      await Promise.all(closed);
      for (const off of unsubscribe) off();
    })();
    return stopping;
  };
  return { addresses, shutdown };
}
