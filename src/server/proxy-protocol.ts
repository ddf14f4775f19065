/**
 * PROXY protocol on a listening server (`--proxy-protocol`): each accepted connection must first carry a
 * PROXY header (src/http/proxy-protocol.ts parses it), and only then is it handed to node:http, node:https
 * or node:http2 as if it had just been accepted, with the bytes after the header put back in front.
 * With TLS the header comes before the handshake, so it is read here, below TLS.
 *
 * A connection from a peer outside `--proxy-allow-from`, one whose header is malformed or truncated, and
 * one that sends no complete header within `--header-timeout` is closed without a response: no request on
 * it ever reaches the application (logged at debug level).
 */
import type { Server, Socket } from 'node:net';
import { type ProxyHeader, parseProxyHeader, V2_MAX_LENGTH } from '../http/proxy-protocol.js';
import type { Logger } from '../observability/logger.js';

export interface ProxyProtocolOptions {
  /** Whether a peer (its IP; '' for a Unix socket) may speak PROXY to this server. */
  readonly allowed: (address: string) => boolean;
  /** Milliseconds a connection has to deliver its header. */
  readonly timeoutMs: number;
  /** Called with each connection's header just before the connection is handed on. */
  readonly onHeader: (socket: Socket, header: ProxyHeader) => void;
}

/**
 * Puts the PROXY header reader in front of the server's own connection handling. Returns the
 * connections still waiting for their header, so shutdown can close them.
 */
export function requireProxyHeader(server: Server, options: ProxyProtocolOptions, log: Logger): Set<Socket> {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  // node:http reads a plain socket through its handle and must be told to read what was put back; TLS
  // servers read it themselves when they wrap the socket.
  const plain = !('addContext' in server);
  const waiting = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress ?? '';
    const refuse = (why: string) => {
      log.debug(`closed a connection from ${peer || 'a Unix socket'}: ${why}`);
      waiting.delete(socket);
      clearTimeout(timer);
      socket.destroy();
    };
    if (!options.allowed(peer)) {
      socket.destroy();
      log.debug(`closed a connection from ${peer}: not in --proxy-allow-from`);
      return;
    }
    waiting.add(socket);
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => refuse('no complete PROXY header in time'), options.timeoutMs);
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const parsed = parseProxyHeader(received);
      if (parsed.status === 'incomplete') {
        if (received.length > V2_MAX_LENGTH) refuse('PROXY header too long');
        return;
      }
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      if (parsed.status === 'invalid') return refuse(parsed.reason);
      socket.pause();
      clearTimeout(timer);
      waiting.delete(socket);
      if (received.length > parsed.length) socket.unshift(received.subarray(parsed.length));
      options.onHeader(socket, parsed.header);
      for (const handler of handlers) handler.call(server, socket);
      if (plain) socket.resume();
    };
    const onEnd = () => refuse('closed before a complete PROXY header');
    const onError = (error: Error) => refuse(error.message);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
  });
  return waiting;
}
