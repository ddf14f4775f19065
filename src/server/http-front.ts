/**
 * The HTTP front: node:http (llhttp) parses, and each request goes through acceptRequest
 * (accept-request.ts: the checks llhttp does not make, the environ, the backend). Keep-alive is
 * node:http's, pipelining node:http's within the bounds of pipeline.ts (one request per connection in the
 * app at a time); malformed input never reaches a backend and never takes the process down. With TLS and
 * `--http2`, node:http2 serves HTTP/2 streams on the same port (ALPN), through the same path.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, {
  type Http2SecureServer,
  Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import https from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import { type ConnectionFacts, refusedEnviron, refusedRequestLine } from '../http/environ.js';
import type { ProxyTrust } from '../http/forwarded.js';
import type { Logger } from '../observability/logger.js';
import { type AcceptOptions, Acceptor, acceptRequest } from './accept-request.js';
import type { Backend } from './backend.js';
import {
  type BoundAddress,
  boundAddress,
  connectionFacts,
  setConnectionFacts,
  unixFacts,
} from './connection-facts.js';
import { pipelineOf } from './pipeline.js';
import { requireProxyHeader } from './proxy-protocol.js';
import { publishRefused } from './request-records.js';
import { reasonPhrase, type ServerRequest, type ServerResponseLike } from './response-writer.js';

export interface FrontOptions extends AcceptOptions {
  /** Seconds an idle keep-alive connection is kept (Gunicorn's --keep-alive); HTTP/2 sessions too. */
  readonly keepAlive: number;
  /** Seconds a client has to send a complete request head (slow-loris guard). → 408 */
  readonly headerTimeout: number;
  /** The application's mount point, '' for the root. */
  readonly scriptName: string;
  /** TLS (`--certfile`, `--keyfile`, …): the server speaks HTTPS when given. */
  readonly tls?: https.ServerOptions;
  /** With `tls`: offer HTTP/2 through ALPN (`--http2`), HTTP/1.1 still served on the same port. */
  readonly http2?: boolean;
  /** `--proxy-protocol`: every connection starts with a PROXY header from one of these peers. */
  readonly proxyProtocol?: ProxyTrust;
}

export interface Front {
  readonly server: NetServer;
  /** Whether new responses should close their connection (set while shutting down). */
  draining: boolean;
  /** Closes connections with no request in flight; HTTP/2 sessions get GOAWAY and finish their streams. */
  closeIdle(): void;
  /** Closes every connection now. */
  closeAll(): void;
}

/** What llhttp's error codes mean for the client (RFC 9110 statuses). */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/** RFC 9113 §5.1.2: a client may open this many streams at once (nginx and HAProxy use 100–128). */
const H2_MAX_CONCURRENT_STREAMS = 100;

export function createFront(backend: Backend, options: FrontOptions, log: Logger, unixPath = ''): Front {
  const { limits, source } = options;
  const acceptor = new Acceptor(backend, options, log);
  // Known once listening: the one address this front is bound to, unless it is a wildcard.
  let bound: BoundAddress | null = null;
  const factsOf =
    unixPath === ''
      ? (socket: Socket) => connectionFacts(socket, bound)
      : (socket: Socket) => unixFacts(socket, unixPath);

  const serve = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) =>
    acceptRequest(acceptor, req, res, factsOf(req.socket), req.url!, options, expectsContinue);

  const serverOptions: http.ServerOptions = {
    // Limits are checked per field in checkRequestHead; this bounds what llhttp buffers for one head.
    maxHeaderSize: Math.min(limits.requestLine + (limits.fields + 1) * (limits.fieldSize + 2), 1 << 24),
    requireHostHeader: false,
    keepAliveTimeout: options.keepAlive * 1000,
    headersTimeout: options.headerTimeout * 1000,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(1000, options.headerTimeout * 500),
  };
  let server: http.Server | https.Server | Http2SecureServer;
  let sessions: Set<ServerHttp2Session> | null = null;
  if (options.tls === undefined) server = http.createServer(serverOptions);
  else if (options.http2 !== true)
    // node:https serves the same request/response API over TLS, so everything below is shared.
    server = https.createServer({ ...serverOptions, ALPNProtocols: ['http/1.1'], ...options.tls });
  else {
    const h2 = createH2Server(options, serverOptions, log);
    server = h2.server;
    sessions = h2.sessions;
  }
  server.once('listening', () => {
    bound = boundAddress(server.address());
  });
  // One more than the limit, so a request over it is seen (node:http silently drops the excess).
  (server as http.Server).maxHeadersCount = limits.fields + 1;
  if (sessions === null) {
    const h1 = server as http.Server;
    h1.on('request', (req, res) => pipelineOf(req, serve).submit(req, res, false));
    // node:http emits this only for HTTP/1.1 with `Expect: 100-continue` (HTTP/1.0 ignores it, as it must).
    h1.on('checkContinue', (req, res) => pipelineOf(req, serve).submit(req, res, true));
  } else {
    // One server, two protocols (ALPN): HTTP/1.1 requests come as node:http's objects, HTTP/2 streams as
    // node:http2's compatibility objects.
    const either = (expectsContinue: boolean) => (req: ServerRequest, res: ServerResponseLike) => {
      if (req instanceof Http2ServerRequest) {
        // The target of an HTTP/2 request is its :path, which acceptRequest reads from the head.
        const socket = req.stream.session!.socket as Socket;
        acceptRequest(acceptor, req, res, factsOf(socket), '', options, expectsContinue);
      } else {
        const h1req = req as IncomingMessage;
        pipelineOf(h1req, serve).submit(h1req, res as ServerResponse, expectsContinue);
      }
    };
    server.on('request', either(false));
    server.on('checkContinue', either(true));
  }
  // CONNECT: this server is not a proxy.
  server.on('connect', (req: ServerRequest, socket: Socket | Http2ServerResponse) => {
    const h2 = req instanceof Http2ServerRequest;
    const peer = h2 ? (req.stream.session!.socket as Socket) : (socket as Socket);
    const environ = refusedEnviron('CONNECT', req.url ?? '-', `HTTP/${req.httpVersion}`, factsOf(peer));
    acceptor.refused(environ, 405, 'CONNECT: this server is not a proxy');
    publishRefused(source, environ, 405, 0);
    if (h2) {
      const res = socket as Http2ServerResponse;
      res.writeHead(405, { allow: ALLOWED_METHODS }).end();
      return;
    }
    const raw = socket as Socket;
    raw.end(
      `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOWED_METHODS}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
    raw.destroySoon();
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
      const body = `${reasonPhrase(status)}\n`;
      socket.end(
        `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
      // What llhttp refused never became a request object: the log line is made from the bytes it saw.
      const raw = (err as { rawPacket?: Buffer }).rawPacket;
      const line = refusedRequestLine(raw === undefined ? '' : raw.toString('latin1', 0, 8400));
      const environ = refusedEnviron(line.method, line.target, line.protocol, factsOf(socket));
      acceptor.refused(environ, status, `${err.code ?? 'error'}: ${err.message}`);
      publishRefused(source, environ, status, body.length);
    }
    socket.destroySoon();
  });

  const waiting =
    options.proxyProtocol === undefined ? null : acceptProxyProtocol(server, options, log, unixPath);
  const h1 = server as http.Server;
  return {
    server,
    get draining() {
      return acceptor.draining;
    },
    set draining(value: boolean) {
      acceptor.draining = value;
    },
    closeIdle() {
      h1.closeIdleConnections();
      // RFC 9113 §6.8: GOAWAY tells the client no new streams are taken; those in flight finish.
      if (sessions !== null) for (const session of sessions) session.close();
      // A connection still waiting for its PROXY header has no request in flight either; left open, it
      // would hold the shutdown until --header-timeout.
      if (waiting !== null) for (const socket of waiting) socket.destroy();
    },
    closeAll() {
      if (sessions === null) h1.closeAllConnections();
      else {
        // node:http2 has no closeAllConnections; its HTTP/1.1 connections are node:http's.
        http.Server.prototype.closeAllConnections.call(server);
        for (const session of sessions) session.destroy();
      }
      if (waiting !== null) for (const socket of waiting) socket.destroy();
    },
  };
}

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * node:http2's secure server with HTTP/1.1 fallback (ALPN h2, http/1.1). Its HTTP/1.1 side is node:http's
 * connection handling, configured through the same properties an http.Server has; its HTTP/2 sessions
 * are tracked here for the idle timeout and for GOAWAY at shutdown.
 */
function createH2Server(
  options: FrontOptions,
  h1Options: http.ServerOptions,
  log: Logger,
): { server: Http2SecureServer; sessions: Set<ServerHttp2Session> } {
  const server = http2.createSecureServer({
    ...options.tls,
    allowHTTP1: true,
    // node:http2 resets a stream (ENHANCE_YOUR_CALM) past this many fields, where HTTP/1 would get its
    // 431 from the checks. The byte limit already bounds the count: RFC 9113 §6.5.2 counts every field as
    // its name, its value and 32 octets. So only the bytes bound a head, and any request over
    // --limit-request-fields within them gets its 431.
    maxHeaderListPairs: Math.floor(h1Options.maxHeaderSize! / 32),
    settings: {
      maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
      maxHeaderListSize: h1Options.maxHeaderSize!,
    },
  });
  Object.assign(server, {
    maxHeaderSize: h1Options.maxHeaderSize,
    requireHostHeader: false,
    keepAliveTimeout: h1Options.keepAliveTimeout,
    headersTimeout: h1Options.headersTimeout,
    requestTimeout: 0,
    connectionsCheckingInterval: h1Options.connectionsCheckingInterval,
  });
  const sessions = new Set<ServerHttp2Session>();
  const idleMs = options.keepAlive * 1000;
  const firstMs = options.headerTimeout * 1000;
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    // A session with no stream open closes (GOAWAY) after --keep-alive, or --header-timeout before its
    // first request: the HTTP/2 counterparts of node:http's keep-alive and headers timeouts.
    let open = 0;
    let timer: NodeJS.Timeout | undefined = setTimeout(() => session.close(), firstMs);
    session.on('stream', (stream) => {
      open++;
      clearTimeout(timer);
      timer = undefined;
      stream.once('close', () => {
        if (--open === 0 && !session.closed) timer = setTimeout(() => session.close(), idleMs);
      });
    });
    session.on('error', (error) => log.debug(`HTTP/2 session error: ${error.message}`));
    session.once('close', () => {
      clearTimeout(timer);
      sessions.delete(session);
    });
  });
  return { server, sessions };
}

/** Wires `--proxy-protocol`: the header's source becomes the connection's peer (REMOTE_ADDR/PORT). */
function acceptProxyProtocol(
  server: NetServer,
  options: FrontOptions,
  log: Logger,
  unixPath: string,
): Set<Socket> {
  const allowed = options.proxyProtocol!;
  const tls = options.tls !== undefined;
  return requireProxyHeader(
    server,
    {
      allowed: (address) => allowed.trusts(address),
      timeoutMs: options.headerTimeout * 1000,
      onHeader: (socket, header) => {
        const real: ConnectionFacts = unixPath === '' ? connectionFacts(socket) : unixFacts(socket, unixPath);
        const { source, destination } = header;
        // Gunicorn's choice: the client's address and port from the header; SERVER_NAME/PORT stay this
        // server's (they come from Host anyway), the proxy's side goes to PROXY_ADDR/PORT. PP2_CLIENT_SSL:
        // the proxy terminated TLS for this client (HAProxy's send-proxy-v2-ssl). A TLS connection finds
        // these under its TLS socket.
        setConnectionFacts(socket, {
          ...real,
          ...(source === null ? {} : { remoteAddress: source.address, remotePort: String(source.port) }),
          ...(destination === null
            ? {}
            : {
                proxy: {
                  // v1 TCP6 and v2 INET6 addresses are written with colons, TCP4 and INET ones never.
                  protocol: destination.address.includes(':') ? 'TCP6' : 'TCP4',
                  address: destination.address,
                  port: String(destination.port),
                },
              }),
          scheme: tls || header.clientTls ? 'https' : real.scheme,
        });
      },
    },
    log,
  );
}
