/**
 * The /metrics endpoint on its own server, so it is never reachable through the application's binds
 * (`--metrics-bind`, and `metrics_bind` of a mounted app).
 */
import http from 'node:http';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { listen, parseBind, type SocketFileOptions } from './binds.js';
import { answerHealth } from './health.js';

/**
 * Serves `metrics` at /metrics on `bindText`; resolves once it listens, with the address as logged. It
 * answers --health-path too, for probes that should not go through the application's port.
 */
export async function serveMetrics(
  metrics: Metrics,
  bindText: string,
  socketFile: SocketFileOptions,
  healthPath: string | null,
  healthy: () => boolean,
  log: Logger,
): Promise<{ server: http.Server; address: string }> {
  const server = http.createServer((req, res) => {
    if (req.url === healthPath) return answerHealth(req, res, healthy());
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.render().then(
      (body) => {
        res.writeHead(200, {
          'Content-Type': metrics.contentType,
          'Content-Length': Buffer.byteLength(body),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        log.error(`/metrics failed: ${error instanceof Error ? error.message : String(error)}`);
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics failed\n');
      },
    );
  });
  return { server, address: await listen(server, parseBind(bindText), 'http', socketFile) };
}
