/** Raw-socket HTTP for tests where exact bytes matter. Bounded in time: every call ends by itself. */
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
