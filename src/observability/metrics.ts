/**
 * Prometheus metrics, served as text exposition format 0.0.4 on their own bind (`--metrics-bind`), so
 * they are never reachable through the application's port. Off unless asked for: the request path then
 * pays nothing.
 *
 * Built on prom-client, the convention for Node services: its default collectors give the process
 * (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, …) and the runtime
 * (`nodejs_eventloop_lag_seconds`, `nodejs_gc_duration_seconds`, `nodejs_heap_size_used_bytes`, …) under
 * the names dashboards expect. They are collected once per Node process, in their own registry; each
 * `Metrics` has a registry of its own for nodicorn's metrics. `snapshot()` returns both as prom-client's
 * JSON, which `AggregatorRegistry.aggregate()` sums across processes (each metric carries its
 * aggregation: counters and gauges summed, `process_start_time_seconds` omitted, …).
 */

import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type Metric,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import { REQUEST_FINISH, REQUEST_START, type RequestRecord, subscribeFor } from './channels.js';

/** Request latency buckets in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Queue-wait buckets in seconds: most requests wait well under a millisecond when workers keep up. */
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface PoolStats {
  readonly queued: number;
  readonly workers: number;
  readonly busy: number;
}

/** What one live Python worker process uses, read when /metrics is scraped. */
export interface WorkerUsage {
  readonly pid: number;
  /** Resident set size in bytes. */
  readonly rssBytes: number;
  /** User plus system CPU time since the worker started, in seconds. */
  readonly cpuSeconds: number;
}

let processRegistry: Registry | undefined;

/**
 * prom-client's default collectors, started once per Node process (they watch GC and the event loop
 * from then on, and cannot be stopped), however many `Metrics` there are.
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  /** nodicorn's own metrics (the process and runtime metrics are in a registry shared by the process). */
  readonly registry = new Registry();
  /** Requests received and not yet answered (moved by `subscribeMetrics`). */
  inFlight = 0;
  readonly #requests: Counter<'status'>;
  readonly #duration: Histogram;
  readonly #restarts: Counter<'reason'>;
  readonly #queueWait: Histogram;
  readonly #shed: Counter<'reason'>;
  /** The pool's metrics, registered once a backend with a pool attaches it. */
  readonly #poolMetrics: readonly Metric[];
  /** Each live worker's memory and CPU, registered once a backend reports its workers' usage. */
  readonly #workerMetrics: readonly Metric[];
  #pool: (() => PoolStats) | null = null;
  #workers: (() => Promise<readonly WorkerUsage[]>) | null = null;
  /** One read of the workers' usage serves both of their metrics in a scrape. */
  #usage: Promise<readonly WorkerUsage[]> | null = null;

  constructor() {
    processMetrics();
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'nodicorn_requests_total',
      help: 'Requests answered, by status code.',
      labelNames: ['status'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'nodicorn_request_duration_seconds',
      help: 'Time from request head to the end of the response.',
      buckets: BUCKETS,
      registers,
    });
    const inFlight = () => this.inFlight;
    new Gauge({
      name: 'nodicorn_requests_in_flight',
      help: 'Requests received and not yet answered.',
      registers,
      collect() {
        this.set(inFlight());
      },
    });

    const pool = () => this.#pool!();
    this.#restarts = new Counter({
      name: 'nodicorn_worker_restarts_total',
      help: 'Python workers replaced, by reason.',
      labelNames: ['reason'],
      registers: [],
    });
    this.#queueWait = new Histogram({
      name: 'nodicorn_queue_wait_seconds',
      help: 'Time requests waited for a Python worker.',
      buckets: WAIT_BUCKETS,
      registers: [],
    });
    this.#shed = new Counter({
      name: 'nodicorn_requests_shed_total',
      help: 'Requests answered 503 by the queue (--max-queue, --queue-timeout), by reason.',
      labelNames: ['reason'],
      registers: [],
    });
    this.#poolMetrics = [
      new Gauge({
        name: 'nodicorn_queue_depth',
        help: 'Requests waiting for a Python worker.',
        registers: [],
        collect() {
          this.set(pool().queued);
        },
      }),
      new Gauge({
        name: 'nodicorn_workers',
        help: 'Python workers, by state.',
        labelNames: ['state'],
        registers: [],
        collect() {
          const { workers, busy } = pool();
          this.set({ state: 'busy' }, busy);
          this.set({ state: 'idle' }, workers - busy);
        },
      }),
      this.#restarts,
      this.#queueWait,
      this.#shed,
    ];

    // Set afresh at each scrape from what the workers use now: a worker gone since is in no series.
    const usage = () => this.#readUsage();
    this.#workerMetrics = [
      new Gauge({
        name: 'nodicorn_worker_resident_memory_bytes',
        help: 'Resident memory of each live Python worker, by pid.',
        labelNames: ['pid'],
        registers: [],
        async collect() {
          const workers = await usage();
          this.reset();
          for (const w of workers) this.set({ pid: w.pid }, w.rssBytes);
        },
      }),
      new Counter({
        name: 'nodicorn_worker_cpu_seconds_total',
        help: 'User and system CPU time of each live Python worker, by pid.',
        labelNames: ['pid'],
        registers: [],
        async collect() {
          const workers = await usage();
          this.reset();
          for (const w of workers) this.inc({ pid: w.pid }, w.cpuSeconds);
        },
      }),
    ];
  }

  /**
   * Called by a backend with a worker pool: the pool's metrics appear from then on. `usage` (the live
   * worker processes, read at each scrape, never per request) becomes one series per live worker,
   * labelled by pid: a worker that has exited is in no scrape after that, so the series scraped stay as
   * many as the workers however often they are replaced.
   */
  attachPool(stats: () => PoolStats, usage?: () => Promise<readonly WorkerUsage[]>): void {
    if (this.#pool === null) for (const m of this.#poolMetrics) this.registry.registerMetric(m);
    this.#pool = stats;
    if (usage === undefined) return;
    if (this.#workers === null) for (const m of this.#workerMetrics) this.registry.registerMetric(m);
    this.#workers = usage;
  }

  /** The workers' usage, read once for the scrape under way (both metrics collect at the same time). */
  #readUsage(): Promise<readonly WorkerUsage[]> {
    this.#usage ??= this.#workers!().finally(() => {
      this.#usage = null;
    });
    return this.#usage;
  }

  /** One finished request: its status code and duration in seconds. */
  observe(status: number, seconds: number): void {
    this.#requests.inc({ status: String(status) });
    this.#duration.observe(seconds);
  }

  /** How long a request waited for a Python worker, in seconds. */
  queued(seconds: number): void {
    this.#queueWait.observe(seconds);
  }

  /** A request answered 503 by the queue, never reaching the app: queue_full, queue_timeout. */
  shed(reason: string): void {
    this.#shed.inc({ reason });
  }

  /** A worker was replaced: crash, timeout, max_requests, memory, reload. */
  restarted(reason: string): void {
    this.#restarts.inc({ reason });
  }

  /** The registries scraped: the process's, then nodicorn's. */
  #registries(): Registry {
    return Registry.merge([processMetrics(), this.registry]);
  }

  /** The exposition text (format 0.0.4) for one scrape. */
  render(): Promise<string> {
    return this.#registries().metrics();
  }

  /**
   * Every metric as prom-client's JSON, for a process that gathers several processes' metrics and sums
   * them with `AggregatorRegistry.aggregate()`.
   */
  snapshot(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return this.#registries().getMetricsAsJSON();
  }

  /** The content type of `render()`'s text. */
  readonly contentType: string = Registry.PROMETHEUS_CONTENT_TYPE;
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
