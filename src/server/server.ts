/** A running server: one HTTP front per bind, all feeding one backend, and the graceful shutdown. */

import { readFileSync } from 'node:fs';
import http from 'node:http';
import type https from 'node:https';
import { parseProxyTrust } from '../http/forwarded.js';
import { GUNICORN_FORMAT, subscribeAccessLog } from '../observability/access-log.js';
import { REQUEST_FINISH, type RequestRecord, subscribeFor } from '../observability/channels.js';
import type { Logger, LogSink } from '../observability/logger.js';
import { type Metrics, subscribeMetrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited.js';
import { type StatsdClient, subscribeStatsdRequests } from '../observability/statsd.js';
import type { Settings } from '../settings/definitions.js';
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
import { answerHealth } from './health.js';
import { callHook } from './hooks.js';
import { createFront, type Front } from './http-front.js';

export interface RunningServer {
  /** The addresses listened on, as logged (`http://127.0.0.1:8000`, `unix:/tmp/s.sock`). */
  readonly addresses: readonly string[];
  /** Stops accepting, lets requests in flight finish within `graceMs`, then closes every connection. */
  shutdown(graceMs: number): Promise<void>;
}

export type ServerSettings = Pick<
  Settings,
  | 'bind'
  | 'keepalive'
  | 'header_timeout'
  | 'limit_request_line'
  | 'limit_request_fields'
  | 'limit_request_field_size'
  | 'limit_request_body'
  | 'root_path'
  | 'forwarded_allow_ips'
  | 'forwarded_headers'
  | 'forwarded_trust'
  | 'certfile'
  | 'keyfile'
  | 'ca_certs'
  | 'cert_reqs'
  | 'http2'
  | 'proxy_protocol'
  | 'proxy_allow_ips'
  | 'umask'
  | 'socket_mode'
  | 'backlog'
  | 'health_path'
  | 'pre_request'
  | 'post_request'
  | 'workers'
>;

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

/**
 * The /metrics endpoint on its own server, so it is never reachable through the application's binds.
 * It answers --health-path too, for probes that should not go through the application's port.
 */
async function serveMetrics(
  metrics: Metrics,
  bindText: string,
  socketFile: SocketFileOptions,
  healthPath: string | null,
  healthy: () => boolean,
): Promise<{ server: http.Server; address: string }> {
  const server = http.createServer((req, res) => {
    if (req.url === healthPath) return answerHealth(req, res, healthy());
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const body = metrics.render();
    res.writeHead(200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return { server, address: await listen(server, parseBind(bindText), 'http', socketFile) };
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
  const postRequest = settings.post_request;
  if (postRequest !== null)
    unsubscribe.push(
      subscribeFor<RequestRecord>(REQUEST_FINISH, source, (r) => {
        if (!r.refused) callHook(log, 'post_request', postRequest, r.environ, r.status);
      }),
    );
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
