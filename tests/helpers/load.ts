/** A small, bounded load generator for lifecycle tests: N keep-alive clients looping over GET requests. */
import http from 'node:http';

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  /** Failure descriptions (status codes or error codes), for assertion messages. */
  readonly failures: string[];
}

/** The failure recorded for a request sent on a kept-alive connection that the server had just closed. */
export const STALE_CONNECTION = 'ECONNRESET on a reused keep-alive connection';

export async function runLoad(
  port: number,
  path: string,
  options: {
    connections: number;
    durationMs: number;
    maxRequests?: number;
    /** Clients stop sending once it is aborted. */
    signal?: AbortSignal;
    /** Called at each complete response (any status). */
    onResponse?: () => void;
  },
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const deadline = Date.now() + options.durationMs;
  const cap = options.maxRequests ?? 100_000;
  let sent = 0;
  let ok = 0;
  const failures: string[] = [];
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          options.onResponse?.();
          if (res.statusCode === 200) ok++;
          else failures.push(`status ${res.statusCode}`);
          resolve();
        });
        res.on('error', (e: NodeJS.ErrnoException) => {
          failures.push(e.code ?? e.message);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A reset of an idle keep-alive connection the server closed as the request went out: the server
        // never saw the request (HTTP/1.1's keep-alive race; Node's docs say to retry it), told apart.
        failures.push(req.reusedSocket && e.code === 'ECONNRESET' ? STALE_CONNECTION : (e.code ?? e.message));
        resolve();
      });
    });
  const client = async () => {
    while (Date.now() < deadline && sent < cap && options.signal?.aborted !== true) {
      sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: options.connections }, client));
  agent.destroy();
  return { ok, failed: failures.length, failures };
}

/**
 * runLoad, and `loaded`: resolves once `responses` responses came back, i.e. the load is under way (what a
 * test waits for before a signal, instead of a guessed pause).
 */
export function loadUnderWay(
  port: number,
  path: string,
  responses: number,
  options: Parameters<typeof runLoad>[2],
): { load: Promise<LoadResult>; loaded: Promise<void> } {
  let seen = 0;
  let reached!: () => void;
  const loaded = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const load = runLoad(port, path, {
    ...options,
    onResponse: () => {
      options.onResponse?.();
      if (++seen === responses) reached();
    },
  });
  return { load, loaded };
}

/** GET a path and return status + body text (fresh connection). */
export async function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('latin1'),
          headers: res.headers,
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
