/**
 * A response that is itself a WSGI app (Werkzeug's Response): status, headers, cookies and a body that
 * may be bytes, text, an iterable or async iterable of chunks (streamed as produced), or made from the
 * environ when served (files through `wsgi.file_wrapper`). A Response's body is consumed when it is
 * served, so serve each one once.
 */
import { type SerializeOptions, stringifySetCookie } from 'cookie';
import type { Bytes, Environ, ResponseBody, StartResponse, Status } from '../contract/types.js';
import { reasonFor } from '../http/reason-phrases.js';
import { CallableApp } from './callable.js';
import { Headers, type HeadersInit } from './headers.js';

type Chunk = Bytes | string;

/** What a body can be given as. A function makes the body when the response is served. */
export type BodyInit =
  | Chunk
  | ((Iterable<Chunk> | AsyncIterable<Chunk>) & { close?(): void | Promise<void> })
  | ((environ: Environ) => ResponseBody)
  | null
  | undefined;

export interface ResponseInit {
  /** Default 200. */
  readonly status?: number;
  /** The reason phrase; default the registered one for the status. */
  readonly statusText?: string;
  readonly headers?: HeadersInit;
}

const encoder = new TextEncoder();

export type CookieOptions = SerializeOptions;

export class Response extends CallableApp {
  status: number;
  statusText: string | undefined;
  readonly headers: Headers;
  #body: BodyInit;

  constructor(body?: BodyInit, init: ResponseInit = {}) {
    super();
    const status = init.status ?? 200;
    if (!Number.isInteger(status) || status < 200 || status > 999)
      throw new RangeError(`a response status is a final status code (200-999), not ${status}`);
    this.status = status;
    this.statusText = init.statusText;
    this.headers = new Headers(init.headers);
    this.#body = body;
    if (typeof body === 'string') this.headers.setDefault('Content-Type', 'text/plain; charset=utf-8');
  }

  /** A JSON response (RFC 8259 text in UTF-8). */
  static json(data: unknown, init: ResponseInit = {}): Response {
    const response = new Response(JSON.stringify(data), init);
    response.headers.set('Content-Type', 'application/json');
    return response;
  }

  /** A redirect (RFC 9110 §10.2.2 Location; 302 unless told otherwise). */
  static redirect(location: string, status = 302): Response {
    return new Response(null, { status, headers: [['Location', location]] });
  }

  /** The status line start_response takes, e.g. `'404 Not Found'`. */
  get statusLine(): Status {
    return `${this.status} ${this.statusText ?? reasonFor(this.status)}` as Status;
  }

  /** Adds a Set-Cookie header (RFC 6265 §4.1); the value is percent-encoded as needed. */
  setCookie(name: string, value: string, options: CookieOptions = {}): this {
    this.headers.append('Set-Cookie', stringifySetCookie(name, value, options));
    return this;
  }

  /** Tells the client to drop a cookie: an empty value that expired long ago (RFC 6265 §3.1). */
  deleteCookie(name: string, options: Pick<CookieOptions, 'path' | 'domain'> = {}): this {
    return this.setCookie(name, '', { ...options, expires: new Date(0), maxAge: 0 });
  }

  serve(environ: Environ, startResponse: StartResponse): ResponseBody {
    const body = this.#body;
    const headers = new Headers(this.headers);
    let result: ResponseBody;
    if (body === null || body === undefined) result = [];
    else if (typeof body === 'string') result = [encoder.encode(body)];
    else if (body instanceof Uint8Array) result = [body];
    else if (typeof body === 'function') result = body(environ);
    else if (Array.isArray(body)) result = (body as Chunk[]).map(toBytes);
    else result = toBytesIterable(body);
    // A body known in full gets its length, so the client need not wait for the end of a stream; 204 and
    // 304 answers have no body and must not say they do (RFC 9110 §8.6).
    if (
      Array.isArray(result) &&
      !headers.has('Content-Length') &&
      this.status !== 204 &&
      this.status !== 304
    ) {
      let length = 0;
      for (const chunk of result as Bytes[]) length += chunk.byteLength;
      headers.set('Content-Length', String(length));
    }
    startResponse(this.statusLine, headers.toList());
    return result;
  }
}

function toBytes(chunk: Chunk): Bytes {
  return typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
}

/** Chunks as bytes, passing close() on: PEP 3333 wants the app's close() called whatever happens. */
function toBytesIterable(body: Iterable<Chunk> | AsyncIterable<Chunk>): ResponseBody {
  const close = (body as { close?: () => void | Promise<void> }).close;
  const withClose = close === undefined ? {} : { close: () => close.call(body) };
  if (Symbol.asyncIterator in body) {
    return {
      async *[Symbol.asyncIterator]() {
        for await (const chunk of body) yield toBytes(chunk);
      },
      ...withClose,
    };
  }
  return {
    *[Symbol.iterator]() {
      for (const chunk of body) yield toBytes(chunk);
    },
    ...withClose,
  };
}
