/**
 * The contract between the HTTP front and whatever runs applications: the in-process backend (TypeScript
 * apps) and the Python backend (worker processes). One conformance suite runs against both.
 */
import type { CgiEnviron } from '../contract/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { ResponseWriter, ServerRequest } from './response-writer.js';

/** One request in flight: the parsed request, its environ's CGI keys, and where the response goes. */
export interface Exchange {
  readonly req: ServerRequest;
  readonly environ: CgiEnviron;
  readonly writer: ResponseWriter;
  /** Max request body bytes (0 = unlimited); past it the backend answers 413. */
  readonly bodyLimit: number;
  /** The request body's declared length: 0 for none, -1 for chunked (length unknown until read). */
  readonly bodyLength: number;
}

/**
 * A pool of worker processes that can be replaced and resized: what SIGHUP, SIGTTIN and SIGTTOU do, and
 * the `workers` the server hooks are shown. The Python backend has one; an in-process app has none.
 */
export interface Supervision {
  /** SIGHUP: a new generation of workers loading the code afresh; once it is ready, the old one drains. */
  reload(): void;
  /** SIGTTIN */
  addWorker(): void;
  /** SIGTTOU */
  removeWorker(): void;
  /** The pids of the workers alive now. */
  readonly workerPids: readonly number[];
}

/**
 * What runs applications. The four methods are what every backend does; the optional members are
 * capabilities a backend declares by having them, so that callers ask instead of guessing its class.
 */
export interface Backend {
  /** Gets ready to serve (loads the app, starts workers). Rejects when the app cannot be loaded. */
  start(): Promise<void>;
  /** Serves one request. Never throws: every outcome ends or aborts `exchange.writer`. */
  handle(exchange: Exchange): void;
  /** Whether it can serve now (for --health-path): a TypeScript app always can, a pool needs a live worker. */
  healthy(): boolean;
  /** Stops taking work; resolves when what is in flight has finished or `graceMs` has passed. */
  close(graceMs: number): Promise<void>;
  /** Present when the backend supervises worker processes. */
  readonly supervision?: Supervision;
  /** Present when the backend has series of its own for /metrics (a pool's queue and workers). */
  attachMetrics?(metrics: Metrics): void;
}
