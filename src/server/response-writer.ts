/**
 * The response writer: the one place where an application's status, headers and body become HTTP. Both
 * backends drive it, so every rule holds for TypeScript and Python apps alike:
 *   - status and headers are validated (contract/rules.ts): nothing with CR, LF or another control
 *     character reaches the wire, and hop-by-hop headers are refused (PEP 3333), except that an app's
 *     `Connection: close` is honoured as a request to close, as Gunicorn does;
 *   - a declared Content-Length is kept and enforced: never more bytes than declared (the excess is cut
 *     and the connection closed), and fewer make the connection close so the client sees a truncation;
 *   - framing is node:http's: Content-Length when known, chunked for HTTP/1.1 streams, close-delimited
 *     for HTTP/1.0; no body for HEAD, 204 and 304; a Date header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Writable } from 'node:stream';
import {
  checkField,
  checkHeaderName,
  checkHeaderValue,
  checkStatus,
  repeated,
  SINGLE_VALUE,
} from '../contract/rules.js';
import type { HeaderList } from '../contract/types.js';
import { ResponseHeadError } from '../errors/registry.js';
import { memoize } from '../http/memo.js';
import { reasonFor } from '../http/reason-phrases.js';
import type { Logger } from '../observability/logger.js';

/** Unread request bodies up to this size are drained to keep the connection; larger ones close it. */
const DRAIN_LIMIT = 64 * 1024;

/** Status lines and header names repeat across responses: their checks are remembered. */
const statusCode = memoize(checkStatus);
/** A header name in lower case, or null when it is not a valid name. */
const lowerName = memoize((name) => (checkHeaderName(name) === null ? name.toLowerCase() : null));

/** How long an aborted response may take to flush what it had written before the socket is dropped. */
const ABORT_FLUSH_MS = 5000;

/** A request as node:http or node:http2's compatibility API hands it over. */
export type ServerRequest = IncomingMessage | Http2ServerRequest;
/** The response object that goes with a ServerRequest. */
export type ServerResponseLike = ServerResponse | Http2ServerResponse;

/** The reason phrase of a status the server answers itself (RFC 9110's, from src/http/reason-phrases.ts). */
export function reasonPhrase(code: number): string {
  return reasonFor(code, 'Error');
}

export class ResponseWriter {
  /** True once the status line and headers were handed to node:http. */
  headersSent = false;
  /** True once the response is complete or the connection was aborted. */
  done = false;
  /** Status code sent, for logs and metrics (0 until the head is sent). */
  status = 0;
  /** Body bytes accepted for the wire. */
  bytesSent = 0;
  /** The response headers as sent, flattened (name, value, …), for the access log. */
  sentHeaders: readonly string[] = [];
  /** How long the request waited in a worker pool's queue (ms), set when it left it; -1 if it never did. */
  queueMs = -1;

  readonly #req: ServerRequest;
  readonly #res: ServerResponse;
  readonly #log: Logger;
  #declared = -1;
  #bodyless: boolean;
  /** The connection must close after this response (the app sent more than its Content-Length). */
  #mustClose = false;

  /** The request body's declared length (0 none, -1 chunked), to decide whether an unread rest is drained. */
  readonly #requestBody: number;

  constructor(req: ServerRequest, res: ServerResponseLike, log: Logger, requestBody = 0) {
    this.#req = req;
    this.#requestBody = requestBody;
    // HTTP/2 responses take the same calls; the wire-specific ones are H2ResponseWriter's overrides.
    this.#res = res as ServerResponse;
    this.#log = log;
    this.#bodyless = req.method === 'HEAD';
  }

  /** The client went away before the response was complete. */
  get clientGone(): boolean {
    return this.#res.destroyed && !this.#res.writableFinished;
  }

  get response(): ServerResponseLike {
    return this.#res;
  }

  /**
   * Validates and sends the status line and headers. `knownLength` is the whole body's length when the
   * backend already has all of it: it becomes Content-Length when the app declared none.
   * Throws ResponseHeadError (nothing sent) when the head is invalid.
   */
  sendHead(status: string, headers: HeaderList, knownLength = -1): void {
    if (this.headersSent) throw new ResponseHeadError('response headers were already sent');
    const code = typeof status === 'string' ? statusCode(status) : checkStatus(status);
    if (typeof code === 'string') throw new ResponseHeadError(code);
    const flat: string[] = [];
    let declared = -1;
    let close = false;
    let seen: Set<string> | null = null;
    for (const header of headers) {
      if (!Array.isArray(header) || header.length !== 2) {
        throw new ResponseHeadError(`headers must be (name, value) pairs, got ${String(header)}`);
      }
      const [name, value] = header;
      const lower = typeof name === 'string' ? lowerName(name) : null;
      if (lower === null) throw new ResponseHeadError(checkHeaderName(name)!);
      const problem = checkHeaderValue(name, value) ?? checkField(lower, name, value);
      if (problem !== null) throw new ResponseHeadError(problem);
      if (SINGLE_VALUE.has(lower)) {
        seen ??= new Set();
        if (seen.has(lower)) throw new ResponseHeadError(repeated(name));
        seen.add(lower);
        if (lower === 'content-length') declared = Number(value);
      } else if (lower === 'connection') {
        // checkField let it through, so it is `Connection: close`: honoured, as Gunicorn does.
        close = true;
        continue;
      }
      flat.push(name, value);
    }
    if (code === 204 || code === 304) this.#bodyless = true;
    else if (declared === -1 && knownLength >= 0) {
      declared = knownLength;
      flat.push('Content-Length', String(knownLength));
    }
    this.#declared = declared;
    this.status = code;
    this.headersSent = true;
    this.sentHeaders = flat;
    try {
      this.writeHead(code, status.slice(4), flat, close || !this.#bodyCanBeDrained());
    } catch (error) {
      // The rules above should leave node:http(2) nothing to refuse; should it still throw, this response
      // fails (a 500, or an abort if something went out), never the server.
      if (!this.#res.headersSent) {
        this.headersSent = false;
        this.status = 0;
        this.sentHeaders = [];
      }
      throw new ResponseHeadError(
        `the HTTP layer refused the head: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** Puts the head on the wire; `close`: the connection ends after this response. */
  protected writeHead(code: number, reason: string, flat: string[], close: boolean): void {
    const res = this.#res;
    if (close) res.shouldKeepAlive = false;
    res.writeHead(code, reason, flat);
  }

  /**
   * Queues body bytes. Returns false when the client is behind and the caller should wait for
   * `waitForDrain()` before writing more. `onWritten`, if given, is called once the chunk's memory is no
   * longer needed: after the write completed or failed, or at once when nothing is written.
   */
  write(chunk: Uint8Array, onWritten?: () => void): boolean {
    const limited = this.done || this.#bodyless ? null : this.#limit(chunk);
    if (limited === null) {
      onWritten?.(); // nothing of the chunk was kept
      return true;
    }
    this.bytesSent += limited.byteLength;
    return this.#res.write(limited, onWritten);
  }

  /** Resolves when the client has taken what was queued, or the connection is gone. */
  waitForDrain(): Promise<void> {
    const flow = this.flow;
    if (!flow.writableNeedDrain || flow.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        flow.off('drain', done);
        flow.off('close', done);
        resolve();
      };
      flow.on('drain', done);
      flow.on('close', done);
    });
  }

  /** Calls `callback` once the client has taken what was queued (not when the connection closes). */
  onceDrained(callback: () => void): void {
    this.flow.once('drain', callback);
  }

  /** Bytes written and still in the response's (or its socket's) buffer. */
  get buffered(): number {
    return this.flow.writableLength;
  }

  /**
   * Bytes written and not yet taken by the kernel: the stream's buffer and libuv's write queue (which
   * shrinks with every partial write, where 'drain' waits for all of it). For --send-timeout.
   */
  get unsentBytes(): number {
    const socket = this.#res.socket as (Writable & { _handle?: { writeQueueSize?: number } | null }) | null;
    return this.flow.writableLength + (socket?._handle?.writeQueueSize ?? 0);
  }

  /** What writes go to, for backpressure: the response (HTTP/1) or its stream (HTTP/2). */
  protected get flow(): Writable {
    return this.#res;
  }

  /**
   * Completes the response. A body shorter than its Content-Length closes the connection. `onWritten` as
   * for write().
   */
  end(lastChunk?: Uint8Array, onWritten?: () => void): void {
    if (this.done) {
      onWritten?.();
      return;
    }
    let chunk = lastChunk;
    if (chunk !== undefined && !this.#bodyless) {
      const limited = this.#limit(chunk);
      chunk = limited ?? undefined;
      if (chunk !== undefined) this.bytesSent += chunk.byteLength;
    }
    if (!this.#bodyless && this.#declared >= 0 && this.bytesSent < this.#declared) {
      this.#log.error(
        `${this.#req.method} ${this.#req.url}: the application sent ${this.bytesSent} of the ` +
          `${this.#declared} bytes its Content-Length declared; closing the connection`,
      );
      if (chunk !== undefined) this.#res.write(chunk, onWritten);
      else onWritten?.();
      this.abort();
      return;
    }
    this.done = true;
    if (chunk === undefined || this.#bodyless) {
      this.#res.end();
      onWritten?.();
    } else this.#res.end(chunk, onWritten);
    if (this.#mustClose) this.closeAfterExcess();
  }

  /** The Connection header went out with the head, before the excess was seen: close explicitly. */
  protected closeAfterExcess(): void {
    this.#res.socket?.destroySoon();
  }

  /** Sends a whole response at once: the fast path for bodies that are complete when the head is known. */
  sendWhole(status: string, headers: HeaderList, body: Uint8Array | null): void {
    this.sendHead(status, headers, body === null ? 0 : body.byteLength);
    this.end(body === null || body.byteLength === 0 ? undefined : body);
  }

  /**
   * Answers with a server-made error response when no header was sent yet, else aborts the connection so
   * the client sees a truncated response rather than a false success.
   */
  fail(code: number, detail?: string): void {
    if (this.done) return;
    if (this.headersSent) {
      this.abort();
      return;
    }
    const res = this.#res;
    const body = `${reasonPhrase(code)}\n${detail === undefined ? '' : `${detail}\n`}`;
    this.status = code;
    this.headersSent = true;
    this.done = true;
    this.#bodyless = this.#req.method === 'HEAD';
    if (!this.#bodyless) this.bytesSent = Buffer.byteLength(body);
    const head = [
      'Content-Type',
      'text/plain; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(body)),
    ];
    this.writeHead(code, reasonPhrase(code), head, true);
    res.end(this.#bodyless ? undefined : body);
  }

  /** Drops the connection mid-response. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    this.dropConnection();
  }

  /** Ends the exchange so the client sees a truncation, never a complete response. */
  protected dropConnection(): void {
    const socket = this.#res.socket;
    if (socket === null || socket.destroyed) {
      this.#res.destroy();
      return;
    }
    // What was written still goes out, then the connection closes without the response's end (no final
    // chunk, or short of Content-Length): the client sees a truncation, never a complete response.
    socket.destroySoon();
    setTimeout(() => socket.destroy(), ABORT_FLUSH_MS).unref();
  }

  /** Cuts a chunk to what the declared Content-Length still allows; null when nothing is left. */
  #limit(chunk: Uint8Array): Uint8Array | null {
    const declared = this.#declared;
    if (declared < 0 || this.bytesSent + chunk.byteLength <= declared) return chunk;
    const room = declared - this.bytesSent;
    if (!this.#mustClose) {
      this.#log.error(
        `${this.#req.method} ${this.#req.url}: the application sent more than its Content-Length of ` +
          `${declared} bytes; the excess was dropped and the connection will close`,
      );
      this.#mustClose = true;
    }
    return room > 0 ? chunk.subarray(0, room) : null;
  }

  /**
   * Whether keep-alive may continue after this response: an unread request body must be drained first,
   * which is only worth it when little is left (the rest of a big upload is cheaper to refuse by closing).
   */
  #bodyCanBeDrained(): boolean {
    // node:http marks a bodiless request complete only after its handler ran, hence the declared length.
    if (this.#req.complete) return true;
    return this.#requestBody >= 0 && this.#requestBody <= DRAIN_LIMIT;
  }
}
