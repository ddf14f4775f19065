/**
 * One request, from its parsed head to the backend. Every request takes this path, whether it came
 * through nodicorn's own front (http-front.ts, HTTP/1.1 and HTTP/2) or through a Node server that mounts
 * an app (adapters/node.ts: node:http, Express, Fastify): the head checks, the health path, `100
 * Continue`, the environ, the proxy headers, the body's length, the response writer, the pre_request hook,
 * the request channels (the access log, /metrics, StatsD and post_request read them) and the backend.
 * A request the checks refuse is answered here, logged and published as refused; no app sees it.
 *
 * It runs for every request: no closure and no object beyond the environ, the writer and the exchange.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { CgiEnviron } from '../contract/types.js';
import { buildEnviron, type ConnectionFacts, type EnvironOptions, refusedEnviron } from '../http/environ.js';
import { applyProxyHeaders, type ProxyTrust } from '../http/forwarded.js';
import { checkH2RequestHead, h2RequestHead } from '../http/h2-request.js';
import { checkRequestHead, type Rejection, type RequestLimits } from '../http/request-checks.js';
import { escapeLogValue } from '../observability/access-log.js';
import type { Logger } from '../observability/logger.js';
import { RateLimitedLog } from '../observability/rate-limited.js';
import type { Backend } from './backend.js';
import { H2ResponseWriter } from './h2-response-writer.js';
import { answerHealth } from './health.js';
import { callHook, type PreRequest } from './hooks.js';
import { publishRequest, requestsObserved } from './request-records.js';
import { ResponseWriter, type ServerRequest, type ServerResponseLike } from './response-writer.js';

export interface AcceptOptions {
  readonly limits: RequestLimits;
  /** Which peers may set the proxy headers (`--forwarded-allow-ips`). */
  readonly proxyTrust: ProxyTrust;
  /** What request records carry as their `source` (observability/channels.ts): the server, or the mount. */
  readonly source: object;
  /** `--health-path`: answered here, before the app; null when off. */
  readonly healthPath: string | null;
  /** The pre_request hook, or null. */
  readonly preRequest: PreRequest | null;
}

/** Lines about refused requests the error log gets per window, at most (the rest are counted). */
const REFUSALS_PER_WINDOW = 20;
const REFUSALS_WINDOW_MS = 10_000;

/** What a server (or a mounted handler) accepts its requests with: the same for all of them. */
export class Acceptor {
  readonly backend: Backend;
  readonly log: Logger;
  readonly limits: RequestLimits;
  readonly proxyTrust: ProxyTrust;
  readonly source: object;
  readonly healthPath: string | null;
  readonly preRequest: PreRequest | null;
  /** Set while shutting down: responses close their connection, health checks answer 503. */
  draining = false;
  readonly #refusals: RateLimitedLog;

  constructor(backend: Backend, options: AcceptOptions, log: Logger) {
    this.backend = backend;
    this.log = log;
    this.limits = options.limits;
    this.proxyTrust = options.proxyTrust;
    this.source = options.source;
    this.healthPath = options.healthPath;
    this.preRequest = options.preRequest;
    // Every response the server makes itself, before any app, is logged like the app's: a line in the
    // access log, and its reason in the error log at info (at most REFUSALS_PER_WINDOW lines a window, as
    // a flood of bad requests would otherwise be a flood of lines).
    this.#refusals = new RateLimitedLog((line) => log.info(line), {
      lines: REFUSALS_PER_WINDOW,
      windowMs: REFUSALS_WINDOW_MS,
      what: 'refused requests',
    });
  }

  /** Logs a request the server answered itself (`environ` from refusedEnviron). */
  refused(environ: CgiEnviron, status: number, reason: string): void {
    const { REQUEST_METHOD: method, RAW_URI: target, REMOTE_ADDR: peer } = environ;
    this.#refusals.log(
      `Refused ${escapeLogValue(`${method} ${target!.slice(0, 200)}`)} from ${peer || 'unix socket'}: ` +
        `${status} ${escapeLogValue(reason)}`,
    );
  }
}

/**
 * Takes one request: answers it (refused, or a health check) or hands it to the backend.
 * `target`: the HTTP/1 request target as received (a host that rewrites `req.url`, as Express does below
 * its mount point, keeps it elsewhere); HTTP/2 takes its `:path`. `mount`: where the app is mounted
 * (SCRIPT_NAME). `expectsContinue`: the client waits for `100 Continue` before sending its body.
 */
export function acceptRequest(
  acceptor: Acceptor,
  req: ServerRequest,
  res: ServerResponseLike,
  facts: ConnectionFacts,
  target: string,
  mount: EnvironOptions,
  expectsContinue: boolean,
): void {
  // By the request's kind, not its version: an HTTP/1 request line may say HTTP/2.0 (it gets its 505).
  if (req instanceof Http2ServerRequest)
    acceptH2(acceptor, req, res as Http2ServerResponse, facts, mount, expectsContinue);
  else
    acceptH1(acceptor, req as IncomingMessage, res as ServerResponse, facts, target, mount, expectsContinue);
}

function acceptH1(
  acceptor: Acceptor,
  req: IncomingMessage,
  res: ServerResponse,
  facts: ConnectionFacts,
  target: string,
  mount: EnvironOptions,
  expectsContinue: boolean,
) {
  const method = req.method!;
  const checked = checkRequestHead(method, target, req.httpVersion, req.rawHeaders, acceptor.limits);
  if (!checked.ok)
    return refuse(
      acceptor,
      req,
      new ResponseWriter(req, res, acceptor.log),
      checked.rejection,
      facts,
      target,
    );
  if (acceptor.draining) res.shouldKeepAlive = false;
  // Health checks are the server's: no app, no access log, no metrics (a probe every few seconds would
  // drown the requests that matter).
  if (target === acceptor.healthPath)
    return answerHealth(req, res, !acceptor.draining && acceptor.backend.healthy());
  // RFC 9110 §10.1.1: only now that the request is acceptable is the client asked for its body.
  if (expectsContinue) res.writeContinue();
  const environ = buildEnviron(
    {
      method,
      rawTarget: target,
      target: checked.target,
      protocol: `HTTP/${req.httpVersion}`,
      rawHeaders: req.rawHeaders,
    },
    facts,
    mount,
  );
  // From the environ, not req.headers: node:http builds that object lazily, and it costs on every request.
  const length = environ.CONTENT_LENGTH;
  const bodyLength =
    environ.HTTP_TRANSFER_ENCODING !== undefined ? -1 : length === undefined ? 0 : Number(length);
  dispatch(acceptor, req, environ, new ResponseWriter(req, res, acceptor.log, bodyLength), bodyLength);
}

function acceptH2(
  acceptor: Acceptor,
  req: Http2ServerRequest,
  res: Http2ServerResponse,
  facts: ConnectionFacts,
  mount: EnvironOptions,
  expectsContinue: boolean,
) {
  const head = h2RequestHead(req.rawHeaders);
  // A stream whose HEADERS frame ended it has no body; otherwise, without Content-Length, the body's
  // length is known only at its end (like chunked in HTTP/1.1).
  const length = req.stream.endAfterHeaders ? 0 : -1;
  const checked = checkH2RequestHead(head, acceptor.limits);
  if (!checked.ok) {
    const writer = new H2ResponseWriter(req, res, acceptor.log, length);
    return refuse(acceptor, req, writer, checked.rejection, facts, req.url ?? '-');
  }
  if (head.path === acceptor.healthPath)
    return answerHealth(req, res, !acceptor.draining && acceptor.backend.healthy());
  if (expectsContinue) res.writeContinue();
  const environ = buildEnviron(
    {
      method: head.method,
      rawTarget: head.path,
      target: checked.target,
      protocol: 'HTTP/2',
      rawHeaders: head.rawHeaders,
    },
    facts,
    mount,
  );
  const declared = environ.CONTENT_LENGTH;
  const bodyLength = length === 0 ? 0 : declared === undefined ? -1 : Number(declared);
  dispatch(acceptor, req, environ, new H2ResponseWriter(req, res, acceptor.log, bodyLength), bodyLength);
}

/** Everything after the head, the same for both protocols. */
function dispatch(
  acceptor: Acceptor,
  req: ServerRequest,
  environ: CgiEnviron,
  writer: ResponseWriter,
  bodyLength: number,
): void {
  applyProxyHeaders(environ, acceptor.proxyTrust);
  const preRequest = acceptor.preRequest;
  if (preRequest !== null) callHook(acceptor.log, 'pre_request', preRequest, environ);
  if (requestsObserved()) publishRequest(acceptor.source, environ, writer);
  acceptor.backend.handle({ req, environ, writer, bodyLimit: acceptor.limits.body, bodyLength });
}

/** Answers a request the checks refused with its status; logged and published as refused. */
function refuse(
  acceptor: Acceptor,
  req: ServerRequest,
  writer: ResponseWriter,
  rejection: Rejection,
  facts: ConnectionFacts,
  target: string,
): void {
  const { status, reason } = rejection;
  const environ = refusedEnviron(req.method ?? '-', target, `HTTP/${req.httpVersion}`, facts, req.rawHeaders);
  acceptor.refused(environ, status, reason);
  if (requestsObserved()) publishRequest(acceptor.source, environ, writer, true);
  writer.fail(status);
}
