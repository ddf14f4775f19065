/** Listening addresses: parsing Gunicorn-style bind strings and listening on them. */
import { lookup } from 'node:dns/promises';
import { chownSync, lstatSync, unlinkSync } from 'node:fs';
import net, { type AddressInfo, type Server } from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { BindError } from '../errors/registry.js';

export type Bind =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'fd'; readonly fd: number };

/**
 * systemd socket activation (sd_listen_fds): when LISTEN_PID is this process, LISTEN_FDS listening
 * sockets start at fd 3, and they replace --bind, as in Gunicorn.
 */
export function activatedSockets(env: Readonly<Record<string, string | undefined>>, pid: number): string[] {
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count <= 0 || Number(env.LISTEN_PID) !== pid) return [];
  return Array.from({ length: count }, (_, i) => `fd://${3 + i}`);
}

/** `HOST:PORT`, `HOST` (port 8000), `:PORT` (all interfaces), `[V6]:PORT`, `unix:PATH`, `fd://N`. */
export function parseBind(text: string): Bind {
  if (text.startsWith('fd://')) {
    const fd = Number(text.slice(5));
    if (!Number.isInteger(fd) || fd < 0)
      throw new BindError(`bind ${JSON.stringify(text)}: not a file descriptor`);
    return { kind: 'fd', fd };
  }
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (path === '') throw new BindError(`bind ${JSON.stringify(text)}: empty socket path`);
    return { kind: 'unix', path };
  }
  let host: string;
  let portText: string;
  const v6 = /^\[([0-9A-Fa-f:.%a-z]+)\](?::(\d*))?$/.exec(text);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2] ?? '';
  } else {
    const colon = text.lastIndexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? '' : text.slice(colon + 1);
    if (host.includes(':'))
      throw new BindError(`bind ${JSON.stringify(text)}: write IPv6 addresses as [ADDR]:PORT`);
  }
  const port = portText === '' ? 8000 : Number(portText);
  if (!/^\d*$/.test(portText) || port > 65535) throw new BindError(`bind ${JSON.stringify(text)}: bad port`);
  return { kind: 'tcp', host: host === '' ? '0.0.0.0' : host, port };
}

/** How a `unix:` bind's socket file is created (`--socket-mode`, `--umask`, `--user`/`--group` as owner). */
export interface SocketFileOptions {
  readonly umask: number;
  /** `--socket-mode` as a number (0o660 by default); 0o777 when not given (a bare `listen()`). */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

/** How a bound socket is logged: `http://127.0.0.1:8000`, `http://[::1]:8000`, `unix:PATH`, `fd://N`. */
function addressText(bind: Bind, address: AddressInfo | string | null, scheme: string): string {
  // An inherited Unix socket (systemd's ListenStream=PATH) has no name Node can tell: say which fd.
  if (bind.kind === 'fd' && (address === null || typeof address === 'string')) return `fd://${bind.fd}`;
  if (bind.kind === 'unix' || address === null || typeof address === 'string')
    return `unix:${bind.kind === 'unix' ? bind.path : address}`;
  return `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

/** The umask in force while a `unix:` socket file is made: --umask, and --socket-mode through it. */
function socketUmask(socketFile: SocketFileOptions): number {
  return socketFile.umask | (0o777 & ~(socketFile.mode ?? 0o777));
}

function ownSocketFile(path: string, socketFile: SocketFileOptions): void {
  if (socketFile.uid !== undefined || socketFile.gid !== undefined)
    chownSync(path, socketFile.uid ?? -1, socketFile.gid ?? -1);
}

/** Listens and returns the address as a URL-ish string for the log (`http://127.0.0.1:8000`). */
export function listen(
  server: Server,
  bind: Bind,
  scheme = 'http',
  socketFile: SocketFileOptions = { umask: 0 },
  backlog = 2048,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve(addressText(bind, server.address(), scheme));
    };
    if (bind.kind === 'fd') {
      server.listen({ fd: bind.fd }, done);
    } else if (bind.kind === 'unix') {
      removeStaleSocket(bind.path);
      // The socket file is made by the bind inside listen(): its mode is 0777 less the umask in force
      // then, so --socket-mode is set through the umask, never by a chmod after (a window in which
      // anyone may connect). Not Gunicorn's 0777: Unix-socket peers are trusted for proxy headers, so
      // only the server's user and group (the proxy's, as deployed) may connect by default. The file
      // belongs to the --user/--group the server runs as.
      const previous = process.umask(socketUmask(socketFile));
      try {
        server.listen({ path: bind.path, backlog }, () => {
          try {
            ownSocketFile(bind.path, socketFile);
          } catch (error) {
            server.off('error', onError);
            server.close();
            reject(error);
            return;
          }
          done();
        });
      } finally {
        process.umask(previous);
      }
    } else {
      server.listen({ host: bind.host, port: bind.port, backlog }, done);
    }
  });
}

/** A socket file left by a previous run would make listen fail; anything else at that path is kept. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // nothing there
  }
}

/**
 * A socket bound but not listening, made by one process for others to listen on (the primary of several
 * fronts, src/fronts/): node:cluster's way for its SCHED_NONE policy. Only the processes that listen on
 * it accept connections, each from the one queue the kernel keeps for the socket, with nothing between.
 */
export interface BoundSocket {
  /** A libuv TCP or Pipe handle: what `child.send(message, handle)` passes on and `server.listen` takes. */
  readonly handle: object;
  /** As logged (`http://127.0.0.1:8000`, `unix:PATH`, `fd://N`). */
  readonly address: string;
  /** For a `unix:` bind, its path (SERVER_NAME of its requests), else ''. */
  readonly unixPath: string;
}

interface ServerHandle {
  getsockname?(out: Record<string, unknown>): number;
  close(): void;
}
type CreateServerHandle = (
  address: string | null,
  port: number | null,
  addressType: number | null,
  fd?: number,
) => ServerHandle | number;
/** node:net's own binding step (what server.listen() does before listening), exported for node:cluster. */
const createServerHandle = (net as unknown as { _createServerHandle: CreateServerHandle })
  ._createServerHandle;

function bindError(errno: number, what: string): Error {
  const [code, message] = getSystemErrorMap().get(errno) ?? ['UNKNOWN', 'unknown error'];
  return Object.assign(new Error(`listen ${code}: ${message} ${what}`), { code, errno, syscall: 'listen' });
}

/** Binds `bind` as listen() would (the same socket file rules), without listening: see BoundSocket. */
export async function bindSocket(
  bind: Bind,
  scheme = 'http',
  socketFile: SocketFileOptions = { umask: 0 },
): Promise<BoundSocket> {
  let handle: ServerHandle | number;
  let what: string;
  if (bind.kind === 'fd') {
    what = `fd://${bind.fd}`;
    handle = createServerHandle(null, null, null, bind.fd);
  } else if (bind.kind === 'unix') {
    what = bind.path;
    removeStaleSocket(bind.path);
    const previous = process.umask(socketUmask(socketFile));
    try {
      handle = createServerHandle(bind.path, -1, -1);
    } finally {
      process.umask(previous);
    }
    if (typeof handle !== 'number')
      try {
        ownSocketFile(bind.path, socketFile);
      } catch (error) {
        handle.close();
        throw error;
      }
  } else {
    what = `${bind.host}:${bind.port}`;
    // As server.listen() does: a name is looked up, and its first address is bound.
    const found = net.isIP(bind.host) === 0 ? await lookup(bind.host) : null;
    const host = found?.address ?? bind.host;
    handle = createServerHandle(host, bind.port, found?.family ?? net.isIP(host));
  }
  if (typeof handle === 'number') throw bindError(handle, what);
  const name: Record<string, unknown> = {};
  const tcp = handle.getsockname?.(name) === 0 && typeof name.port === 'number';
  return {
    handle,
    address: addressText(bind, tcp ? (name as unknown as AddressInfo) : null, scheme),
    unixPath: bind.kind === 'unix' ? bind.path : '',
  };
}

/** Listens on a socket another process bound (BoundSocket); resolves with its address as logged. */
export function listenOn(server: Server, socket: BoundSocket, backlog = 2048): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket.handle, backlog, () => {
      server.off('error', reject);
      resolve(socket.address);
    });
  });
}
