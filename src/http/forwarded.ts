/**
 * Proxy headers: what a trusted reverse proxy (Nginx, Apache, HAProxy) says about the client. From a peer
 * in `--forwarded-allow-ips` (IPs and CIDRs; Unix-socket peers are trusted, as in Gunicorn), the RFC 7239
 * `Forwarded` header, else `X-Forwarded-For/-Proto/-Host/-Prefix`, set REMOTE_ADDR, wsgi.url_scheme, the
 * host and SCRIPT_NAME. From any other peer these headers are removed from the environ, so an app cannot be
 * fooled into trusting them either (mod_wsgi CVE-2022-2255). Each header's last entry is used: it is the
 * one the trusted proxy itself added.
 *
 * Only one family is read, the one the proxy is known to set (`--forwarded-headers`): X-Forwarded-* by
 * default, as Nginx, Apache and HAProxy configurations set them. A proxy passes on a header it was not
 * told to set, so reading both would let a client forge the family the proxy leaves alone (a `Forwarded:
 * for=…` through a stock Nginx config). The other family is removed even from trusted peers.
 */
import { BlockList, isIP } from 'node:net';
import type { CgiEnviron } from '../contract/types.js';
import { splitHostPort } from './request-target.js';

const X_FORWARDED_KEYS = [
  'HTTP_X_FORWARDED_FOR',
  'HTTP_X_FORWARDED_PROTO',
  'HTTP_X_FORWARDED_HOST',
  'HTTP_X_FORWARDED_PREFIX',
] as const;
const PROXY_KEYS = ['HTTP_FORWARDED', ...X_FORWARDED_KEYS] as const;

/** Which proxy headers are read: the de-facto X-Forwarded-* set, or RFC 7239's Forwarded. */
export const FORWARDED_FAMILIES = ['x-forwarded', 'forwarded'] as const;
export type ForwardedFamily = (typeof FORWARDED_FAMILIES)[number];

export interface ProxyTrust {
  /** Whether `address` (a peer IP; '' for a Unix socket) may set the proxy headers. */
  trusts(address: string): boolean;
  /** The header family a trusted peer's values are read from. */
  readonly family: ForwardedFamily;
}

/** `127.0.0.1,::1,10.0.0.0/8` or `*`. Throws for an entry that is not an IP or a CIDR. */
export function parseProxyTrust(
  spec: readonly string[],
  family: ForwardedFamily = 'x-forwarded',
): ProxyTrust {
  if (spec.includes('*')) return { trusts: () => true, family };
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
    trusts: (address) => {
      if (address === '') return true;
      const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
      const plain = v4mapped?.[1] ?? address;
      return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

const last = (value: string) => value.slice(value.lastIndexOf(',') + 1).trim();

/** The parameters of the last element of an RFC 7239 Forwarded header. */
export function lastForwarded(value: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const pair of last(value).split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim().toLowerCase();
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    params[name] = v;
  }
  return params;
}

/** Applies (trusted peer) or strips (anyone else) the proxy headers in `env`, in place. */
export function applyProxyHeaders(env: CgiEnviron, trust: ProxyTrust): void {
  if (!PROXY_KEYS.some((key) => key in env)) return;
  if (!trust.trusts(env.REMOTE_ADDR ?? '')) {
    for (const key of PROXY_KEYS) delete env[key];
    return;
  }
  let client: string | undefined;
  let proto: string | undefined;
  let host: string | undefined;
  if (trust.family === 'forwarded') for (const key of X_FORWARDED_KEYS) delete env[key];
  else delete env.HTTP_FORWARDED;
  if (env.HTTP_FORWARDED !== undefined) {
    const f = lastForwarded(env.HTTP_FORWARDED);
    client = f.for?.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1');
    proto = f.proto;
    host = f.host;
  } else {
    if (env.HTTP_X_FORWARDED_FOR !== undefined) client = last(env.HTTP_X_FORWARDED_FOR);
    if (env.HTTP_X_FORWARDED_PROTO !== undefined) proto = last(env.HTTP_X_FORWARDED_PROTO);
    if (env.HTTP_X_FORWARDED_HOST !== undefined) host = last(env.HTTP_X_FORWARDED_HOST);
  }
  if (client !== undefined && isIP(client) !== 0) {
    env.REMOTE_ADDR = client;
    delete env.REMOTE_PORT;
  }
  const scheme = proto?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') env['wsgi.url_scheme'] = scheme;
  const parts = host === undefined ? null : splitHostPort(host);
  if (parts !== null && host !== undefined && parts.name !== '') {
    env.HTTP_HOST = host;
    env.SERVER_NAME = parts.name;
    env.SERVER_PORT = parts.port !== '' ? parts.port : env['wsgi.url_scheme'] === 'https' ? '443' : '80';
  } else if (
    scheme !== undefined &&
    env.HTTP_HOST !== undefined &&
    splitHostPort(env.HTTP_HOST)?.port === ''
  ) {
    env.SERVER_PORT = env['wsgi.url_scheme'] === 'https' ? '443' : '80';
  }
  const prefix = env.HTTP_X_FORWARDED_PREFIX;
  if (prefix !== undefined) {
    const clean = last(prefix).replace(/\/+$/, '');
    if (clean === '' || (clean.startsWith('/') && !/[\x00-\x1f]/.test(clean)))
      env.SCRIPT_NAME = clean + env.SCRIPT_NAME;
  }
}
