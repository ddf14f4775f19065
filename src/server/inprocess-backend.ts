/**
 * The in-process backend: runs a TypeScript WSGI app on the server's own event loop, with PEP 3333's
 * start_response state machine. Python apps get the same machine in the worker (python/nodicorn_worker).
 */

import { checkHeaders, checkStatus } from '../contract/rules.js';
import type {
  Bytes,
  Environ,
  HeaderList,
  ResponseBody,
  StartResponse,
  WriteCallable,
  WsgiApp,
  WsgiErrors,
  WsgiInput,
} from '../contract/types.js';
import { RequestBodyError, ResponseHeadError } from '../errors/registry.js';
import type { Logger } from '../observability/logger.js';
import type { Backend, Exchange } from './backend.js';
import { fileWrapper } from './file-wrapper.js';
import type { ResponseWriter } from './response-writer.js';
import { BodyReader } from './wsgi-input.js';

const VERSION = Object.freeze([1, 0] as const);

function errorStream(log: Logger): WsgiErrors {
  return {
    write: (text) => log.raw(text),
    writelines: (lines) => {
      for (const line of lines) log.raw(line);
    },
    flush: () => {},
  };
}

/** Gives a TypeScript app everything PEP 3333 puts in the environ besides the CGI keys. */
export function completeEnviron(exchange: Exchange, errors: WsgiErrors): Environ {
  const hasBody = exchange.bodyLength !== 0;
  return addWsgiKeys(
    exchange.environ,
    new BodyReader(hasBody ? exchange.req : null, exchange.bodyLimit, () => exchange.req.rawTrailers),
    errors,
  );
}

/** Adds PEP 3333's wsgi.* keys to a CGI environ, for every host of a TypeScript app (server, adapters). */
export function addWsgiKeys(cgi: Record<string, string>, input: WsgiInput, errors: WsgiErrors): Environ {
  const environ = cgi as unknown as Environ;
  environ['wsgi.version'] = VERSION;
  environ['wsgi.input'] = input;
  environ['wsgi.errors'] = errors;
  environ['wsgi.multithread'] = false;
  environ['wsgi.multiprocess'] = false;
  environ['wsgi.run_once'] = false;
  environ['wsgi.input_terminated'] = true;
  environ['wsgi.file_wrapper'] = fileWrapper;
  return environ;
}

export class InProcessBackend implements Backend {
  readonly #app: WsgiApp;
  readonly #log: Logger;
  readonly #errors: WsgiErrors;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(app: WsgiApp, log: Logger) {
    this.#app = app;
    this.#log = log;
    this.#errors = errorStream(log);
  }

  async start(): Promise<void> {}

  healthy(): boolean {
    return true;
  }

  /** HTTP/2 requests waiting for the next turn of the event loop. */
  #deferred: Exchange[] = [];

  handle(exchange: Exchange): void {
    // HTTP/2 (RFC 9113 §5.4.2, CVE-2023-44487 "rapid reset"): a client may open a stream and reset it in
    // the same packet, and node:http2 hands over the request before it reads the RST_STREAM behind it.
    // The app is called on the next turn of the event loop, once that has been read: a stream reset by
    // then never reaches the app.
    if (exchange.req.httpVersionMajor === 2) {
      if (this.#deferred.push(exchange) === 1) setImmediate(this.#runDeferred);
      return;
    }
    this.#run(exchange);
  }

  readonly #runDeferred = (): void => {
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const exchange of deferred) if (!exchange.writer.clientGone) this.#run(exchange);
  };

  #run(exchange: Exchange): void {
    const environ = completeEnviron(exchange, this.#errors);
    const pending = runApp(this.#app, environ, exchange.writer, this.#log);
    if (pending !== undefined) {
      this.#inFlight.add(pending);
      void pending.finally(() => this.#inFlight.delete(pending));
    }
  }

  async close(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.allSettled([...this.#inFlight]), grace]);
    clearTimeout(timer);
  }
}

/**
 * One application call. Returns undefined when it finished synchronously (the fast path for list bodies),
 * else a Promise that settles when the response is done; it never rejects.
 */
export function runApp(
  app: WsgiApp,
  environ: Environ,
  writer: ResponseWriter,
  log: Logger,
): Promise<void> | undefined {
  const call = new AppCall(writer, log, environ);
  let result: ResponseBody | Promise<ResponseBody>;
  try {
    result = app(environ, call.startResponse);
  } catch (error) {
    call.failed(error);
    return undefined;
  }
  if (result instanceof Promise || typeof (result as { then?: unknown }).then === 'function') {
    return (result as Promise<ResponseBody>).then(
      (body) => call.consume(body),
      (error: unknown) => call.failed(error),
    );
  }
  return call.consume(result as ResponseBody);
}

class AppCall {
  #head: { status: string; headers: HeaderList } | null = null;
  readonly #writer: ResponseWriter;
  readonly #log: Logger;
  readonly #environ: Environ;

  constructor(writer: ResponseWriter, log: Logger, environ: Environ) {
    this.#writer = writer;
    this.#log = log;
    this.#environ = environ;
  }

  readonly startResponse: StartResponse = (status, headers, excInfo?) => {
    if (excInfo !== undefined && excInfo !== null) {
      // PEP 3333: with exc_info after the headers went out, re-raise; before, replace them.
      if (this.#writer.headersSent) throw excInfo;
    } else if (this.#head !== null) {
      throw new Error('start_response() called a second time without exc_info');
    }
    if (typeof status !== 'string') throw new TypeError('start_response(): status must be a string');
    if (!Array.isArray(headers)) throw new TypeError('start_response(): headers must be a list of pairs');
    // PEP 3333: errors in the headers are raised by start_response, while the app still runs; the same
    // rules as the Python worker's start_response (rules.ts, rules.py). The writer checks again at the wire.
    const code = checkStatus(status);
    const problem = typeof code === 'string' ? code : checkHeaders(headers);
    if (problem !== null) throw new ResponseHeadError(problem);
    this.#head = { status, headers };
    return this.write;
  };

  /** PEP 3333's write(): sends the headers if needed, then the bytes, at once. */
  readonly write: WriteCallable = (data) => {
    if (this.#head === null) throw new Error('write() called before start_response()');
    if (!(data instanceof Uint8Array)) throw new TypeError('write() takes bytes (a Uint8Array)');
    if (data.byteLength === 0) return;
    this.#sendHead(-1);
    this.#writer.write(data);
  };

  consume(body: ResponseBody): Promise<void> | undefined {
    if (Array.isArray(body)) {
      try {
        this.#sendList(body as Bytes[]);
      } catch (error) {
        this.failed(error);
      }
      this.#close(body);
      return undefined;
    }
    return this.#pump(body);
  }

  /** The fast path: every chunk is known, so Content-Length can be given and one write suffices. */
  #sendList(chunks: readonly Bytes[]): void {
    let total = 0;
    for (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array))
        throw new TypeError(`body chunks must be bytes, got ${describe(chunk)}`);
      total += chunk.byteLength;
    }
    const writer = this.#writer;
    // Nothing went out through write() (or only empty bytes): the length is known.
    if (!writer.headersSent) this.#sendHead(total);
    if (chunks.length === 1) writer.end(chunks[0]);
    else if (chunks.length === 0) writer.end();
    else writer.end(Buffer.concat(chunks as Uint8Array[], total));
  }

  async #pump(body: ResponseBody): Promise<void> {
    const writer = this.#writer;
    try {
      const iterator =
        Symbol.asyncIterator in body
          ? (body as AsyncIterable<Bytes>)[Symbol.asyncIterator]()
          : (body as Iterable<Bytes>)[Symbol.iterator]();
      try {
        for (;;) {
          const next = await iterator.next();
          if (next.done === true) break;
          if (writer.clientGone) return;
          const chunk = next.value;
          if (!(chunk instanceof Uint8Array))
            throw new TypeError(`body chunks must be bytes, got ${describe(chunk)}`);
          // PEP 3333: headers go out with the first non-empty chunk, not before.
          if (chunk.byteLength === 0) continue;
          this.#sendHead(-1);
          if (!writer.write(chunk)) await writer.waitForDrain();
        }
      } finally {
        if (writer.clientGone) await iterator.return?.();
      }
      if (!writer.headersSent) this.#sendHead(0);
      writer.end();
    } catch (error) {
      this.failed(error);
    } finally {
      await this.#close(body);
    }
  }

  #sendHead(knownLength: number): void {
    if (this.#writer.headersSent) return;
    const head = this.#head;
    if (head === null) throw new Error('the application returned a body without calling start_response()');
    this.#writer.sendHead(head.status, head.headers, knownLength);
  }

  /** An exception from the app: 500 (or the error's own status) before the headers, an abort after. */
  failed(error: unknown): void {
    const writer = this.#writer;
    const where = `${this.#environ.REQUEST_METHOD} ${this.#environ.RAW_URI}`;
    if (error instanceof RequestBodyError) {
      this.#log.info(`${where}: ${error.message}`);
      writer.fail(error.status);
      return;
    }
    if (error instanceof ResponseHeadError)
      this.#log.error(`${where}: invalid response from the application: ${error.message}`);
    else
      this.#log.exception(
        `Error handling request ${where}\n${error instanceof Error ? error.stack : String(error)}`,
      );
    writer.fail(500);
  }

  /** PEP 3333: close() is called whatever happened, once. */
  #close(body: ResponseBody): Promise<void> | undefined {
    const close = (body as { close?: unknown }).close;
    if (typeof close !== 'function') return undefined;
    try {
      const result = close.call(body) as unknown;
      if (result instanceof Promise) return result.catch((error: unknown) => this.#closeFailed(error));
    } catch (error) {
      this.#closeFailed(error);
    }
    return undefined;
  }

  #closeFailed(error: unknown): void {
    const where = `${this.#environ.REQUEST_METHOD} ${this.#environ.RAW_URI}`;
    this.#log.error(
      `Error in close() of the response body of ${where}\n${error instanceof Error ? error.stack : String(error)}`,
    );
  }
}

function describe(value: unknown): string {
  return value === null
    ? 'null'
    : typeof value === 'object'
      ? (value.constructor?.name ?? 'object')
      : typeof value;
}
