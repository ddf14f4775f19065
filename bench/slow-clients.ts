/**
 * Slow-loris clients: connections that send a request head one byte every 100 ms and never finish it,
 * held open for the whole measured run (one that the server closes is opened again, so the pressure
 * stays). A server whose workers read requests themselves loses a worker to each; nodicorn's front holds
 * them in Node without touching a Python worker.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { PYTHON, repo } from './servers.js';

export interface SlowClients {
  /** Ends every connection; tells how many the server closed (and were reopened) meanwhile. */
  stop(): { closedByServer: number };
}

/** The request line and Host first, then a header value that never ends. */
const HEAD = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';

interface Client {
  readonly socket: net.Socket;
  sent: number;
}

export function startSlowClients(port: number, count: number, intervalMs = 100): SlowClients {
  const clients = new Set<Client>();
  let closedByServer = 0;
  let stopping = false;
  const open = (): void => {
    const client: Client = { socket: net.connect(port, '127.0.0.1'), sent: 0 };
    clients.add(client);
    client.socket.setNoDelay(true);
    client.socket.on('error', () => {}); // a reset counts as a close
    client.socket.on('data', () => {}); // a 408 or 400 from the server, before it closes
    client.socket.on('close', () => {
      clients.delete(client);
      if (stopping) return;
      closedByServer++;
      setTimeout(open, intervalMs).unref();
    });
  };
  for (let i = 0; i < count; i++) open();
  const timer = setInterval(() => {
    for (const client of clients) {
      if (client.socket.connecting || !client.socket.writable) continue;
      client.socket.write(client.sent < HEAD.length ? HEAD[client.sent]! : 'a');
      client.sent++;
    }
  }, intervalMs);
  return {
    stop() {
      stopping = true;
      clearInterval(timer);
      for (const client of clients) client.socket.destroy();
      clients.clear();
      return { closedByServer };
    },
  };
}

export interface SlowReaders extends SlowClients {
  /** Resolves once every reader has connected and sent its request (rejects if the readers cannot start). */
  readonly ready: Promise<void>;
  /** Bytes the readers have taken from their sockets so far, all together (as of the last tick). */
  consumed(): number;
  /** Reading ticks so far: at most `bytesPerSecond × tickMs / 1000` per reader and tick are ever read. */
  ticks(): number;
}

export interface SlowReaderOptions {
  /** What each reader asks for (a big answer, so the server has to wait for the reader). */
  readonly path: string;
  /** How fast each reader reads (default 1 KiB/s). */
  readonly bytesPerSecond?: number;
  /** How often it reads (default every 100 ms, bytesPerSecond / 10 each time). */
  readonly tickMs?: number;
}

/**
 * Slow readers: connections that each send one complete request for a big answer and then read it at
 * `bytesPerSecond` (1 KiB/s), held open for the whole measured run (one that the server closes, or whose
 * answer ends, is opened again). A server that writes the answer from its worker loses that worker to the
 * reader once the kernel buffers are full; one that absorbs slow clients in front keeps its workers.
 *
 * The sockets live in a Python helper (bench/slow_readers.py) because they need what Node cannot set: a
 * small receive buffer and a real network's MSS. On loopback the server's kernel otherwise sizes its send
 * buffer from the 64 KiB loopback MSS, up to 4 MiB, and a 1 MiB answer never waits for its reader.
 */
export function startSlowReaders(port: number, count: number, options: SlowReaderOptions): SlowReaders {
  const tickMs = options.tickMs ?? 100;
  const child = spawn(
    PYTHON,
    [
      `${repo}bench/slow_readers.py`,
      String(port),
      String(count),
      options.path,
      String(options.bytesPerSecond ?? 1024),
      String(tickMs),
    ],
    // stdin stays open: the helper exits when it closes, so it never outlives the bench
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let last = { consumed: 0, ticks: 0, closed: 0 };
  let stderr = '';
  let settle: { resolve(): void; reject(e: Error): void } | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4096);
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const status = JSON.parse(line) as { ready?: true; consumed?: number; ticks?: number; closed?: number };
    if (status.ready === true) settle?.resolve();
    else last = { consumed: status.consumed ?? 0, ticks: status.ticks ?? 0, closed: status.closed ?? 0 };
  });
  child.on('error', (error) => settle?.reject(error));
  child.on('exit', (code, signal) =>
    settle?.reject(new Error(`slow readers exited (${code ?? signal}) before they were ready: ${stderr}`)),
  );
  ready.catch(() => {}); // whoever awaits it sees the error
  let stopped = false;
  return {
    ready,
    consumed: () => last.consumed,
    ticks: () => last.ticks,
    stop() {
      if (!stopped) {
        stopped = true;
        child.stdin.destroy();
        child.kill('SIGKILL');
      }
      return { closedByServer: last.closed };
    },
  };
}
