/**
 * Serving WSGI apps inside a Node server someone else runs: node:http, Express, Fastify (through its raw
 * request and response). The host parses HTTP; from there a request takes the path it takes in nodicorn's
 * own front (server/accept-request.ts): the same head checks, environ, response writer and backends, and
 * the same request channels, so the access log, /metrics and the request hooks see it too. So a
 * TypeScript app (`toNodeHandler`) and a Python app (`pythonWsgi`, a supervised worker pool as the CLI
 * runs it) behave mounted as they do behind `nodicorn`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WsgiApp } from '../contract/types.js';
import type { EnvironOptions } from '../http/environ.js';
import { parseProxyTrust } from '../http/forwarded.js';
import { percentDecode } from '../http/request-target.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { Acceptor, acceptRequest } from '../server/accept-request.js';
import type { Backend } from '../server/backend.js';
import { connectionFacts } from '../server/connection-facts.js';
import { InProcessBackend } from '../server/inprocess-backend.js';
import { ResponseWriter } from '../server/response-writer.js';
import { parseAppRef } from '../settings/app-ref.js';
import type { SettingName, Settings } from '../settings/definitions.js';
import { closest, SettingError } from '../settings/registry.js';
import { resolveSettings } from '../settings/resolve.js';
import { type MountObservers, observeMount } from './mount-observers.js';

/** Connect/Express-style: `(req, res, next)`; node:http and Fastify's raw pair call it without `next`. */
export interface NodeHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /**
   * Resolves once the handler is all set up: /metrics listens (`metrics_bind`), and for a Python app its
   * workers are up. Rejects when something cannot be (a Python app that cannot be loaded, a metrics bind
   * in use). Requests need not wait for it.
   */
  ready(): Promise<void>;
  /**
   * Lets requests in flight finish (within `graceMs`, default 30 s) and stops the backend, then the access
   * log and /metrics.
   */
  close(graceMs?: number): Promise<void>;
}

export interface NodeHandlerOptions {
  /**
   * The mount point for hosts that do not say where they mounted the handler (node:http, Fastify): it
   * becomes SCRIPT_NAME when the path starts with it. Express's `req.baseUrl` takes precedence.
   */
  readonly scriptName?: string;
  /** Where the error log goes; default stderr at `loglevel` (info). */
  readonly log?: Logger;
}

/** Settings a mounted app honours, under their config-file keys (docs/settings.md). */
export type MountSettings = Pick<
  Settings,
  | 'limit_request_line'
  | 'limit_request_fields'
  | 'limit_request_field_size'
  | 'limit_request_body'
  | 'forwarded_allow_ips'
  | 'forwarded_headers'
  | 'forwarded_trust'
  | 'loglevel'
  | 'accesslog'
  | 'access_log_format'
  | 'metrics_bind'
  | 'pre_request'
  | 'post_request'
>;

type Host = IncomingMessage & { originalUrl?: string; baseUrl?: string; _body?: boolean };

/**
 * The settings given, under their config-file keys, resolved as a config file's are (same parsing, same
 * messages); only `keys` apply to a mounted app. The rest are the defaults.
 */
function resolveMounted(
  given: Readonly<Record<string, unknown>>,
  keys: readonly SettingName[],
  where: string,
): Settings {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (!(keys as readonly string[]).includes(key)) {
      const hint = closest(key, keys);
      throw new SettingError(
        `${where}: ${JSON.stringify(key)} is not a setting it takes${hint === null ? '' : `; did you mean ${JSON.stringify(hint)}?`}`,
      );
    }
    values[key] = value;
  }
  return resolveSettings([], {}, { path: where, values }).settings;
}

const MOUNT_KEYS = [
  'limit_request_line',
  'limit_request_fields',
  'limit_request_field_size',
  'limit_request_body',
  'forwarded_allow_ips',
  'forwarded_headers',
  'forwarded_trust',
  'loglevel',
  'accesslog',
  'access_log_format',
  'metrics_bind',
  'pre_request',
  'post_request',
] as const satisfies readonly (keyof MountSettings)[];

/**
 * The handler in front of a backend. `ready()` waits for `started` besides the observers (a pool's start);
 * `close()` closes the backend, within `graceMs` unless told otherwise.
 */
function mountBackend(
  backend: Backend,
  settings: MountSettings,
  options: NodeHandlerOptions,
  log: Logger,
  started: () => Promise<void>,
  graceMs: number,
): { handler: NodeHandler; observers: MountObservers } {
  // The identity of this handler's request records: its access log and metrics count its requests only.
  const source = {};
  const acceptor = new Acceptor(
    backend,
    {
      limits: {
        requestLine: settings.limit_request_line,
        fields: settings.limit_request_fields,
        fieldSize: settings.limit_request_field_size,
        body: settings.limit_request_body,
      },
      proxyTrust: parseProxyTrust(
        settings.forwarded_allow_ips,
        settings.forwarded_headers,
        settings.forwarded_trust,
      ),
      source,
      healthPath: null,
      preRequest: settings.pre_request,
    },
    log,
  );
  const observers = observeMount(source, settings, () => backend.healthy(), log);
  const mounted: EnvironOptions = { scriptName: (options.scriptName ?? '').replace(/\/+$/, '') };

  // The request target: Express rewrites `req.url` below its mount point, keeping the whole target in
  // `originalUrl` and the mount in `baseUrl`; everything else leaves `req.url` whole. Hosts have sent
  // `100 Continue` themselves by the time they hand a request on.
  const accept = (req: Host, res: ServerResponse) => {
    const facts = connectionFacts(req.socket);
    if (typeof req.originalUrl === 'string' && typeof req.baseUrl === 'string') {
      const mount = { scriptName: percentDecode(req.baseUrl) };
      acceptRequest(acceptor, req, res, facts, req.originalUrl, mount, false);
    } else acceptRequest(acceptor, req, res, facts, req.url ?? '/', mounted, false);
  };

  const handler = (req: Host, res: ServerResponse, next?: (error?: unknown) => void) => {
    // A body parser that ran first (express.json(), …) has consumed the body the app would read.
    if (req._body === true || (req.readableEnded && req.headers['content-length'] !== '0' && hasBody(req))) {
      const error = new Error(
        'the request body was already read by another middleware; mount the WSGI app before body parsers',
      );
      if (next !== undefined) return next(error);
      log.error(error.message);
      new ResponseWriter(req, res, log).fail(500);
      return;
    }
    const pending = observers.pending();
    if (pending === null) accept(req, res);
    else pending.then(() => accept(req, res));
  };
  return {
    handler: Object.assign(handler, {
      ready: async () => {
        await Promise.all([observers.ready(), started()]);
      },
      close: async (grace = graceMs) => {
        await backend.close(grace);
        await observers.close();
      },
    }),
    observers,
  };
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Serves a TypeScript WSGI app from a Node server: `server.on('request', toNodeHandler(app))`, `express.use('/x', …)`. */
export function toNodeHandler(
  app: WsgiApp,
  options: NodeHandlerOptions & Partial<MountSettings> = {},
): NodeHandler {
  const { scriptName, log: givenLog, ...rest } = options;
  const settings = resolveMounted(rest, MOUNT_KEYS, 'toNodeHandler()');
  const log = givenLog ?? createLogger(process.stderr, settings.loglevel);
  const backend = new InProcessBackend(app, log);
  const mount = scriptName === undefined ? {} : { scriptName };
  return mountBackend(backend, settings, mount, log, () => Promise.resolve(), 30_000).handler;
}

const POOL_KEYS = [
  ...MOUNT_KEYS,
  'workers',
  'threads',
  'timeout',
  'graceful_timeout',
  'max_requests',
  'max_requests_jitter',
  'python',
  'chdir',
  'pythonpath',
  'body_memory_limit',
  'body_timeout',
  'reload',
] as const satisfies readonly (keyof Settings)[];

/** What `pythonWsgi` takes: the app, then settings under their config-file keys (docs/settings.md). */
export type PythonWsgiOptions = NodeHandlerOptions &
  Partial<Pick<Settings, (typeof POOL_KEYS)[number]>> & {
    /** `module:attr`, as on nodicorn's command line (`myproject.wsgi:application`, `app:create_app()`). */
    readonly app: string;
    /** Directory `chdir` is relative to; default the current directory. */
    readonly cwd?: string;
    /** The workers' environment; default this process's. */
    readonly env?: Readonly<Record<string, string | undefined>>;
  };

export interface PythonHandler extends NodeHandler {
  /**
   * Starts the workers (the first request does it otherwise); rejects when the app cannot be loaded.
   * `close()` gives requests in flight `graceful_timeout` by default.
   */
  ready(): Promise<void>;
  /** The worker processes alive now. */
  readonly workerPids: readonly number[];
}

/**
 * Mounts a Python WSGI app in a Node server: the CLI's worker pool (supervision, --timeout, --max-requests,
 * bodies received in full before a worker sees them). Call `close()` when the host stops; should the
 * process exit without it, the workers are killed on the way out.
 */
export function pythonWsgi(options: PythonWsgiOptions): PythonHandler {
  const { app, cwd, env, scriptName, log: givenLog, ...rest } = options;
  const ref = parseAppRef(app);
  if (ref.kind !== 'python')
    throw new SettingError(`pythonWsgi: ${JSON.stringify(app)} names a script; use toNodeHandler for those`);
  const settings = resolveMounted(rest, POOL_KEYS, 'pythonWsgi()');
  const log = givenLog ?? createLogger(process.stderr, settings.loglevel);
  // Loaded on first use: hosts that only mount TypeScript apps never load the bridge.
  let backend: import('../supervisor/python-backend.js').PythonBackend | null = null;
  let starting: Promise<void> | null = null;
  let closed = false;
  let live = false;
  let observers: MountObservers | null = null;
  const killOnExit = () => {
    for (const pid of backend?.workerPids ?? []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const start = (): Promise<void> => {
    starting ??= (async () => {
      if (closed) throw new Error('pythonWsgi: the handler was closed');
      const { PythonBackend } = await import('../supervisor/python-backend.js');
      backend = new PythonBackend({
        app: ref,
        settings,
        log,
        cwd: cwd ?? process.cwd(),
        ...(env === undefined ? {} : { env }),
      });
      process.once('exit', killOnExit);
      const metrics = await observers!.metrics;
      if (metrics !== null) backend.attachMetrics(metrics);
      try {
        await backend.start();
        live = true;
      } catch (error) {
        log.error(error instanceof Error ? error.message : String(error));
        await backend.close(0);
        throw error;
      }
    })();
    return starting;
  };
  const lazy: Backend = {
    start,
    // The pool starts with the first request; requests wait for it, and get 503 when it cannot start.
    handle: (exchange) => {
      if (closed) exchange.writer.fail(503);
      else if (live) backend!.handle(exchange);
      else
        start().then(
          () => {
            if (!exchange.writer.clientGone) backend!.handle(exchange);
          },
          () => exchange.writer.fail(503),
        );
    },
    healthy: () => live && !closed && (backend?.healthy() ?? false),
    close: async (graceMs) => {
      closed = true;
      if (starting === null) return;
      await starting.catch(() => {});
      await backend?.close(graceMs);
      process.off('exit', killOnExit);
    },
  };
  const mount = scriptName === undefined ? {} : { scriptName };
  const mounted = mountBackend(lazy, settings, mount, log, start, settings.graceful_timeout * 1000);
  observers = mounted.observers;
  return Object.defineProperty(mounted.handler, 'workerPids', {
    get: (): readonly number[] => backend?.workerPids ?? [],
  }) as PythonHandler;
}
