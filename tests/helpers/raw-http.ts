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
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ port, host });
    const chunks: Buffer[] = [];
    let closedByServer = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), idleMs);
    };
    const hardStop = setTimeout(() => socket.destroy(), 15_000);
    socket.on('connect', () => {
      socket.write(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
      arm();
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      arm();
    });
    socket.on('end', () => {
      closedByServer = true;
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
