/**
 * `--health-path`: the answer a load balancer's health check gets, from the server itself (the app never
 * sees it). 200 `ok` while the server takes work (for a Python app: at least one worker is alive); 503
 * while it drains after SIGTERM or has no live worker, so the balancer takes this node out of rotation.
 */
import type { OutgoingHttpHeaders } from 'node:http';

const OK = Buffer.from('ok\n');
const UNAVAILABLE = Buffer.from('unavailable\n');

/** What answering needs of a request and a response: node:http's and node:http2's compat objects alike. */
interface Probe {
  readonly method?: string | undefined;
}
interface ProbeResponse {
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  end(): unknown;
  end(body: Buffer): unknown;
}

export function answerHealth(req: Probe, res: ProbeResponse, healthy: boolean): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 });
    res.end();
    return;
  }
  const body = healthy ? OK : UNAVAILABLE;
  res.writeHead(healthy ? 200 : 503, {
    'Content-Type': 'text/plain',
    'Content-Length': body.length,
    // RFC 9111 §5.2.2.5: a probe must reach the server, never a cache.
    'Cache-Control': 'no-store',
  });
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}
