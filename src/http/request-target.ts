/**
 * RFC 9112 §3.2 request targets, taken apart into what the environ needs. Pure.
 *
 * PEP 3333 wants PATH_INFO as a "WSGI string": the percent-decoded *bytes* of the path, each byte shown as
 * the latin-1 character with the same value. Node hands us the target as a latin-1 string already (one
 * character per byte received), so decoding `%XX` into the character with code XX keeps that invariant.
 */

export interface RequestTarget {
  /** The path, still percent-encoded, without query or fragment. `*` for asterisk-form. */
  readonly path: string;
  /** The raw query string, without the `?`. */
  readonly query: string;
  /** The authority of an absolute-form target (`http://host:port/...`), which overrides Host. */
  readonly authority: string | null;
}

/** Splits a request target; returns null when it is not a form this server accepts for `method`. */
export function parseRequestTarget(target: string, method: string): RequestTarget | null {
  const first = target.charCodeAt(0);
  if (first === 0x2f /* / */) return splitOrigin(target, null);
  if (target === '*') return method === 'OPTIONS' ? { path: '*', query: '', authority: null } : null;
  if (method === 'CONNECT') return null; // authority-form: this is not a proxy
  // absolute-form, RFC 9112 §3.2.2: scheme "://" authority path-abempty [ "?" query ]
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(target);
  if (m === null) return null;
  const rest = target.slice(m[0].length);
  const authority = hostOfAuthority(m[1] ?? '');
  if (authority === null) return null;
  if (rest === '' || rest.charCodeAt(0) !== 0x2f) {
    return splitOrigin(`/${rest}`, authority);
  }
  return splitOrigin(rest, authority);
}

/**
 * The `host[:port]` of an absolute-form target's authority, without its userinfo (RFC 9110 §4.2.4: it is
 * deprecated in http(s) URIs and never names the host); null when what is left is not a valid host and
 * port (RFC 3986 §3.2.2), or is empty (RFC 9110 §4.2.1).
 */
function hostOfAuthority(authority: string): string | null {
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  const parts = host === '' ? null : splitHostPort(host);
  return parts === null || parts.name === '' ? null : host;
}

function splitOrigin(target: string, authority: string | null): RequestTarget {
  let end = target.length;
  const hash = target.indexOf('#');
  if (hash !== -1) end = hash;
  const q = target.indexOf('?');
  if (q !== -1 && q < end) return { path: target.slice(0, q), query: target.slice(q + 1, end), authority };
  return { path: end === target.length ? target : target.slice(0, end), query: '', authority };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x57;
  return -1;
}

/**
 * Percent-decodes once (never twice: `%2541` gives `%41`). `%2F` becomes `/` like every other escape, as
 * Gunicorn and wsgiref do. A `%` not followed by two hex digits stays as it is.
 */
export function percentDecode(path: string): string {
  let pct = path.indexOf('%');
  if (pct === -1) return path;
  let out = '';
  let from = 0;
  while (pct !== -1) {
    const hi = hexValue(path.charCodeAt(pct + 1));
    const lo = hi === -1 ? -1 : hexValue(path.charCodeAt(pct + 2));
    if (lo !== -1) {
      out += path.slice(from, pct) + String.fromCharCode(hi * 16 + lo);
      from = pct + 3;
      pct = path.indexOf('%', from);
    } else {
      pct = path.indexOf('%', pct + 1);
    }
  }
  return out + path.slice(from);
}

const IP_LITERAL = /^\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9._~!$&'()*+,;=:-]+)\]$/;

/** Splits `host[:port]` or `[v6]:port`; null when it is not a valid Host value. */
export function splitHostPort(value: string): { name: string; port: string } | null {
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    // RFC 3986 §3.2.2 IP-literal: an IPv6 address (hex digits, colons, an IPv4 tail) or IPvFuture.
    if (close === -1 || !IP_LITERAL.test(value.slice(0, close + 1))) return null;
    const after = value.slice(close + 1);
    if (after !== '' && !/^:\d*$/.test(after)) return null;
    return { name: value.slice(0, close + 1), port: after.slice(1) };
  }
  const colon = value.lastIndexOf(':');
  const name = colon === -1 ? value : value.slice(0, colon);
  const port = colon === -1 ? '' : value.slice(colon + 1);
  // RFC 3986 reg-name / IPv4 characters only: no spaces, slashes, @ or control characters.
  if (!/^[A-Za-z0-9._~!$&'()*+,;=%-]*$/.test(name) || !/^\d*$/.test(port)) return null;
  return { name, port };
}
