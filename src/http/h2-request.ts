/**
 * An HTTP/2 request head (RFC 9113 §8.3) turned into what the environ is built from, and checked. Pure.
 * node:http2 hands the header list flattened like node:http's rawHeaders, with the pseudo-headers
 * (`:method`, `:path`, `:scheme`, `:authority`) among them; those never become HTTP_* keys.
 */
import { type CheckedHead, fieldLineLength, type RequestLimits } from './request-checks.js';
import { parseRequestTarget } from './request-target.js';

export interface H2Head {
  readonly method: string;
  /** `:path`, '' when absent. */
  readonly path: string;
  /** `:authority`, or null when the client sent none (then Host, if any, names the host). */
  readonly authority: string | null;
  /** The regular fields, flattened (name, value, …), names in lower case as HTTP/2 requires. */
  readonly rawHeaders: string[];
  /** The Host field's value, if one was sent (RFC 9113 §8.3.1 lets clients send it). */
  readonly host: string | null;
}

export function h2RequestHead(raw: readonly string[]): H2Head {
  let method = '';
  let path = '';
  let authority: string | null = null;
  let host: string | null = null;
  const rawHeaders: string[] = [];
  let cookies: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 0x3a /* : */) {
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      continue;
    }
    if (name === 'cookie') {
      // RFC 9113 §8.2.3: a client may split Cookie into one field per cookie; they are joined with "; "
      // (not the "," that joins other repeated fields) before the request goes to an HTTP/1.1-style app.
      cookies = cookies === null ? value : `${cookies}; ${value}`;
      continue;
    }
    if (name === 'host') host = host === null ? value : `${host},${value}`;
    rawHeaders.push(name, value);
  }
  if (cookies !== null) rawHeaders.push('cookie', cookies);
  return { method, path, authority, rawHeaders, host };
}

/**
 * The checks `checkRequestHead` makes for HTTP/1, as they apply to HTTP/2: the same limits (the request
 * "line" is method and :path), the same body limit; :path in origin form (or `*` for OPTIONS); a Host
 * that disagrees with :authority makes the request malformed (RFC 9113 §8.3.1).
 */
export function checkH2RequestHead(head: H2Head, limits: RequestLimits): CheckedHead {
  const { method, path } = head;
  if (method === '' || path === '') return reject(400, 'HTTP/2 request without :method or :path');
  if (limits.requestLine > 0 && method.length + path.length + 10 > limits.requestLine)
    return reject(414, `request line longer than ${limits.requestLine} bytes`);
  const raw = head.rawHeaders;
  if (raw.length / 2 > limits.fields) return reject(431, `more than ${limits.fields} header fields`);
  let contentLength: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (fieldLineLength(name, value) > limits.fieldSize)
      return reject(431, `header field longer than ${limits.fieldSize} bytes`);
    if (name === 'content-length') contentLength = value;
  }
  if (
    head.host !== null &&
    head.authority !== null &&
    head.host.toLowerCase() !== head.authority.toLowerCase()
  )
    return reject(400, 'Host differs from :authority');
  if (limits.body > 0 && contentLength !== undefined && Number(contentLength) > limits.body)
    return reject(413, `request body larger than ${limits.body} bytes`);
  const first = path.charCodeAt(0);
  const target = first === 0x2f || path === '*' ? parseRequestTarget(path, method) : null;
  if (target === null)
    return reject(400, `request target ${JSON.stringify(path.slice(0, 100))} not accepted`);
  // :authority names the host as an absolute-form target's authority does in HTTP/1.1.
  return { ok: true, target: { ...target, authority: head.authority } };
}

function reject(status: 400 | 413 | 414 | 431, reason: string): CheckedHead {
  return { ok: false, rejection: { status, reason } };
}
