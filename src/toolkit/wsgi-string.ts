/**
 * PEP 3333 "WSGI strings": environ values such as PATH_INFO hold bytes, one latin-1 character per byte.
 * Text for people (a path with "é", a route pattern) is UTF-8; these convert between the two.
 */

const utf8 = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/** The bytes of a WSGI string. */
export function wsgiBytes(value: string): Uint8Array {
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i) & 0xff;
  return bytes;
}

/** A WSGI string read as UTF-8 (invalid sequences become U+FFFD, as Werkzeug's "replace"). */
export function fromWsgi(value: string): string {
  // ASCII is the same in both: the common case costs no copy.
  if (!/[^\x00-\x7f]/.test(value)) return value;
  return utf8.decode(wsgiBytes(value));
}

/** Text as a WSGI string: its UTF-8 bytes, one latin-1 character each. */
export function toWsgi(text: string): string {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  let out = '';
  for (const byte of encoder.encode(text)) out += String.fromCharCode(byte);
  return out;
}

/** RFC 3986 §3.3 pchar and "/": what a path keeps unescaped. */
const PATH_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;
/** A query keeps every visible ASCII character but "#" (its escapes are already the client's). */
const QUERY_SAFE = /[!-"$-~]/;

function quote(value: string, safe: RegExp): string {
  let out = '';
  for (const c of value) {
    out += safe.test(c) ? c : `%${(c.charCodeAt(0) & 0xff).toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Percent-encodes a WSGI string's bytes for a URL path (PEP 3333 "URL Reconstruction" quotes it). */
export function quotePath(value: string): string {
  return quote(value, PATH_SAFE);
}

/** A raw QUERY_STRING made safe for a URL: bytes outside visible ASCII are percent-encoded. */
export function quoteQuery(value: string): string {
  return /^[!-"$-~]*$/.test(value) ? value : quote(value, QUERY_SAFE);
}
