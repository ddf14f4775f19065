/**
 * HTTP errors that are WSGI apps (Werkzeug's HTTPException): throw one from a route and the router
 * serves it; return or mount one and it answers every request with its status. The body is a short
 * plain-text page; `headers` carries what the status calls for (Allow for 405, Content-Range for 416).
 */
import type { Environ, ResponseBody, StartResponse, Status, WsgiApp } from '../contract/types.js';
import { reasonFor } from '../http/reason-phrases.js';
import { CallableError } from './callable.js';
import { Headers, type HeadersInit } from './headers.js';

export interface HttpErrorOptions {
  readonly headers?: HeadersInit;
  /** Why the request failed, for the client (it goes into the body) and for logs. */
  readonly description?: string;
}

export class HttpError extends CallableError {
  readonly status: number;
  readonly headers: Headers;
  readonly description: string;

  constructor(status: number, options: HttpErrorOptions = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new RangeError(`an HttpError has a 4xx or 5xx status, not ${status}`);
    const description = options.description ?? '';
    super(
      description === ''
        ? `${status} ${reasonFor(status)}`
        : `${status} ${reasonFor(status)}: ${description}`,
    );
    this.status = status;
    this.headers = new Headers(options.headers);
    this.description = description;
  }

  serve(_environ: Environ, startResponse: StartResponse): ResponseBody {
    const body = new TextEncoder().encode(
      `${this.status} ${reasonFor(this.status)}\n${this.description === '' ? '' : `${this.description}\n`}`,
    );
    const headers = new Headers(this.headers)
      .set('Content-Type', 'text/plain; charset=utf-8')
      .set('Content-Length', String(body.byteLength));
    startResponse(`${this.status} ${reasonFor(this.status)}` as Status, headers.toList());
    return [body];
  }
}

export function isHttpError(value: unknown): value is HttpError {
  return value instanceof HttpError;
}

/** Options holding `description` only when one was given (exactOptionalPropertyTypes). */
function described(description: string | undefined): HttpErrorOptions {
  return description === undefined ? {} : { description };
}

export class BadRequest extends HttpError {
  constructor(description?: string) {
    super(400, described(description));
  }
}

export class Forbidden extends HttpError {
  constructor(description?: string) {
    super(403, described(description));
  }
}

export class NotFound extends HttpError {
  constructor(description?: string) {
    super(404, described(description));
  }
}

/** RFC 9110 §15.5.6: a 405 lists the methods the resource supports in Allow. */
export class MethodNotAllowed extends HttpError {
  readonly allowed: readonly string[];
  constructor(allowed: readonly string[], description?: string) {
    super(405, { headers: [['Allow', allowed.join(', ')]], ...described(description) });
    this.allowed = allowed;
  }
}

export class PreconditionFailed extends HttpError {
  constructor(description?: string) {
    super(412, described(description));
  }
}

export class ContentTooLarge extends HttpError {
  constructor(description?: string) {
    super(413, described(description));
  }
}

export class UnsupportedMediaType extends HttpError {
  constructor(description?: string) {
    super(415, described(description));
  }
}

/** RFC 9110 §15.5.17: a 416 tells the current length in `Content-Range: bytes *\/length`. */
export class RangeNotSatisfiable extends HttpError {
  constructor(length: number) {
    super(416, { headers: [['Content-Range', `bytes */${length}`]] });
  }
}

/**
 * Middleware: an HttpError thrown by `app` (or rejected from its Promise) is served as the answer. It
 * goes to start_response as exc_info (PEP 3333), so it replaces headers not yet sent and re-raises
 * otherwise.
 */
export function serveHttpErrors(app: WsgiApp): WsgiApp {
  return async (environ, startResponse) => {
    try {
      return await app(environ, startResponse);
    } catch (error) {
      if (!isHttpError(error)) throw error;
      return error(environ, (status, headers) => startResponse(status, headers, error));
    }
  };
}
