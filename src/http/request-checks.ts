/**
 * Checks on a parsed request head that llhttp does not make, each with the status RFC 9110/9112 gives
 * it. Pure: the front calls it before any backend sees the request.
 */
import { parseRequestTarget, type RequestTarget } from './request-target.js';

export interface RequestLimits {
  /** Max bytes of the request line (Gunicorn's --limit-request-line); 0 means unlimited. → 414 */
  readonly requestLine: number;
  /** Max number of header fields (--limit-request-fields). → 431 */
  readonly fields: number;
  /**
   * Max bytes of one header field line as Gunicorn counts it, `name: value` and its CRLF
   * (--limit-request-field_size). → 431
   */
  readonly fieldSize: number;
  /** Max bytes of a request body (--limit-request-body); 0 means unlimited. → 413 */
  readonly body: number;
}

export interface Rejection {
  readonly status: 400 | 413 | 414 | 431 | 501 | 505;
  readonly reason: string;
}

export type CheckedHead =
  | { readonly ok: true; readonly target: RequestTarget }
  | { readonly ok: false; readonly rejection: Rejection };

const reject = (status: Rejection['status'], reason: string): CheckedHead => ({
  ok: false,
  rejection: { status, reason },
});

/**
 * The bytes of a field line as Gunicorn counts them against --limit-request-field_size: `name: value`
 * and its CRLF (llhttp hands the value without the whitespace around it, so one space is assumed).
 */
export function fieldLineLength(name: string, value: string): number {
  return name.length + value.length + 4;
}

export function checkRequestHead(
  method: string,
  url: string,
  version: string,
  rawHeaders: readonly string[],
  limits: RequestLimits,
): CheckedHead {
  // Gunicorn 22+ and RFC 9112 §2.3: only HTTP/1.0 and HTTP/1.1 are spoken here.
  if (version !== '1.1' && version !== '1.0') return reject(505, `HTTP/${version} is not supported`);
  // "GET " + target + " HTTP/1.1"
  if (limits.requestLine > 0 && method.length + url.length + 10 > limits.requestLine) {
    return reject(414, `request line longer than ${limits.requestLine} bytes`);
  }
  if (rawHeaders.length / 2 > limits.fields) return reject(431, `more than ${limits.fields} header fields`);
  let hosts = 0;
  let contentTypes = 0;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (fieldLineLength(name, value) > limits.fieldSize) {
      return reject(431, `header field longer than ${limits.fieldSize} bytes`);
    }
    // Only names of the right length are lowered: this loop runs for every header of every request.
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 12 && name.toLowerCase() === 'content-type') contentTypes++;
    else if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = value;
    // RFC 9110 §5.3: several field lines are one list, as if sent on one line ("gzip" then "chunked" is
    // "gzip, chunked", not "chunked").
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding')
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
  }
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1; never two in any version.
  if (hosts > 1) return reject(400, 'more than one Host header');
  if (hosts === 0 && version === '1.1') return reject(400, 'HTTP/1.1 request without a Host header');
  if (contentTypes > 1) return reject(400, 'more than one Content-Type header');
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing (CVE-2024-1135 in Gunicorn).
    if (version === '1.0') return reject(400, 'Transfer-Encoding in an HTTP/1.0 request');
    // Only chunked is decoded; a body in another transfer coding would reach the app still encoded.
    if (transferEncoding.trim().toLowerCase() !== 'chunked') {
      return reject(501, `transfer coding ${JSON.stringify(transferEncoding.slice(0, 50))} is not supported`);
    }
  }
  if (limits.body > 0 && contentLength !== undefined && Number(contentLength) > limits.body) {
    return reject(413, `request body larger than ${limits.body} bytes`);
  }
  const target = parseRequestTarget(url, method);
  if (target === null) return reject(400, `request target ${JSON.stringify(url.slice(0, 100))} not accepted`);
  return { ok: true, target };
}

/**
 * Fields that must not come in a trailer section because they would change how the request is framed,
 * routed or authenticated (RFC 9110 §6.5.1; Gunicorn refuses Host, Content-Length and Transfer-Encoding
 * there). Trailers never reach the environ, but a proxy in front may have read them otherwise. Fields
 * the RFC only advises against (Content-Type, Vary: Gunicorn's corpus valid/012) are left alone.
 */
const FORBIDDEN_TRAILERS = new Set([
  'authorization',
  'connection',
  'content-length',
  'cookie',
  'expect',
  'host',
  'keep-alive',
  'max-forwards',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The first field in `rawTrailers` (flattened: name, value, …) that may not be a trailer, or null. */
export function forbiddenTrailer(rawTrailers: readonly string[]): string | null {
  for (let i = 0; i < rawTrailers.length; i += 2) {
    const name = rawTrailers[i]!;
    if (FORBIDDEN_TRAILERS.has(name.toLowerCase())) return name;
  }
  return null;
}
