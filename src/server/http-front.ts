/**
 * The HTTP front: node:http (llhttp) parses, this module enforces what llhttp does not, builds the environ
 * and hands each request to the backend. Keep-alive and in-order pipelining are node:http's; malformed
 * input never reaches a backend and never takes the process down.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { buildEnviron, type ConnectionFacts } from '../http/environ.js';
import { applyProxyHeaders, type ProxyTrust } from '../http/forwarded.js';
import { checkRequestHead, type RequestLimits } from '../http/request-checks.js';
import { type RequestRecord, requestFinish, requestStart } from '../observability/channels.js';
import type { Logger } from '../observability/logger.js';
import type { Backend } from './backend.js';
import { answerHealth } from './health.js';
import { callHook, type PreRequest } from './hooks.js';
import { ResponseWriter, reasonPhrase } from './response-writer.js';

export interface FrontOptions {
  readonly limits: RequestLimits;
  /** Seconds an idle keep-alive connection is kept (Gunicorn's --keep-alive). */
  readonly keepAlive: number;
  /** Seconds a client has to send a complete request head (slow-loris guard). → 408 */
  readonly headerTimeout: number;
  /** The application's mount point, '' for the root. */
  readonly scriptName: string;
  /** TLS (`--certfile`, `--keyfile`, …): the server speaks HTTPS when given. */
  readonly tls?: https.ServerOptions;
  /** Which peers may set the proxy headers (`--forwarded-allow-ips`). */
  readonly proxyTrust: ProxyTrust;
  /** What request records carry as their `source` (observability/channels.ts): the server. */
  readonly source: object;
  /** `--health-path`: answered here, before the app; null when off. */
  readonly healthPath: string | null;
  /** The pre_request hook, or null. */
  readonly preRequest: PreRequest | null;
}

export interface Front {
  readonly server: http.Server;
  /** Whether new responses should close their connection (set while shutting down). */
  draining: boolean;
}

const factsBySocket = new WeakMap<Socket, ConnectionFacts>();

function connectionFacts(socket: Socket): ConnectionFacts {
  let facts = factsBySocket.get(socket);
  if (facts === undefined) {
    const local = socket.localAddress;
    const remotePort = socket.remotePort;
    facts = {
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: remotePort === undefined ? '' : String(remotePort),
      serverName: local ?? '',
      serverPort: socket.localPort === undefined ? '' : String(socket.localPort),
      scheme: 'encrypted' in socket ? 'https' : 'http',
    };
    factsBySocket.set(socket, facts);
  }
  return facts;
}

/** What llhttp's error codes mean for the client (RFC 9110 statuses). */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

export function createFront(backend: Backend, options: FrontOptions, log: Logger, unixPath = ''): Front {
  const { limits, source, healthPath, preRequest } = options;
  const state = { draining: false };

  const reject = (req: IncomingMessage, res: ServerResponse, status: number, reason: string) => {
    log.debug(`rejected ${req.method} ${req.url?.slice(0, 200)}: ${reason}`);
    new ResponseWriter(req, res, log).fail(status);
  };

  const serve = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => {
    const method = req.method!;
    const url = req.url!;
    const checked = checkRequestHead(method, url, req.httpVersion, req.rawHeaders, limits);
    if (!checked.ok) return reject(req, res, checked.rejection.status, checked.rejection.reason);
    if (state.draining) res.shouldKeepAlive = false;
    // Health checks are the server's: no app, no access log, no metrics (a probe every few seconds
    // would drown the requests that matter).
    if (url === healthPath) return answerHealth(req, res, !state.draining && backend.healthy());
    // RFC 9110 §10.1.1: only now that the request is acceptable is the client asked for its body.
    if (expectsContinue) res.writeContinue();
    const facts = unixPath === '' ? connectionFacts(req.socket) : unixFacts(req.socket, unixPath);
    const environ = buildEnviron(
      {
        method,
        rawTarget: url,
        target: checked.target,
        protocol: `HTTP/${req.httpVersion}`,
        rawHeaders: req.rawHeaders,
      },
      facts,
      options,
    );
    applyProxyHeaders(environ, options.proxyTrust);
    // From the environ, not req.headers: node:http builds that object lazily, and it costs on every request.
    const length = environ.CONTENT_LENGTH;
    const bodyLength =
      environ.HTTP_TRANSFER_ENCODING !== undefined ? -1 : length === undefined ? 0 : Number(length);
    const writer = new ResponseWriter(req, res, log, bodyLength);
    if (preRequest !== null) callHook(log, 'pre_request', preRequest, environ);
    if (requestFinish.hasSubscribers || requestStart.hasSubscribers) publish(source, environ, writer);
    backend.handle({ req, environ, writer, bodyLimit: limits.body, bodyLength });
  };

  const serverOptions: http.ServerOptions = {
    // Limits are checked per field in checkRequestHead; this bounds what llhttp buffers for one head.
    maxHeaderSize: Math.min(limits.requestLine + (limits.fields + 1) * (limits.fieldSize + 2), 1 << 24),
    requireHostHeader: false,
    keepAliveTimeout: options.keepAlive * 1000,
    headersTimeout: options.headerTimeout * 1000,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(1000, options.headerTimeout * 500),
  };
  // node:https serves the same request/response API over TLS, so everything below is shared.
  const server: http.Server =
    options.tls === undefined
      ? http.createServer(serverOptions)
      : https.createServer({ ...serverOptions, ...options.tls });
  // One more than the limit, so a request over it is seen (node:http silently drops the excess).
  server.maxHeadersCount = limits.fields + 1;
  server.on('request', (req, res) => serve(req, res, false));
  // node:http emits this only for HTTP/1.1 with `Expect: 100-continue` (HTTP/1.0 ignores it, as it must).
  server.on('checkContinue', (req, res) => serve(req, res, true));
  // CONNECT: this server is not a proxy.
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    log.debug(`refused CONNECT ${req.url?.slice(0, 200)}`);
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
    );
    socket.destroySoon();
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Bytes after a request that ends the connection (HTTP/1.0, `Connection: close`) are not a request:
    // the response in flight still goes out, then the connection closes as announced.
    if (err.code === 'HPE_CLOSED_CONNECTION') {
      if ((socket as Socket & { _httpMessage?: unknown })._httpMessage == null) socket.destroySoon();
      return;
    }
    const status = clientErrorStatus(err.code);
    // A parse error in a body (a bad chunk size) comes after the request was handed on; while no response
    // has gone out yet the client still gets its 400, as node:http's own handler does.
    const inResponse = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (
      err.code !== 'ECONNRESET' &&
      socket.writable &&
      (inResponse == null || inResponse.headersSent !== true)
    ) {
      if (status !== 408)
        log.debug(`malformed request from ${socket.remoteAddress}: ${err.code} ${err.message}`);
      const body = `${reasonPhrase(status)}\n`;
      socket.end(
        `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
    }
    socket.destroySoon();
  });
  return {
    server,
    get draining() {
      return state.draining;
    },
    set draining(value: boolean) {
      state.draining = value;
    },
  };
}

const NO_HEADERS: readonly string[] = [];

/** Publishes the request on the channels, now and once its response is over (sent in full or cut short). */
function publish(source: object, environ: Record<string, string>, writer: ResponseWriter): void {
  const record: RequestRecord = {
    source,
    environ,
    receivedMs: Date.now(),
    start: performance.now(),
    status: 0,
    bytes: 0,
    durationMs: 0,
    responseHeaders: NO_HEADERS,
  };
  if (requestStart.hasSubscribers) requestStart.publish(record);
  writer.response.once('close', () => {
    record.status = writer.status;
    record.bytes = writer.bytesSent;
    record.durationMs = performance.now() - record.start;
    record.responseHeaders = writer.sentHeaders;
    requestFinish.publish(record);
  });
}

function unixFacts(socket: Socket, path: string): ConnectionFacts {
  let facts = factsBySocket.get(socket);
  if (facts === undefined) {
    facts = { remoteAddress: '', remotePort: '', serverName: path, serverPort: '', scheme: 'http' };
    factsBySocket.set(socket, facts);
  }
  return facts;
}
