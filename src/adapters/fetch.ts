/**
 * WSGI and the Fetch API, both ways:
 *   - toFetchHandler(app): a TypeScript WSGI app as `(Request) => Promise<Response>`, for wherever Fetch
 *     handlers run (Deno.serve, Bun.serve, workers, a test calling it directly);
 *   - fromFetchHandler(handler): a Fetch handler (`honoApp.fetch`, …) as a WSGI app nodicorn serves.
 * Headers go over as pairs, in order, repeats kept: several Set-Cookie stay several (Headers.getSetCookie).
 */
import { checkHeaderName, checkHeaderValue, checkStatus, HOP_BY_HOP } from '../contract/rules.js';
import type {
  Bytes,
  Environ,
  Header,
  HeaderList,
  ResponseBody,
  StartResponse,
  Status,
  WriteCallable,
  WsgiApp,
  WsgiErrors,
} from '../contract/types.js';
import { buildEnviron } from '../http/environ.js';
import { reasonFor } from '../http/reason-phrases.js';
import { parseRequestTarget } from '../http/request-target.js';
import { addWsgiKeys } from '../server/inprocess-backend.js';
import { BodyReader } from '../server/wsgi-input.js';
import { requestUrl } from '../toolkit/url.js';

export type FetchHandler = (request: Request, environ: Environ) => Response | Promise<Response>;

export interface ToFetchOptions {
  /** The mount point: SCRIPT_NAME when the path starts with it. */
  readonly scriptName?: string;
  /** The client's address, when the runtime tells it (REMOTE_ADDR). */
  readonly remoteAddr?: (request: Request) => string;
  /** `wsgi.errors`; default stderr. */
  readonly errors?: WsgiErrors;
}

const stderrErrors: WsgiErrors = {
  write: (text) => process.stderr.write(text),
  writelines: (lines) => {
    for (const line of lines) process.stderr.write(line);
  },
  flush: () => {},
};

/** Statuses whose responses have no body (Fetch refuses one: 101, 204, 205, 304). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** The environ for a Fetch Request, built by the server's own buildEnviron. */
function environFor(request: Request, options: ToFetchOptions): Environ | null {
  const url = new URL(request.url);
  const rawTarget = `${url.pathname}${url.search}`;
  const target = parseRequestTarget(rawTarget, request.method);
  if (target === null) return null;
  const rawHeaders: string[] = [];
  request.headers.forEach((value, name) => {
    rawHeaders.push(name, value);
  });
  if (!request.headers.has('host')) rawHeaders.push('host', url.host);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const cgi = buildEnviron(
    { method: request.method, rawTarget, target, protocol: 'HTTP/1.1', rawHeaders },
    {
      remoteAddress: options.remoteAddr?.(request) ?? '',
      remotePort: '',
      serverName: url.hostname,
      serverPort: url.port !== '' ? url.port : scheme === 'https' ? '443' : '80',
      scheme,
    },
    { scriptName: (options.scriptName ?? '').replace(/\/+$/, '') },
  );
  return addWsgiKeys(
    cgi,
    new BodyReader(request.body as AsyncIterable<Uint8Array> | null),
    options.errors ?? stderrErrors,
  );
}

/** The status and headers as Fetch has them, checked as the server checks them (contract/rules.ts). */
function fetchHead(status: string, headers: HeaderList): ResponseInit & { status: number; headers: Headers } {
  const code = checkStatus(status);
  if (typeof code === 'string') throw new TypeError(code);
  const out = new Headers();
  for (const header of headers) {
    if (!Array.isArray(header) || header.length !== 2)
      throw new TypeError(`headers must be (name, value) pairs, got ${String(header)}`);
    const [name, value] = header as Header;
    const problem = checkHeaderName(name) ?? checkHeaderValue(name, value);
    if (problem !== null) throw new TypeError(problem);
    const lower = name.toLowerCase();
    // PEP 3333: hop-by-hop headers belong to the server; `Connection: close` is a wish the runtime owns.
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection' && value.trim().toLowerCase() === 'close') continue;
      throw new TypeError(`hop-by-hop header ${JSON.stringify(name)} is not allowed (PEP 3333)`);
    }
    out.append(name, value);
  }
  return { status: code, statusText: status.slice(4), headers: out };
}

function plainError(code: number): Response {
  return new Response(`${reasonFor(code)}\n`, {
    status: code,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  });
}

/**
 * One application call under PEP 3333's rules: the head is taken at the first non-empty chunk (or the end
 * of the body), so an error before it is a 500 and an error after it errors the stream (the client sees a
 * truncation, never a false success). close() runs once, whatever happens.
 */
async function call(app: WsgiApp, environ: Environ, head: boolean): Promise<Response> {
  let started: { status: string; headers: HeaderList } | null = null;
  let sent = false;
  const pending: Bytes[] = [];
  const write: WriteCallable = (data) => {
    if (started === null) throw new Error('write() called before start_response()');
    if (!(data instanceof Uint8Array)) throw new TypeError('write() takes bytes (a Uint8Array)');
    if (data.byteLength > 0) pending.push(data);
  };
  const startResponse: StartResponse = (status, headers, excInfo?) => {
    if (excInfo !== undefined && excInfo !== null) {
      if (sent) throw excInfo;
    } else if (started !== null) throw new Error('start_response() called a second time without exc_info');
    started = { status, headers };
    return write;
  };

  let body: ResponseBody;
  try {
    body = await app(environ, startResponse);
  } catch (error) {
    environ['wsgi.errors'].write(`Error handling request: ${describeError(error)}\n`);
    return plainError(500);
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      await body.close?.();
    } catch (error) {
      environ['wsgi.errors'].write(`Error in close() of the response body: ${describeError(error)}\n`);
    }
  };
  const iterator =
    Symbol.asyncIterator in body
      ? (body as AsyncIterable<Bytes>)[Symbol.asyncIterator]()
      : (body as Iterable<Bytes>)[Symbol.iterator]();
  const next = async (): Promise<Bytes | null> => {
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) return null;
      const chunk: unknown = step.value;
      if (!(chunk instanceof Uint8Array))
        throw new TypeError(`body chunks must be bytes, got ${typeof chunk}`);
      if (chunk.byteLength > 0) return chunk;
    }
  };

  let first: Bytes | null;
  let response: ResponseInit & { status: number; headers: Headers };
  try {
    first = pending.length > 0 ? null : await next();
    const begun = started as { status: string; headers: HeaderList } | null;
    if (begun === null) throw new Error('the application returned a body without calling start_response()');
    response = fetchHead(begun.status, begun.headers);
    sent = true;
  } catch (error) {
    environ['wsgi.errors'].write(`Error handling request: ${describeError(error)}\n`);
    await close();
    return plainError(500);
  }
  if (first !== null) pending.push(first);
  if (head || NULL_BODY.has(response.status)) {
    await iterator.return?.();
    await close();
    return new Response(null, response);
  }
  // Pull-based: the app is asked for the next chunk only when the consumer wants one (backpressure).
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const queued = pending.shift();
      if (queued !== undefined) return controller.enqueue(queued);
      try {
        const chunk = await next();
        if (chunk === null) {
          await close();
          controller.close();
        } else controller.enqueue(chunk);
      } catch (error) {
        environ['wsgi.errors'].write(`Error in the response body: ${describeError(error)}\n`);
        await close();
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.();
      await close();
    },
  });
  return new Response(stream, response);
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** A TypeScript WSGI app as a Fetch handler: `Deno.serve(toFetchHandler(app))`. */
export function toFetchHandler(
  app: WsgiApp,
  options: ToFetchOptions = {},
): (request: Request) => Promise<Response> {
  return async (request) => {
    const environ = environFor(request, options);
    if (environ === null) return plainError(400);
    return call(app, environ, request.method === 'HEAD');
  };
}

/** The request body as a stream over wsgi.input; none for GET/HEAD or a body-less request. */
function requestBody(environ: Environ): ReadableStream<Uint8Array> | null {
  const method = environ.REQUEST_METHOD;
  if (method === 'GET' || method === 'HEAD') return null;
  const length = environ.CONTENT_LENGTH;
  if (
    (length === undefined || length === '' || length === '0') &&
    environ.HTTP_TRANSFER_ENCODING === undefined
  )
    return null;
  const input = environ['wsgi.input'];
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await input.read(64 * 1024);
      if (chunk.byteLength === 0) controller.close();
      else controller.enqueue(chunk);
    },
  });
}

/** The Fetch Request an environ describes: the URL the client asked for, its headers and its body. */
export function toRequest(environ: Environ): Request {
  const headers = new Headers();
  for (const [key, value] of Object.entries(environ)) {
    if (typeof value !== 'string') continue;
    if (key.startsWith('HTTP_')) headers.append(key.slice(5).toLowerCase().replace(/_/g, '-'), value);
  }
  if (typeof environ.CONTENT_TYPE === 'string' && environ.CONTENT_TYPE !== '')
    headers.set('content-type', environ.CONTENT_TYPE);
  if (typeof environ.CONTENT_LENGTH === 'string' && environ.CONTENT_LENGTH !== '')
    headers.set('content-length', environ.CONTENT_LENGTH);
  const body = requestBody(environ);
  return new Request(requestUrl(environ), {
    method: environ.REQUEST_METHOD,
    headers,
    ...(body === null ? {} : { body, duplex: 'half' }),
  } as RequestInit);
}

/** The status line for a Fetch Response: its own reason phrase when it has one (HTTP/2 gives none). */
function statusLine(response: Response): Status {
  const reason = response.statusText === '' ? reasonFor(response.status) : response.statusText;
  return `${response.status} ${reason}` as Status;
}

/** A Fetch handler as a WSGI app: `export const app = fromFetchHandler(hono.fetch)`; the environ is its 2nd argument. */
export function fromFetchHandler(handler: FetchHandler): WsgiApp {
  return async (environ, startResponse) => {
    const response = await handler(toRequest(environ), environ);
    const headers: Header[] = [];
    response.headers.forEach((value, name) => {
      // Set-Cookie is the one header that may not be folded (RFC 6265 §3): taken one by one below.
      if (name !== 'set-cookie' && !HOP_BY_HOP.has(name)) headers.push([name, value]);
    });
    for (const cookie of response.headers.getSetCookie()) headers.push(['set-cookie', cookie]);
    startResponse(statusLine(response), headers);
    const stream = response.body;
    if (stream === null) return [];
    const reader = stream.getReader();
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          yield value;
        }
      },
      // PEP 3333 close(): a response cut short (client gone) stops the handler's stream.
      close: () => reader.cancel().catch(() => {}),
    };
  };
}
