/**
 * buildEnviron: one pure function from a request head and connection facts to the CGI part of the
 * environ (every key whose value is a string). Both backends use it, so a TypeScript app and a Python app
 * see the same environ by construction. The objects (`wsgi.input`, `wsgi.errors`, …) are each backend's.
 */
import type { CgiEnviron } from '../contract/types.js';
import { memoize } from './memo.js';
import { percentDecode, type RequestTarget, splitHostPort } from './request-target.js';

const hostParts = memoize(splitHostPort);

export interface RequestHead {
  readonly method: string;
  /** The request target exactly as received (becomes RAW_URI). */
  readonly rawTarget: string;
  readonly target: RequestTarget;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  readonly protocol: string;
  /** Header names and values as received, flattened: [name0, value0, name1, value1, …]. */
  readonly rawHeaders: readonly string[];
}

export interface ConnectionFacts {
  /** The peer's address; '' for a Unix socket (as Gunicorn does). */
  readonly remoteAddress: string;
  /** The peer's port; '' when there is none. */
  readonly remotePort: string;
  /** The bound address (host or socket path) and port, used when the request names no host. */
  readonly serverName: string;
  readonly serverPort: string;
  /** `http` or `https`. */
  readonly scheme: string;
  /**
   * `--proxy-protocol`, when the header named the connection: as in Gunicorn, PROXY_PROTOCOL (`TCP4`,
   * `TCP6`) and PROXY_ADDR / PROXY_PORT, the address the client connected to at the proxy.
   */
  readonly proxy?: { readonly protocol: string; readonly address: string; readonly port: string };
}

export interface EnvironOptions {
  /** The application's mount point (`--root-path` / SCRIPT_NAME), '' when mounted at the root. */
  readonly scriptName: string;
}

/** `Content-Type` → `HTTP_CONTENT_TYPE` style keys, remembered: header names repeat across requests. */
const keyCache = new Map<string, string | null>();
const KEY_CACHE_LIMIT = 2048;

/**
 * The environ key for a header name, or null when the header is not passed on: names with `_` are
 * dropped so `X_User` cannot pose as `X-User` (Gunicorn's header_map=drop).
 */
export function headerKey(name: string): string | null {
  const cached = keyCache.get(name);
  if (cached !== undefined) return cached;
  let key: string | null;
  if (name.includes('_')) key = null;
  else {
    const upper = name.toUpperCase().replace(/-/g, '_');
    key = upper === 'CONTENT_TYPE' || upper === 'CONTENT_LENGTH' ? upper : `HTTP_${upper}`;
  }
  if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
  keyCache.set(name, key);
  return key;
}

/** Builds the CGI keys of the environ (PEP 3333 "environ Variables", plus Gunicorn's RAW_URI/REMOTE_PORT). */
export function buildEnviron(head: RequestHead, conn: ConnectionFacts, options: EnvironOptions): CgiEnviron {
  const env: CgiEnviron = {};
  const raw = head.rawHeaders;
  // Headers first, so the fixed keys below can never be overwritten by a header of the same name.
  for (let i = 0; i < raw.length; i += 2) {
    const key = headerKey(raw[i]!);
    if (key === null) continue;
    const value = raw[i + 1]!;
    const prior = env[key];
    // RFC 9110 §5.3: repeated fields combine with commas (Gunicorn and wsgiref join with ",").
    env[key] = prior === undefined ? value : `${prior},${value}`;
  }

  const target = head.target;
  let pathInfo = percentDecode(target.path);
  let scriptName = '';
  const mount = options.scriptName;
  if (mount !== '' && (pathInfo === mount || pathInfo.startsWith(`${mount}/`))) {
    scriptName = mount;
    pathInfo = pathInfo.slice(mount.length);
  }

  // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
  const hostValue = target.authority ?? env.HTTP_HOST;
  const host = hostValue === undefined || hostValue === '' ? null : hostParts(hostValue);
  let serverName = conn.serverName;
  let serverPort = conn.serverPort;
  if (host !== null) {
    serverName = host.name;
    serverPort = host.port !== '' ? host.port : conn.scheme === 'https' ? '443' : '80';
  }
  if (target.authority !== null) env.HTTP_HOST = target.authority;

  env.REQUEST_METHOD = head.method;
  env.SCRIPT_NAME = scriptName;
  env.PATH_INFO = pathInfo;
  env.QUERY_STRING = target.query;
  env.RAW_URI = head.rawTarget;
  env.SERVER_NAME = serverName;
  env.SERVER_PORT = serverPort;
  env.SERVER_PROTOCOL = head.protocol;
  env.REMOTE_ADDR = conn.remoteAddress;
  if (conn.remotePort !== '') env.REMOTE_PORT = conn.remotePort;
  const proxy = conn.proxy;
  if (proxy !== undefined) {
    env.PROXY_PROTOCOL = proxy.protocol;
    env.PROXY_ADDR = proxy.address;
    env.PROXY_PORT = proxy.port;
  }
  env['wsgi.url_scheme'] = conn.scheme;
  return env;
}

/** Request headers a refused request's log line may show (Gunicorn's default format and the JSON one). */
const REFUSED_HEADERS: Readonly<Record<string, string>> = {
  'user-agent': 'HTTP_USER_AGENT',
  referer: 'HTTP_REFERER',
  'x-request-id': 'HTTP_X_REQUEST_ID',
};

/**
 * What the access log knows of a request the server refused itself, before any app: the request line as
 * far as it was read (`-` for what was not), the peer, and the few headers the default formats show.
 * Pure; never given to an app.
 */
export function refusedEnviron(
  method: string,
  rawTarget: string,
  protocol: string,
  conn: ConnectionFacts,
  rawHeaders: readonly string[] = [],
): CgiEnviron {
  const env: Record<string, string> = {
    REQUEST_METHOD: method,
    RAW_URI: rawTarget,
    SERVER_PROTOCOL: protocol,
    REMOTE_ADDR: conn.remoteAddress,
    REMOTE_PORT: conn.remotePort,
  };
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const key = REFUSED_HEADERS[rawHeaders[i]!.toLowerCase()];
    if (key !== undefined && env[key] === undefined) env[key] = rawHeaders[i + 1]!;
  }
  return env as CgiEnviron;
}

/** RFC 9112 §3: `method SP request-target SP HTTP-version`, at the start of what a refused client sent. */
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}) ([^ \r\n]{1,8190}) (HTTP\/\d\.\d)\r?\n/;

/**
 * The request line of bytes llhttp refused (its error's `rawPacket`, read as latin-1), or dashes when
 * they do not start with one (the error came later in the head, or the line is not one at all).
 */
export function refusedRequestLine(raw: string): { method: string; target: string; protocol: string } {
  const m = REQUEST_LINE.exec(raw);
  return m === null
    ? { method: '-', target: '-', protocol: '-' }
    : { method: m[1]!, target: m[2]!, protocol: m[3]! };
}
