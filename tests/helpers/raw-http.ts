/** Raw-socket HTTP for tests where exact bytes matter. Bounded in time: every call ends by itself. */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

export interface RawResult {
  /** Every byte the server sent. */
  readonly data: Buffer;
  /** Whether the server closed the connection (as opposed to our idle timeout ending the read). */
  readonly closedByServer: boolean;
  readonly text: string;
}

/**
 * Sends `payload` (string as latin-1, or bytes) and collects the reply until the server closes or it has
 * been silent for `idleMs`.
 */
export function rawRequest(
  port: number,
  payload: string | Buffer,
  idleMs = 500,
  host = '127.0.0.1',
  /** Send FIN after the payload, as a client with nothing more to say (the server sees end-of-stream). */
  halfClose = false,
  /** Stop reading as soon as this holds for what arrived (e.g. every expected response is in). */
  done?: (text: string) => boolean,
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ port, host, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let closedByServer = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), idleMs);
    };
    const hardStop = setTimeout(() => socket.destroy(), 15_000);
    socket.on('connect', () => {
      const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
      if (halfClose) socket.end(bytes);
      else socket.write(bytes);
      arm();
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      arm();
      if (done?.(Buffer.concat(chunks).toString('latin1'))) socket.destroy();
    });
    socket.on('end', () => {
      closedByServer = true;
      socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') closedByServer = true;
      else if (chunks.length === 0) reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(hardStop);
      const data = Buffer.concat(chunks);
      resolve({ data, closedByServer, text: data.toString('latin1') });
    });
  });
}

/** The status codes of every response in a raw reply, in order. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/**
 * Bytes a client on `clientPort` sent to 127.0.0.1:`serverPort` that the server has not read yet (the
 * receive queue of the server's end, from /proc/net/tcp); -1 when there is no such connection. A test
 * waits for 0 to know the server has seen what was sent, instead of guessing a pause.
 */
export function unreadByServer(serverPort: number, clientPort: number): number {
  const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === hex(serverPort) && fields[2] === hex(clientPort))
      return Number.parseInt(fields[4]!.split(':')[1]!, 16);
  }
  return -1;
}
