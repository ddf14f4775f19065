/**
 * PEP 3333 and RFC 9110 rules for what an application may send. Pure functions shared by the response
 * writer (both backends), the in-process start_response and the validator, so there is exactly one
 * definition of "valid". Its mirror for Python apps is python/nodicorn_worker/rules.py (the worker's
 * start_response); both are held to tests/fixtures/header-rules-vectors.json.
 */

/** RFC 9110 §5.6.2 token characters, for header names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * RFC 9110 §5.5: field values may not contain CTLs other than HTAB (CVE-2018-1000164: no CR/LF ever);
 * and they travel as latin-1 bytes (PEP 3333 "native strings"), so nothing above 0xFF either.
 */
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/;
const NOT_LATIN1 = /[^\x00-\xff]/;
/** PEP 3333: "200 OK" — three digits, one space, a reason phrase without control characters. */
const STATUS = /^([1-9]\d\d) ([^\x00-\x08\x0a-\x1f\x7f]*)$/;

/** RFC 9110 §7.6.1 hop-by-hop headers; PEP 3333 forbids applications from sending them. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

/**
 * RFC 9110 fields defined as one value, not a list: RFC 9110 §5.3 forbids sending one twice (two
 * Content-Types or Locations let a client and a cache each pick a different one, like two Content-Lengths),
 * and node:http2 cannot (ERR_HTTP2_HEADER_SINGLE_VALUE). A repeat is an application error on every
 * protocol. This is node:http2's single-value set, less the connection-specific and list fields.
 */
export const SINGLE_VALUE: ReadonlySet<string> = new Set([
  'access-control-allow-credentials',
  'access-control-max-age',
  'access-control-request-method',
  'age',
  'authorization',
  'content-length',
  'content-location',
  'content-md5',
  'content-range',
  'content-type',
  'date',
  'dnt',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-range',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'range',
  'referer',
  'retry-after',
  'tk',
  'upgrade-insecure-requests',
  'user-agent',
  'x-content-type-options',
]);

/**
 * List fields (RFC 9110 §8.4, §8.5, §13.1.1, §13.1.2) that node:http2 takes only once: repeats are allowed,
 * and on HTTP/2 they are sent joined with ", ", which RFC 9110 §5.3 makes equivalent.
 */
export const JOINED_ON_HTTP2: ReadonlySet<string> = new Set([
  'content-encoding',
  'content-language',
  'if-match',
  'if-none-match',
]);

/** True for a `Connection` value the server honours: `close` (OWS around it, any case). */
export function isConnectionClose(value: string): boolean {
  return value.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase() === 'close';
}

/**
 * Returns null when the header list may be sent, or a message saying what is wrong with it: every pair
 * (checkHeader), no hop-by-hop header but `Connection: close` (PEP 3333), one valid Content-Length at
 * most, no SINGLE_VALUE field twice.
 */
export function checkHeaders(headers: unknown): string | null {
  if (!Array.isArray(headers)) return `headers must be a list of (name, value) pairs, got ${typeof headers}`;
  let seen: Set<string> | null = null;
  for (const header of headers as unknown[]) {
    if (!Array.isArray(header) || header.length !== 2) return 'headers must be (name, value) pairs';
    const [name, value] = header as [unknown, unknown];
    const problem = checkHeader(name, value);
    if (problem !== null) return problem;
    const lower = (name as string).toLowerCase();
    const fieldProblem = checkField(lower, name as string, value as string);
    if (fieldProblem !== null) return fieldProblem;
    if (SINGLE_VALUE.has(lower)) {
      seen ??= new Set();
      if (seen.has(lower)) return repeated(name as string);
      seen.add(lower);
    }
  }
  return null;
}

/**
 * The rules on one valid (name, value) pair by its lower-case name, apart from repeats: hop-by-hop
 * headers and Content-Length's form. Null when it may be sent.
 */
export function checkField(lower: string, name: string, value: string): string | null {
  if (lower === 'content-length') {
    if (!isContentLength(value)) return `invalid Content-Length ${JSON.stringify(value)}`;
  } else if (HOP_BY_HOP.has(lower) && !(lower === 'connection' && isConnectionClose(value))) {
    return `hop-by-hop header ${JSON.stringify(name)} is not allowed (PEP 3333)`;
  }
  return null;
}

/** The message for a SINGLE_VALUE field sent twice. */
export function repeated(name: string): string {
  return `header ${JSON.stringify(name)} may be sent only once (RFC 9110 §5.3)`;
}

/** Returns the numeric status code, or a message saying what is wrong with the status line. */
export function checkStatus(status: unknown): number | string {
  if (typeof status !== 'string') return `status must be a string, got ${typeof status}`;
  const m = STATUS.exec(status);
  if (m === null || NOT_LATIN1.test(status)) return `invalid status ${JSON.stringify(status)}`;
  const code = Number(m[1]);
  if (code < 200) return `status ${code} is not a final status`;
  // RFC 9110 §15: status codes are 100–599; HTTP/2 cannot carry others (node:http2 throws).
  if (code > 599) return `status ${code} is outside 100-599`;
  return code;
}

/** Returns null when the header may be sent, or a message saying why not. */
export function checkHeader(name: unknown, value: unknown): string | null {
  return checkHeaderName(name) ?? checkHeaderValue(name as string, value);
}

/** Returns null for a valid header name (an RFC 9110 token), or a message saying what is wrong. */
export function checkHeaderName(name: unknown): string | null {
  if (typeof name !== 'string') return `header name must be a string, got ${typeof name}`;
  if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name)}`;
  return null;
}

/** Returns null for a value that may be sent under `name`, or a message saying what is wrong. */
export function checkHeaderValue(name: string, value: unknown): string | null {
  if (typeof value !== 'string') return `value of header ${JSON.stringify(name)} must be a string`;
  if (BAD_VALUE_CHAR.test(value)) return `invalid characters in the value of header ${JSON.stringify(name)}`;
  return null;
}

/** True for a valid Content-Length value: digits only (no sign, no list, no spaces). */
export function isContentLength(value: string): boolean {
  return /^\d{1,15}$/.test(value);
}
