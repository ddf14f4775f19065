/**
 * Prometheus metrics, served as text exposition format 0.0.4 on their own bind (`--metrics-bind`), so
 * they are never reachable through the application's port. Off unless asked for: the request path then
 * pays nothing.
 */

import { REQUEST_FINISH, REQUEST_START, type RequestRecord, subscribeFor } from './channels.js';

/** Request latency buckets in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Queue-wait buckets in seconds: most requests wait well under a millisecond when workers keep up. */
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A cumulative Prometheus histogram. */
class Histogram {
  readonly #bounds: readonly number[];
  readonly #buckets: number[];
  count = 0;
  sum = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#buckets = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    for (let i = 0; i < this.#bounds.length; i++) if (value <= this.#bounds[i]!) this.#buckets[i]!++;
  }

  render(name: string, out: string[]): void {
    for (let i = 0; i < this.#bounds.length; i++)
      out.push(`${name}_bucket{le="${this.#bounds[i]}"} ${this.#buckets[i]}`);
    out.push(
      `${name}_bucket{le="+Inf"} ${this.count}`,
      `${name}_sum ${this.sum}`,
      `${name}_count ${this.count}`,
    );
  }
}

export interface PoolStats {
  readonly queued: number;
  readonly workers: number;
  readonly busy: number;
}

export class Metrics {
  readonly #byStatus = new Map<string, number>();
  readonly #restarts = new Map<string, number>();
  readonly #shed = new Map<string, number>();
  readonly #queueWait = new Histogram(WAIT_BUCKETS);
  readonly #buckets = new Array<number>(BUCKETS.length).fill(0);
  #count = 0;
  #sum = 0;
  inFlight = 0;
  /** Set by a backend with a worker pool. */
  pool: (() => PoolStats) | null = null;

  /** One finished request: its status code and duration in seconds. */
  observe(status: number, seconds: number): void {
    const key = String(status);
    this.#byStatus.set(key, (this.#byStatus.get(key) ?? 0) + 1);
    this.#count++;
    this.#sum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.#buckets[i]!++;
  }

  /** How long a request waited for a Python worker, in seconds. */
  queued(seconds: number): void {
    this.#queueWait.observe(seconds);
  }

  /** A request answered 503 by the queue, never reaching the app: queue_full, queue_timeout. */
  shed(reason: string): void {
    this.#shed.set(reason, (this.#shed.get(reason) ?? 0) + 1);
  }

  /** A worker was replaced: crash, timeout, max_requests, memory, reload. */
  restarted(reason: string): void {
    this.#restarts.set(reason, (this.#restarts.get(reason) ?? 0) + 1);
  }

  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    family('nodicorn_requests_total', 'counter', 'Requests answered, by status code.');
    for (const [status, n] of [...this.#byStatus].sort())
      out.push(`nodicorn_requests_total{status="${status}"} ${n}`);
    family(
      'nodicorn_request_duration_seconds',
      'histogram',
      'Time from request head to the end of the response.',
    );
    for (let i = 0; i < BUCKETS.length; i++) {
      out.push(`nodicorn_request_duration_seconds_bucket{le="${BUCKETS[i]}"} ${this.#buckets[i]}`);
    }
    out.push(`nodicorn_request_duration_seconds_bucket{le="+Inf"} ${this.#count}`);
    out.push(
      `nodicorn_request_duration_seconds_sum ${this.#sum}`,
      `nodicorn_request_duration_seconds_count ${this.#count}`,
    );
    family('nodicorn_requests_in_flight', 'gauge', 'Requests received and not yet answered.');
    out.push(`nodicorn_requests_in_flight ${this.inFlight}`);
    const pool = this.pool?.();
    if (pool !== undefined) {
      family('nodicorn_queue_depth', 'gauge', 'Requests waiting for a Python worker.');
      out.push(`nodicorn_queue_depth ${pool.queued}`);
      family('nodicorn_workers', 'gauge', 'Python workers, by state.');
      out.push(
        `nodicorn_workers{state="busy"} ${pool.busy}`,
        `nodicorn_workers{state="idle"} ${pool.workers - pool.busy}`,
      );
      family('nodicorn_worker_restarts_total', 'counter', 'Python workers replaced, by reason.');
      for (const [reason, n] of [...this.#restarts].sort())
        out.push(`nodicorn_worker_restarts_total{reason="${reason}"} ${n}`);
      family('nodicorn_queue_wait_seconds', 'histogram', 'Time requests waited for a Python worker.');
      this.#queueWait.render('nodicorn_queue_wait_seconds', out);
      family(
        'nodicorn_requests_shed_total',
        'counter',
        'Requests answered 503 by the queue (--max-queue, --queue-timeout), by reason.',
      );
      for (const [reason, n] of [...this.#shed].sort())
        out.push(`nodicorn_requests_shed_total{reason="${reason}"} ${n}`);
    }
    return `${out.join('\n')}\n`;
  }
}

/** Counts the requests of `source` into `metrics`; returns the unsubscribe function. */
export function subscribeMetrics(source: object, metrics: Metrics): () => void {
  const started = subscribeFor<RequestRecord>(REQUEST_START, source, () => {
    metrics.inFlight++;
  });
  const finished = subscribeFor<RequestRecord>(REQUEST_FINISH, source, (r) => {
    metrics.inFlight--;
    metrics.observe(r.status, r.durationMs / 1000);
    if (r.queueMs >= 0) metrics.queued(r.queueMs / 1000);
  });
  return () => {
    started();
    finished();
  };
}
