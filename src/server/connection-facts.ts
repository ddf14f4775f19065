/**
 * What the environ takes from a connection (environ.ts ConnectionFacts): the peer, the bound address, the
 * scheme. Read once per connection and kept with its socket, so a keep-alive connection's requests share
 * one object; `--proxy-protocol` replaces them with what the PROXY header said.
 */
import type { AddressInfo, Socket } from 'node:net';
import type { ConnectionFacts } from '../http/environ.js';

const factsBySocket = new WeakMap<Socket, ConnectionFacts>();

/**
 * A TLS socket's facts may have been set on the TCP socket under it (by the PROXY header): the first
 * request on a connection looks there (node:tls keeps the wrapped socket as `_parent`).
 */
function wrappedFacts(socket: Socket): ConnectionFacts | undefined {
  const parent = (socket as Socket & { _parent?: Socket | null })._parent;
  const facts = parent == null ? undefined : factsBySocket.get(parent);
  if (facts !== undefined) factsBySocket.set(socket, facts);
  return facts;
}

/** The one address a listener is bound to, when it is not a wildcard: every connection's local address. */
export interface BoundAddress {
  readonly name: string;
  readonly port: string;
}

/** `server.address()` as a BoundAddress; null for a wildcard (0.0.0.0, ::) or a Unix socket. */
export function boundAddress(address: AddressInfo | string | null): BoundAddress | null {
  if (address === null || typeof address === 'string') return null;
  if (address.address === '0.0.0.0' || address.address === '::') return null;
  return { name: address.address, port: String(address.port) };
}

/**
 * The facts of a TCP (or TLS) connection. With `bound`, the local address is the listener's and costs no
 * getsockname() (a system call per connection, a tenth of what node:http spends on a short connection).
 */
export function connectionFacts(socket: Socket, bound: BoundAddress | null = null): ConnectionFacts {
  let facts = factsBySocket.get(socket) ?? wrappedFacts(socket);
  if (facts === undefined) {
    const remotePort = socket.remotePort;
    const localPort = bound === null ? socket.localPort : undefined;
    facts = {
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: remotePort === undefined ? '' : String(remotePort),
      serverName: bound?.name ?? socket.localAddress ?? '',
      serverPort: bound?.port ?? (localPort === undefined ? '' : String(localPort)),
      scheme: 'encrypted' in socket ? 'https' : 'http',
    };
    factsBySocket.set(socket, facts);
  }
  return facts;
}

/** The facts of a connection to the Unix socket at `path`: no peer address, the path as server name. */
export function unixFacts(socket: Socket, path: string): ConnectionFacts {
  let facts = factsBySocket.get(socket) ?? wrappedFacts(socket);
  if (facts === undefined) {
    facts = { remoteAddress: '', remotePort: '', serverName: path, serverPort: '', scheme: 'http' };
    factsBySocket.set(socket, facts);
  }
  return facts;
}

/** What the connection's requests see from now on (the PROXY header's addresses). */
export function setConnectionFacts(socket: Socket, facts: ConnectionFacts): void {
  factsBySocket.set(socket, facts);
}
