/**
 * Slow-loris clients: connections that send a request head one byte every 100 ms and never finish it,
 * held open for the whole measured run (one that the server closes is opened again, so the pressure
 * stays). A server whose workers read requests themselves loses a worker to each; nodicorn's front holds
 * them in Node without touching a Python worker.
 */
import net from 'node:net';

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
