/**
 * Proxy headers: what a trusted reverse proxy (Nginx, Apache, HAProxy) says about the client. From a peer
 * in `--forwarded-allow-ips` (IPs and CIDRs; Unix-socket peers are trusted, as in Gunicorn, and the socket
 * is created 0660 so that only the proxy's user or group can connect), the RFC 7239 `Forwarded` header,
 * else `X-Forwarded-*`, set REMOTE_ADDR, wsgi.url_scheme and, when asked for, the host, the port and
 * SCRIPT_NAME. From any other peer these headers are removed from the environ, so an app cannot be fooled
 * into trusting them either (mod_wsgi CVE-2022-2255).
 *
 * Which fields are believed is `--forwarded-trust`, and by default only the client and the scheme (`for`,
 * `proto`), as Werkzeug's ProxyFix (x_host=0, x_prefix=0) and Gunicorn (scheme only): a proxy passes on
 * any header it was not told to set, so the usual Nginx config (Host, X-Forwarded-For, -Proto) lets a
 * client's own X-Forwarded-Host or -Prefix through, and believing them poisons every absolute URL the app
 * builds (password-reset links) and bypasses Django's ALLOWED_HOSTS. A field not believed has its header
 * removed, for the same reason. Each field has a count, ProxyFix's: the number of proxies in front that
 * each add an entry, so the value used is the count-th from the end (the last, the one the proxy nearest
 * to nodicorn added, by default). With fewer entries than that, the field is left alone.
 *
 * Only one family is read, the one the proxy is known to set (`--forwarded-headers`): X-Forwarded-* by
 * default, as Nginx, Apache and HAProxy configurations set them. A proxy passes on a header it was not
 * told to set, so reading both would let a client forge the family the proxy leaves alone (a `Forwarded:
 * for=…` through a stock Nginx config). The other family is removed even from trusted peers. RFC 7239 has
 * no parameter for a port or a prefix: those two are read from X-Forwarded-Port and X-Forwarded-Prefix in
 * either family, when believed.
 */
import { BlockList, isIP } from 'node:net';
import type { CgiEnviron } from '../contract/types.js';
import { splitHostPort } from './request-target.js';

/** The fields a proxy header can carry, each with its X-Forwarded-* header's environ key. */
const FIELD_KEYS = {
  for: 'HTTP_X_FORWARDED_FOR',
  proto: 'HTTP_X_FORWARDED_PROTO',
  host: 'HTTP_X_FORWARDED_HOST',
  port: 'HTTP_X_FORWARDED_PORT',
  prefix: 'HTTP_X_FORWARDED_PREFIX',
} as const;
export type ForwardedField = keyof typeof FIELD_KEYS;
export const FORWARDED_FIELDS = Object.keys(FIELD_KEYS) as ForwardedField[];
/** How many proxies' entries each field is believed through; 0: not believed, its header removed. */
export type FieldTrust = Readonly<Record<ForwardedField, number>>;

const X_FORWARDED_KEYS = Object.values(FIELD_KEYS);
const PROXY_KEYS = ['HTTP_FORWARDED', ...X_FORWARDED_KEYS] as const;

/** `--forwarded-trust`'s default: the client address and the scheme, through one proxy. */
export const DEFAULT_FORWARDED_TRUST: readonly string[] = Object.freeze(['for', 'proto']);

/**
 * `for,proto`, `for=2,proto=2,host,prefix`: the fields believed, each through N proxies (default 1).
 * `none` believes nothing. Throws for an unknown field or a bad count.
 */
export function parseFieldTrust(entries: readonly string[]): FieldTrust {
  const trust: Record<ForwardedField, number> = { for: 0, proto: 0, host: 0, port: 0, prefix: 0 };
  for (const entry of entries) {
    const t = entry.trim().toLowerCase();
    if (t === 'none' && entries.length === 1) break;
    const m = /^([a-z]+)(?:=(\d{1,2}))?$/.exec(t);
    const field = m?.[1] as ForwardedField | undefined;
    if (m === null || field === undefined || !(field in FIELD_KEYS))
      throw new Error(
        `not a proxy header field: ${JSON.stringify(entry)} (expected ${FORWARDED_FIELDS.join(', ')}, each optionally =N, or none)`,
      );
    const count = m[2] === undefined ? 1 : Number(m[2]);
    if (count < 1) throw new Error(`${JSON.stringify(entry)}: the number of proxies is at least 1`);
    trust[field] = count;
  }
  return Object.freeze(trust);
}

/** Which proxy headers are read: the de-facto X-Forwarded-* set, or RFC 7239's Forwarded. */
export const FORWARDED_FAMILIES = ['x-forwarded', 'forwarded'] as const;
export type ForwardedFamily = (typeof FORWARDED_FAMILIES)[number];

export interface ProxyTrust {
  /** Whether `address` (a peer IP; '' for a Unix socket) may set the proxy headers. */
  trusts(address: string): boolean;
  /** The header family a trusted peer's values are read from. */
  readonly family: ForwardedFamily;
  /** Which fields a trusted peer is believed for (`--forwarded-trust`). */
  readonly fields: FieldTrust;
}

/** `127.0.0.1,::1,10.0.0.0/8` or `*`. Throws for an entry that is not an IP or a CIDR. */
export function parseProxyTrust(
  spec: readonly string[],
  family: ForwardedFamily = 'x-forwarded',
  believed: readonly string[] = DEFAULT_FORWARDED_TRUST,
): ProxyTrust {
  const fields = parseFieldTrust(believed);
  if (spec.includes('*')) return { trusts: () => true, family, fields };
  const list = new BlockList();
  for (const entry of spec) {
    const [address, bits] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
      throw new Error(`not an IP address or CIDR: ${JSON.stringify(entry)}`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(bits), type);
  }
  return {
    family,
    fields,
    trusts: (address) => {
      if (address === '') return true;
      const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
      const plain = v4mapped?.[1] ?? address;
      return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** The `n`-th entry from the end of a comma-separated header (1: the last), or undefined. */
function fromEnd(value: string, n: number): string | undefined {
  const entries = value.split(',');
  const entry = entries[entries.length - n];
  return entry === undefined ? undefined : entry.trim();
}

/** The parameters of one element of an RFC 7239 Forwarded header (names lower-cased, quotes removed). */
function forwardedParams(element: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim().toLowerCase();
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    params[name] = v;
  }
  return params;
}

/** The parameters of the last element of an RFC 7239 Forwarded header. */
export function lastForwarded(value: string): Record<string, string> {
  return forwardedParams(fromEnd(value, 1)!);
}

/** RFC 7239 §6: a node is `IPv4`, `"[IPv6]"` or either with a port; the address alone. */
const forwardedNode = (node: string) =>
  node.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1');

/** Applies (trusted peer) or strips (anyone else) the proxy headers in `env`, in place. */
export function applyProxyHeaders(env: CgiEnviron, trust: ProxyTrust): void {
  if (!PROXY_KEYS.some((key) => key in env)) return;
  if (!trust.trusts(env.REMOTE_ADDR ?? '')) {
    for (const key of PROXY_KEYS) delete env[key];
    return;
  }
  const n = trust.fields;
  let client: string | undefined;
  let proto: string | undefined;
  let host: string | undefined;
  if (trust.family === 'forwarded') {
    // RFC 7239 has no port or prefix parameter: those come from X-Forwarded-Port/-Prefix, when believed.
    for (const field of ['for', 'proto', 'host'] as const) delete env[FIELD_KEYS[field]];
    const forwarded = env.HTTP_FORWARDED;
    if (forwarded !== undefined) {
      // Each proxy adds one element; the count says whose element each parameter is taken from.
      const param = (name: 'for' | 'proto' | 'host') => {
        if (n[name] === 0) return undefined;
        const element = fromEnd(forwarded, n[name]);
        return element === undefined ? undefined : forwardedParams(element)[name];
      };
      client = param('for');
      if (client !== undefined) client = forwardedNode(client);
      proto = param('proto');
      host = param('host');
    }
  } else {
    delete env.HTTP_FORWARDED;
    const value = (field: 'for' | 'proto' | 'host') => {
      const header = env[FIELD_KEYS[field]];
      return header === undefined || n[field] === 0 ? undefined : fromEnd(header, n[field]);
    };
    client = value('for');
    proto = value('proto');
    host = value('host');
  }
  // A header nodicorn does not believe is not left for the app to believe instead.
  for (const field of FORWARDED_FIELDS) if (n[field] === 0) delete env[FIELD_KEYS[field]];

  if (client !== undefined && isIP(client) !== 0) {
    env.REMOTE_ADDR = client;
    delete env.REMOTE_PORT;
  }
  const scheme = proto?.toLowerCase();
  const schemeSet = scheme === 'http' || scheme === 'https';
  if (schemeSet) env['wsgi.url_scheme'] = scheme;
  const defaultPort = () => (env['wsgi.url_scheme'] === 'https' ? '443' : '80');
  const parts = host === undefined ? null : splitHostPort(host);
  if (parts !== null && host !== undefined && parts.name !== '') {
    env.HTTP_HOST = host;
    env.SERVER_NAME = parts.name;
    env.SERVER_PORT = parts.port !== '' ? parts.port : defaultPort();
  } else if (schemeSet && env.HTTP_HOST !== undefined && splitHostPort(env.HTTP_HOST)?.port === '') {
    env.SERVER_PORT = defaultPort();
  }
  const portHeader = env.HTTP_X_FORWARDED_PORT;
  const port = portHeader === undefined || n.port === 0 ? undefined : fromEnd(portHeader, n.port);
  if (port !== undefined && /^\d{1,5}$/.test(port) && Number(port) <= 65535) {
    // As ProxyFix's x_port: the port replaces the one in Host too, so URLs built from either agree.
    env.SERVER_PORT = port;
    const current = env.HTTP_HOST === undefined ? null : splitHostPort(env.HTTP_HOST);
    if (current !== null && current.name !== '') env.HTTP_HOST = `${current.name}:${port}`;
  }
  const prefixHeader = env.HTTP_X_FORWARDED_PREFIX;
  const prefix = prefixHeader === undefined || n.prefix === 0 ? undefined : fromEnd(prefixHeader, n.prefix);
  if (prefix !== undefined) {
    const clean = prefix.replace(/\/+$/, '');
    if (clean === '' || (clean.startsWith('/') && !/[\x00-\x1f]/.test(clean)))
      env.SCRIPT_NAME = clean + env.SCRIPT_NAME;
  }
}
