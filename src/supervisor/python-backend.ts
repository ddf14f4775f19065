/**
 * The Python backend: a supervised pool of worker processes serving one WSGI app (the `Backend` that the
 * server hands requests to).
 *
 * A request reaches a worker only once its body is fully received (request-body.ts). Requests wait in one
 * FIFO queue and go to the least busy ready worker, so a slow request never holds up the ones behind it
 * while another worker is free. Workers are replaced when they die, time out, reach --max-requests, on
 * SIGHUP (new workers first, then the old ones drain: no request fails) and on source changes (--reload).
 *
 * This file owns the public API and the wiring: finding Python and building the worker launch, start and
 * close (the grace period), signals (reload, TTIN, TTOU), /metrics (each worker's memory and CPU from
 * proc-usage.ts), and the timers that watch the pool (the queue watch; the RSS sampler, rss-sampler.ts)
 * and its sources (--reload, reload-watcher.ts). The pieces it wires together:
 *   - dispatch-queue.ts: the FIFO of requests, the pump to workers, queue shedding;
 *   - src/supervisor/shell.ts: the worker processes, carrying out the policy (src/supervisor/policy.ts);
 *   - fork-server.ts: --preload's fork servers.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { DispatchQueue } from '../bridge/dispatch-queue.js';
import { findPython } from '../bridge/find-python.js';
import { ForkServers } from '../bridge/fork-server.js';
import { type ProcUsage, readUsage } from '../bridge/proc-usage.js';
import { refuse } from '../bridge/queue-shedding.js';
import { SpoolBudget } from '../bridge/response-spool.js';
import { RssSampler } from '../bridge/rss-sampler.js';
import { workerEnv } from '../bridge/worker-package.js';
import type { WorkerLaunch } from '../bridge/worker-process.js';
import { RequestBodyError } from '../errors/registry.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Backend, Exchange, Supervision } from '../server/backend.js';
import { NO_BODY, receiveBody, removeStaleSpools } from '../server/request-body.js';
import type { AppRef } from '../settings/app-ref.js';
import type { WorkerHooks } from '../settings/config-types.js';
import type { Settings } from '../settings/definitions.js';
import { ReloadWatcher } from './reload-watcher.js';
import { SupervisorShell } from './shell.js';

export { FLOW_MS, MAX_PREFETCH } from '../bridge/dispatch-queue.js';

export interface PythonBackendOptions {
  readonly app: Extract<AppRef, { kind: 'python' }>;
  readonly settings: Settings;
  readonly log: Logger;
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Python hooks from a gunicorn.conf.py, which each worker loads and runs. */
  readonly workerHooks?: WorkerHooks;
}

/** How often the queue is looked at: --queue-timeout shedding and autoscaling's pressure reports. */
export const QUEUE_WATCH_MS = 100;

export class PythonBackend implements Backend {
  readonly #options: PythonBackendOptions;
  readonly #log: Logger;
  readonly #settings: Settings;
  /** --preload: the fork servers that workers are forked from (fork-server.ts); null when Node spawns them. */
  #forks: ForkServers | null = null;
  /** The worker processes and the policy they follow. */
  readonly #shell: SupervisorShell;
  /** The requests waiting for a worker. */
  readonly #queue: DispatchQueue;
  #watcher: ReloadWatcher | null = null;
  #drained: (() => void) | null = null;
  #metrics: Metrics | null = null;
  /** One timer for the queue (--queue-timeout, --max-workers); one for worker memory (--max-worker-memory). */
  #queueWatch: NodeJS.Timeout | undefined;
  #rss: RssSampler | null = null;

  constructor(options: PythonBackendOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#settings = options.settings;
    const metrics = () => this.#metrics;
    const checkDrained = () => this.#checkDrained();
    this.#shell = new SupervisorShell(
      options.settings,
      options.log,
      {
        pump: () => this.#queue.pump(),
        checkDrained,
        requeue: (unstarted) => this.#queue.requeue(unstarted),
        metrics,
        addSources: (files) => this.#watcher?.add(files),
        moreSources: (files) => this.#watchMore(files),
      },
      this,
    );
    this.#queue = new DispatchQueue({
      settings: options.settings,
      workers: this.#shell.workers,
      metrics,
      checkDrained,
    });
  }

  /** Workers currently alive (for tests and metrics). */
  get workerPids(): number[] {
    return [...this.#shell.workers.values()].filter((w) => w.state !== 'dead').map((w) => w.pid);
  }

  /** The pool behind it (Backend's capability): SIGHUP, SIGTTIN, SIGTTOU and the hooks' `workers`. */
  get supervision(): Supervision {
    return this;
  }

  async start(): Promise<void> {
    const { settings, app, cwd } = this.#options;
    const env = this.#options.env ?? process.env;
    // Bodies spooled by a nodicorn that died before removing them (only the fallback to named files).
    for (const name of await removeStaleSpools()) this.#log.info(`Removed a stale request body: ${name}`);
    const python = await findPython(settings.python, env);
    this.#log.info(`Using ${python.executable} (Python ${python.version}, from ${python.why})`);
    const appDir = resolve(cwd, settings.chdir);
    const config = {
      module: app.module,
      attr: app.attr,
      chdir: appDir,
      pythonpath: settings.pythonpath.map((p) => resolve(cwd, p)),
      threads: settings.threads,
      multiprocess: Math.max(settings.workers, settings.max_workers) > 1,
      loglevel: settings.loglevel,
      ...(settings.reload ? { reload: true } : {}),
      ...(this.#options.workerHooks === undefined ? {} : { hooks: this.#options.workerHooks }),
    };
    const name = settings.proc_name === '' ? [] : [`--name=${settings.proc_name}`];
    const launch: WorkerLaunch = {
      python: python.executable,
      // The name comes first so that ps shows it before the (long) JSON.
      args: ['-m', 'nodicorn_worker', ...name, JSON.stringify(config)],
      env: workerEnv(env),
      cwd: appDir,
      threads: settings.threads,
      log: this.#log,
      timeout: settings.timeout,
      spool: new SpoolBudget({
        memory: settings.response_memory_limit,
        disk: settings.response_disk_limit,
        totalMemory: settings.response_memory_total,
        sendTimeoutMs: settings.send_timeout * 1000,
      }),
    };
    this.#shell.launch = launch;
    if (settings.preload_app) this.#forks = await ForkServers.open(launch, config, name);
    if (settings.reload) this.#watchSources(settings.reload_extra_files.map((f) => resolve(appDir, f)));
    try {
      await this.#shell.boot(this.#forks);
    } catch (error) {
      await this.#forks?.close();
      this.#watcher?.close();
      throw error;
    }
    const target = this.#shell.supervisor.target;
    this.#log.info(`Booted ${target} worker${target === 1 ? '' : 's'} (pids ${this.workerPids.join(', ')})`);
    if (this.#watcher !== null)
      this.#log.info(
        `--reload: watching ${this.#watcher.files} files in ${this.#watcher.watching} directories`,
      );
    this.#startWatches();
  }

  /** The queue watch and the RSS sampler, when a setting asks for them (each one timer for the pool). */
  #startWatches(): void {
    const { queue_timeout: timeout, max_worker_memory: memory } = this.#settings;
    const supervisor = this.#shell.supervisor;
    if (timeout > 0 || supervisor.max > supervisor.min) {
      this.#queueWatch = setInterval(() => this.#watchQueue(), QUEUE_WATCH_MS);
      this.#queueWatch.unref();
    }
    if (memory > 0) {
      const workers = this.#shell.workers;
      this.#rss = new RssSampler(
        memory,
        () => {
          const ready: { id: number; pid: number }[] = [];
          for (const [id, w] of workers) if (w.state === 'ready') ready.push({ id, pid: w.pid });
          return ready;
        },
        ({ id, pid }, rss) => {
          if (workers.get(id)?.state !== 'ready') return;
          const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;
          this.#log.info(
            `Worker (pid:${pid}) uses ${mib(rss)}, past --max-worker-memory (${mib(memory)}); replacing it after its current request`,
          );
          this.#metrics?.restarted('memory');
          this.#shell.apply({ type: 'recycle', id, reason: 'memory' });
        },
      );
      this.#rss.start();
    }
  }

  /** Sheds what waited past --queue-timeout, and reports the queue to the policy (autoscaling). */
  #watchQueue(): void {
    const now = performance.now();
    this.#queue.shedExpired(now);
    const supervisor = this.#shell.supervisor;
    if (supervisor.max === supervisor.min) return;
    this.#shell.apply({ type: 'pressure', ...this.#queue.facts(now) });
  }

  healthy(): boolean {
    if (this.#shell.closing) return false;
    for (const worker of this.#shell.workers.values()) if (worker.state === 'ready') return true;
    return false;
  }

  handle(exchange: Exchange): void {
    // --max-queue: refused at once, before its body is read.
    if (this.#queue.full()) {
      this.#metrics?.shed('queue_full');
      refuse(exchange);
      return;
    }
    // Most requests have no body: they are queued at once, without a promise in between.
    if (exchange.bodyLength === 0) {
      this.#queue.enqueue(exchange, NO_BODY);
      return;
    }
    receiveBody(
      exchange.req,
      exchange.bodyLength,
      exchange.bodyLimit,
      this.#settings.body_memory_limit,
      this.#settings.body_timeout,
    ).then(
      (body) => this.#queue.enqueue(exchange, body),
      (error: unknown) => {
        if (error instanceof RequestBodyError) exchange.writer.fail(error.status);
        else {
          this.#log.error(`receiving the request body failed: ${String(error)}`);
          exchange.writer.fail(500);
        }
      },
    );
  }

  /**
   * Reports the pool to /metrics: queue depth, busy and idle workers, restarts, and each live worker's
   * memory and CPU (read from /proc when scraped, never per request).
   */
  attachMetrics(metrics: Metrics): void {
    this.#metrics = metrics;
    metrics.attachPool(
      () => {
        let workers = 0;
        let busy = 0;
        for (const w of this.#shell.workers.values()) {
          if (w.state !== 'ready') continue;
          workers++;
          if (w.inFlight.size > 0) busy++;
        }
        return { queued: this.#queue.waiting, workers, busy };
      },
      async () => {
        const usage = await Promise.all(this.workerPids.map(readUsage));
        // A worker that exited while /proc was read is no longer reported.
        const live = new Set(this.workerPids);
        return usage.filter((u): u is ProcUsage => u !== null && live.has(u.pid));
      },
    );
  }

  /** SIGHUP (and --reload): a new generation of workers; once it is ready, the old one drains. */
  reload(why = 'SIGHUP'): void {
    if (why === 'SIGHUP') this.#log.info('Handling signal: hup; replacing every worker');
    this.#shell.apply({ type: 'reload', why });
  }

  /** SIGTTIN */
  addWorker(): void {
    this.#shell.apply({ type: 'more' });
    this.#log.info(`Handling signal: ttin; workers: ${this.#shell.supervisor.target}`);
  }

  /** SIGTTOU */
  removeWorker(): void {
    this.#shell.apply({ type: 'fewer' });
    this.#log.info(`Handling signal: ttou; workers: ${this.#shell.supervisor.target}`);
  }

  async close(graceMs: number): Promise<void> {
    this.#shell.closing = true;
    // No new workers from here on; the ready ones serve what is queued until the grace period ends.
    this.#shell.apply({ type: 'stop' });
    this.#watcher?.close();
    this.#rss?.stop();
    if (this.#queue.waiting > 0 || this.#shell.busy()) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => {
          this.#drained = r;
        }),
        new Promise<void>((r) => {
          timer = setTimeout(r, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#queue.failAll();
    const workers = this.#shell.workers;
    const exits = [...workers.values()].map((worker) => worker.gone);
    this.#shell.apply({ type: 'halt' });
    for (const worker of workers.values()) if (worker.inFlight.size > 0) worker.kill('SIGKILL');
    const force = setTimeout(() => {
      for (const worker of workers.values()) worker.kill('SIGKILL');
    }, 2000);
    await Promise.all(exits);
    clearTimeout(force);
    this.#shell.stopTimer();
    clearInterval(this.#queueWatch);
    await this.#forks?.close();
  }

  /** While closing: resolves the wait once nothing is queued or running (a crash can end the last request). */
  #checkDrained(): void {
    if (this.#drained !== null && this.#queue.waiting === 0 && !this.#shell.busy()) this.#drained();
  }

  /** --reload: files a worker imported after READY (a SOURCES frame), logged once each. */
  #watchMore(files: readonly string[]): void {
    const watcher = this.#watcher;
    if (watcher === null) return;
    const before = watcher.files;
    watcher.add(files);
    if (watcher.files > before) this.#log.info(`--reload: now watching ${files.map(this.#shown).join(', ')}`);
  }

  /** A watched file as logged: relative to the app's directory when inside it. */
  #shown = (file: string): string => {
    const rel = relative(resolve(this.#options.cwd, this.#settings.chdir), file);
    return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
  };

  /** --reload: the files the workers report having imported, and --reload-extra-file. */
  #watchSources(extra: readonly string[]): void {
    const shown = this.#shown;
    this.#watcher = new ReloadWatcher({
      onChange: (files) => {
        const why = `${files.map(shown).join(', ')} changed`;
        this.#log.info(`reloading: ${why}`);
        this.reload(why);
      },
      warn: (message) => this.#log.warning(message),
    });
    this.#watcher.add(extra);
  }
}
