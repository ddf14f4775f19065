/**
 * The Python backend: a supervised pool of worker processes serving one WSGI app.
 *
 * A request reaches a worker only once its body is fully received (request-body.ts). Requests wait in one
 * FIFO queue and go to the least busy ready worker, so a slow request never holds up the ones behind it
 * while another worker is free. Workers are replaced when they die, time out, reach --max-requests, on
 * SIGHUP (new workers first, then the old ones drain: no request fails) and on source changes (--reload).
 */
import { randomInt } from 'node:crypto';
import { isAbsolute, relative, resolve } from 'node:path';
import type { AppRef } from '../cli/app-ref.js';
import { workersChanged } from '../observability/channels.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Backend, Exchange } from '../server/backend.js';
import { callHook } from '../server/hooks.js';
import { isHttpError } from '../server/http-error.js';
import { NO_BODY, type ReceivedBody, receiveBody, removeStaleSpools } from '../server/request-body.js';
import type { WorkerHooks } from '../settings/config-file.js';
import type { Settings } from '../settings/definitions.js';
import { initialState, type SupervisorEvent, type SupervisorState, step } from '../supervisor/policy.js';
import { ReloadWatcher } from '../supervisor/reload-watcher.js';
import { findPython } from './find-python.js';
import { ForkServers } from './fork-server.js';
import { queueFull, refuse, type ShedReason, shedExpired, waitedTooLong } from './queue-shedding.js';
import { SpoolBudget } from './response-spool.js';
import { RssSampler } from './rss-sampler.js';
import { workerEnv } from './worker-package.js';
import { type Dispatch, type WorkerLaunch, WorkerProcess } from './worker-process.js';

export interface PythonBackendOptions {
  readonly app: Extract<AppRef, { kind: 'python' }>;
  readonly settings: Settings;
  readonly log: Logger;
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Python hooks from a gunicorn.conf.py, which each worker loads and runs. */
  readonly workerHooks?: WorkerHooks;
}

export class AppLoadFailed extends Error {
  override readonly name = 'AppLoadFailed';
}

/**
 * Batching: when every worker is busy, a worker whose running requests are all younger than FLOW_MS may
 * be handed more, which wait in its socket. The worker then goes from one request to the next without
 * sleeping, and Node and the worker exchange several frames per system call (on this class of machine a
 * wakeup costs more than a small request). How many may wait adapts to the worker's recent request time
 * (see WorkerProcess.prefetch): about FLOW_MS of expected work, at most MAX_PREFETCH requests, none for
 * an app whose requests take longer than FLOW_MS. A worker running a request past FLOW_MS gets nothing
 * more, so only requests handed over in its first FLOW_MS can be caught behind one that turns out slow;
 * requests that never started when a worker dies are re-queued, not failed.
 */
export const MAX_PREFETCH = 6;
export const FLOW_MS = 10;

/** How often the queue is looked at: --queue-timeout shedding and autoscaling's pressure reports. */
export const QUEUE_WATCH_MS = 100;

export class PythonBackend implements Backend {
  readonly #options: PythonBackendOptions;
  readonly #log: Logger;
  readonly #settings: Settings;
  #launch: WorkerLaunch | null = null;
  /** --preload: the fork servers that workers are forked from (fork-server.ts); null when Node spawns them. */
  #forks: ForkServers | null = null;
  /** Every worker process not yet gone, by its id in the supervisor's state. */
  readonly #workers = new Map<number, WorkerProcess>();
  #supervisor: SupervisorState;
  #wake: NodeJS.Timeout | undefined;
  /** While starting: settles once the first generation is ready, or the app failed to load. */
  #booting: { resolve(): void; reject(error: Error): void } | null = null;
  #queue: Dispatch[] = [];
  /** Entries of #queue dropped where they stood (their client left): skipped, then compacted away. */
  #holes = 0;
  /** A pump is scheduled for the next turn of the event loop (HTTP/2 requests wait for it). */
  #pumpScheduled = false;
  #nextId = 1;
  #closing = false;
  #watcher: ReloadWatcher | null = null;
  #drained: (() => void) | null = null;
  #metrics: Metrics | null = null;
  /** Workers started so far: each one's age (Gunicorn's worker.age). */
  #age = 0;
  /** The live worker count last published on the workers channel. */
  #published = -1;
  /** One timer for the queue (--queue-timeout, --max-workers); one for worker memory (--max-worker-memory). */
  #queueWatch: NodeJS.Timeout | undefined;
  #rss: RssSampler | null = null;

  constructor(options: PythonBackendOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#settings = options.settings;
    const { workers, max_workers: max, scale_down_delay: delay } = options.settings;
    this.#supervisor = initialState(workers, { max, cooldown: delay * 1000 });
  }

  /** Workers currently alive (for tests and metrics). */
  get workerPids(): number[] {
    return [...this.#workers.values()].filter((w) => w.state !== 'dead').map((w) => w.pid);
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
    this.#launch = {
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
    if (settings.preload_app) this.#forks = await ForkServers.open(this.#launch, config, name);
    if (settings.reload) this.#watchSources(settings.reload_extra_files.map((f) => resolve(appDir, f)));
    try {
      await new Promise<void>((resolvePromise, reject) => {
        this.#booting = { resolve: resolvePromise, reject };
        this.#apply({ type: 'tick' });
      });
    } catch (error) {
      await this.#forks?.close();
      this.#watcher?.close();
      throw error;
    }
    const target = this.#supervisor.target;
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
    if (timeout > 0 || this.#supervisor.max > this.#supervisor.min) {
      this.#queueWatch = setInterval(() => this.#watchQueue(), QUEUE_WATCH_MS);
      this.#queueWatch.unref();
    }
    if (memory > 0) {
      this.#rss = new RssSampler(
        memory,
        () => {
          const ready: { id: number; pid: number }[] = [];
          for (const [id, w] of this.#workers) if (w.state === 'ready') ready.push({ id, pid: w.pid });
          return ready;
        },
        ({ id, pid }, rss) => {
          if (this.#workers.get(id)?.state !== 'ready') return;
          const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;
          this.#log.info(
            `Worker (pid:${pid}) uses ${mib(rss)}, past --max-worker-memory (${mib(memory)}); replacing it after its current request`,
          );
          this.#metrics?.restarted('memory');
          this.#apply({ type: 'recycle', id, reason: 'memory' });
        },
      );
      this.#rss.start();
    }
  }

  /** Sheds what waited past --queue-timeout, and reports the queue to the policy (autoscaling). */
  #watchQueue(): void {
    const now = performance.now();
    const timeoutMs = this.#settings.queue_timeout * 1000;
    if (timeoutMs > 0 && this.#holes > 0) {
      // Dropped entries go first, so that only requests still waiting are shed and counted.
      this.#queue = this.#queue.filter((d) => d.queued);
      this.#holes = 0;
    }
    shedExpired(this.#queue, now, timeoutMs, (d) => {
      d.queued = false;
      this.#shed(d, 'queue_timeout', now);
    });
    if (this.#supervisor.max === this.#supervisor.min) return;
    let idle = 0;
    for (const w of this.#workers.values()) if (w.state === 'ready' && w.inFlight.size === 0) idle++;
    const head = this.#queue.find((d) => d.queued);
    this.#apply({
      type: 'pressure',
      oldestWaitMs: head === undefined ? 0 : now - head.queuedAt,
      queued: this.#queue.length - this.#holes,
      idle,
    });
  }

  /** Answers a queued request 503 without it ever reaching the app. */
  #shed(dispatch: Dispatch, reason: ShedReason, now: number): void {
    if (dispatch.body.kind === 'file') void dispatch.body.dispose();
    dispatch.exchange.writer.queueMs = now - dispatch.queuedAt;
    this.#metrics?.shed(reason);
    refuse(dispatch.exchange);
  }

  healthy(): boolean {
    if (this.#closing) return false;
    for (const worker of this.#workers.values()) if (worker.state === 'ready') return true;
    return false;
  }

  handle(exchange: Exchange): void {
    // --max-queue: refused at once, before its body is read.
    if (queueFull(this.#queue.length - this.#holes, this.#settings.max_queue)) {
      this.#metrics?.shed('queue_full');
      refuse(exchange);
      return;
    }
    // Most requests have no body: they are queued at once, without a promise in between.
    if (exchange.bodyLength === 0) {
      this.#enqueue(exchange, NO_BODY);
      return;
    }
    receiveBody(
      exchange.req,
      exchange.bodyLength,
      exchange.bodyLimit,
      this.#settings.body_memory_limit,
      this.#settings.body_timeout,
    ).then(
      (body) => this.#enqueue(exchange, body),
      (error: unknown) => {
        if (isHttpError(error)) exchange.writer.fail(error.status);
        else {
          this.#log.error(`receiving the request body failed: ${String(error)}`);
          exchange.writer.fail(500);
        }
      },
    );
  }

  #enqueue(exchange: Exchange, body: ReceivedBody): void {
    if (exchange.writer.clientGone) {
      if (body.kind === 'file') void body.dispose();
      return;
    }
    if (queueFull(this.#queue.length - this.#holes, this.#settings.max_queue)) {
      if (body.kind === 'file') void body.dispose();
      this.#metrics?.shed('queue_full');
      refuse(exchange);
      return;
    }
    // A chunked (or HTTP/2, length-less) body has been received in full, so its length is known: say it
    // in CONTENT_LENGTH, as Waitress does. Django, Bottle and Radicale read exactly CONTENT_LENGTH bytes
    // and would see an empty body otherwise; wsgi.input_terminated stays true for those that read to EOF.
    if (exchange.bodyLength < 0)
      exchange.environ.CONTENT_LENGTH = String(body.kind === 'file' ? body.length : (body.data?.length ?? 0));
    const id = this.#nextId;
    this.#nextId = id >= 0xffffffff ? 1 : id + 1; // ids are u32 on the wire; 0 is the worker's own
    const dispatch: Dispatch = {
      id,
      exchange,
      body,
      queued: true,
      queuedAt: performance.now(),
      started: 0,
      timedOut: false,
      discard: false,
      spool: null,
      owed: 0,
      stalledSince: 0,
    };
    this.#queue.push(dispatch);
    // A client that leaves while its request waits (an HTTP/2 stream reset, a closed connection) takes
    // it out of the queue at once, body and all: a flood of such requests holds nothing.
    exchange.writer.response.once('close', () => {
      if (dispatch.queued && exchange.writer.clientGone) this.#unqueue(dispatch);
    });
    // HTTP/2 (RFC 9113 §5.4.2, CVE-2023-44487 "rapid reset"): a client may open a stream and reset it in
    // the same packet. node:http2 hands over the request before it reads the RST_STREAM behind it, so
    // a stream is handed to a worker only on the next turn of the event loop, once the rest of what
    // arrived with it has been read: a stream reset by then never reaches a worker.
    if (exchange.req.httpVersionMajor === 2) this.#schedulePump();
    else this.#pump();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Drops a request that waits in the queue, and the body it holds. */
  #unqueue(dispatch: Dispatch): void {
    dispatch.queued = false;
    dispatch.discard = true;
    if (dispatch.body.kind === 'file') void dispatch.body.dispose();
    dispatch.body = NO_BODY;
    const queue = this.#queue;
    if (queue[queue.length - 1] === dispatch) queue.pop();
    else if (queue[0] === dispatch) queue.shift();
    else if (++this.#holes > 64 && this.#holes * 2 > queue.length) {
      this.#queue = queue.filter((d) => d.queued);
      this.#holes = 0;
    }
    if (this.#queue.length === this.#holes) {
      this.#queue.length = 0;
      this.#holes = 0;
    }
    this.#checkDrained();
  }

  /** Reports the pool (queue depth, busy and idle workers, restarts) to /metrics. */
  attachMetrics(metrics: Metrics): void {
    this.#metrics = metrics;
    metrics.pool = () => {
      let workers = 0;
      let busy = 0;
      for (const w of this.#workers.values()) {
        if (w.state !== 'ready') continue;
        workers++;
        if (w.inFlight.size > 0) busy++;
      }
      return { queued: this.#queue.length - this.#holes, workers, busy };
    };
  }

  /** SIGHUP (and --reload): a new generation of workers; once it is ready, the old one drains. */
  reload(why = 'SIGHUP'): void {
    if (why === 'SIGHUP') this.#log.info('Handling signal: hup; replacing every worker');
    this.#apply({ type: 'reload', why });
  }

  /** SIGTTIN */
  addWorker(): void {
    this.#apply({ type: 'more' });
    this.#log.info(`Handling signal: ttin; workers: ${this.#supervisor.target}`);
  }

  /** SIGTTOU */
  removeWorker(): void {
    this.#apply({ type: 'fewer' });
    this.#log.info(`Handling signal: ttou; workers: ${this.#supervisor.target}`);
  }

  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    // No new workers from here on; the ready ones serve what is queued until the grace period ends.
    this.#apply({ type: 'stop' });
    this.#watcher?.close();
    this.#rss?.stop();
    if (this.#queue.length > this.#holes || this.#busy()) {
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
    for (const dispatch of this.#queue.splice(0)) {
      if (!dispatch.queued) continue;
      dispatch.queued = false;
      dispatch.exchange.writer.fail(503);
    }
    this.#holes = 0;
    const exits = [...this.#workers.values()].map((worker) => worker.gone);
    this.#apply({ type: 'halt' });
    for (const worker of this.#workers.values()) if (worker.inFlight.size > 0) worker.kill('SIGKILL');
    const force = setTimeout(() => {
      for (const worker of this.#workers.values()) worker.kill('SIGKILL');
    }, 2000);
    await Promise.all(exits);
    clearTimeout(force);
    clearTimeout(this.#wake);
    clearInterval(this.#queueWatch);
    await this.#forks?.close();
  }

  /** While closing: resolves the wait once nothing is queued or running (a crash can end the last request). */
  #checkDrained(): void {
    if (this.#drained !== null && this.#queue.length === this.#holes && !this.#busy()) this.#drained();
  }

  #busy(): boolean {
    for (const worker of this.#workers.values()) if (worker.inFlight.size > 0) return true;
    return false;
  }

  /** Feeds an event to the supervisor policy (src/supervisor/policy.ts) and carries out what it decides. */
  #apply(event: SupervisorEvent): void {
    const { state, actions } = step(this.#supervisor, event, performance.now());
    this.#supervisor = state;
    for (const action of actions) {
      switch (action.type) {
        case 'spawn':
          if (this.#launch !== null)
            this.#workers.set(action.id, this.#newWorker(action.id, action.generation));
          break;
        case 'retire':
          this.#retire(this.#workers.get(action.id));
          break;
        case 'kill': {
          const worker = this.#workers.get(action.id);
          // A worker killed for --timeout is already on its way out (SIGABRT first, for its stacks).
          if (worker !== undefined && !worker.timedOut) worker.kill('SIGKILL');
          break;
        }
        case 'wakeAt':
          clearTimeout(this.#wake);
          this.#wake = setTimeout(() => this.#apply({ type: 'tick' }), action.at - performance.now());
          this.#wake.unref();
          break;
        case 'reloaded':
          this.#forks?.retireBelow(action.generation);
          for (const worker of this.#workers.values())
            if (worker.state === 'retiring') this.#metrics?.restarted('reload');
          this.#log.info(`Reloaded: workers now ${this.#readyPids().join(', ')}`);
          break;
        case 'reloadFailed':
          this.#log.error('Reload failed; the current workers keep serving.');
          break;
        case 'log':
          this.#log[action.level](action.message);
          break;
      }
    }
    this.#pump();
  }

  #readyPids(): number[] {
    const pids: number[] = [];
    for (const w of this.#workers.values()) if (w.state === 'ready') pids.push(w.pid);
    return pids;
  }

  #newWorker(id: number, generation: number): WorkerProcess {
    const { max_requests: max, max_requests_jitter: jitter } = this.#settings;
    const limit = max > 0 ? max + (jitter > 0 ? randomInt(0, jitter + 1) : 0) : Number.POSITIVE_INFINITY;
    const age = ++this.#age;
    const { post_worker_init: postWorkerInit, worker_exit: workerExit } = this.#settings;
    const launch =
      this.#forks === null
        ? this.#launch!
        : { ...this.#launch!, host: this.#forks.host(id, generation, age) };
    return new WorkerProcess(launch, limit, age, {
      ready: (worker) => {
        if (this.#booting === null) this.#log.info(`Booting worker with pid: ${worker.pid}`);
        this.#watcher?.add(worker.sources);
        this.#apply({ type: 'booted', id });
        this.#publishCount();
        callHook(this.#log, 'post_worker_init', postWorkerInit, { pid: worker.pid, age });
        if (this.#booting !== null && this.#readyPids().length >= this.#supervisor.target) {
          this.#booting.resolve();
          this.#booting = null;
        }
      },
      sources: (_worker, files) => this.#watchMore(files),
      loadFailed: (worker, traceback) => {
        if (this.#booting !== null) {
          // At start a broken app is an error to report and exit with, not a worker to keep respawning.
          const booting = this.#booting;
          this.#booting = null;
          this.#closing = true;
          this.#apply({ type: 'halt' });
          // One line when the reference names nothing loadable; the traceback when importing the app raised.
          const why = traceback.trimEnd();
          booting.reject(
            new AppLoadFailed(`the application could not be loaded:${why.includes('\n') ? '\n' : ' '}${why}`),
          );
          return;
        }
        const why = traceback.trimEnd();
        this.#log.error(
          `Worker (pid:${worker.pid}) failed to load the application:${why.includes('\n') ? '\n' : ' '}${why}`,
        );
        this.#apply({ type: 'bootFailed', id });
      },
      idle: (worker) => {
        if (worker.state === 'ready' && worker.served >= worker.maxRequests) {
          this.#log.info(`Worker (pid:${worker.pid}) reached max requests (${worker.served}); replacing it`);
          this.#metrics?.restarted('max_requests');
          this.#apply({ type: 'recycle', id, reason: 'max_requests' });
        }
        this.#pump();
        this.#checkDrained();
      },
      exit: (worker, code, signal, unstarted) => {
        const record = this.#supervisor.workers.get(id);
        this.#workers.delete(id);
        for (const dispatch of unstarted) dispatch.queued = true;
        this.#queue.unshift(...unstarted);
        if (this.#booting !== null && record?.phase === 'booting') {
          const booting = this.#booting;
          this.#booting = null;
          this.#closing = true;
          this.#apply({ type: 'halt' });
          booting.reject(
            new AppLoadFailed(
              `worker (pid:${worker.pid}) exited (${signal ?? `code ${code}`}) while booting`,
            ),
          );
        } else if (!this.#closing && record !== undefined && record.phase !== 'draining') {
          this.#metrics?.restarted(worker.timedOut ? 'timeout' : 'crash');
          this.#log.warning(
            `Worker (pid:${worker.pid}) exited (${signal ?? `code ${code}`}); starting a new one`,
          );
        }
        this.#apply({ type: 'exited', id });
        this.#publishCount();
        callHook(this.#log, 'worker_exit', workerExit, { pid: worker.pid, age, exitCode: code, signal });
        this.#checkDrained();
      },
    });
  }

  /** Publishes the number of ready workers when it changed (StatsD's gunicorn.workers gauge). */
  #publishCount(): void {
    if (!workersChanged.hasSubscribers) return;
    const count = this.#readyPids().length;
    if (count === this.#published) return;
    this.#published = count;
    workersChanged.publish({ source: this, count });
  }

  #retire(worker: WorkerProcess | undefined): void {
    if (worker === undefined) return;
    worker.retire();
    // Past the grace period a worker that still has not finished is stopped.
    const grace = this.#settings.graceful_timeout * 1000;
    const timer = setTimeout(() => worker.kill('SIGKILL'), grace);
    timer.unref();
    void worker.gone.then(() => clearTimeout(timer));
  }

  /** Hands queued requests to workers: a free thread first (least busy), else a flowing worker's queue. */
  #pump(): void {
    const queue = this.#queue;
    if (queue.length === 0) return;
    const threads = this.#settings.threads;
    const now = performance.now();
    const timeoutMs = this.#settings.queue_timeout * 1000;
    while (queue.length > 0) {
      let best: WorkerProcess | null = null;
      for (const worker of this.#workers.values()) {
        if (worker.state !== 'ready' || worker.inFlight.size >= threads) continue;
        if (best === null || worker.inFlight.size < best.inFlight.size) best = worker;
      }
      if (best === null) {
        for (const worker of this.#workers.values()) {
          if (
            worker.state !== 'ready' ||
            worker.inFlight.size >= threads + worker.prefetch(FLOW_MS, MAX_PREFETCH) ||
            !worker.flowing(now, FLOW_MS)
          )
            continue;
          if (best === null || worker.inFlight.size < best.inFlight.size) best = worker;
        }
      }
      if (best === null) break;
      const dispatch = queue.shift()!;
      if (!dispatch.queued) {
        this.#holes--;
        continue;
      }
      dispatch.queued = false;
      if (dispatch.exchange.writer.clientGone) {
        if (dispatch.body.kind === 'file') void dispatch.body.dispose();
        continue;
      }
      // --queue-timeout: one that waited too long never reaches the app, even between two watches.
      if (waitedTooLong(dispatch, now, timeoutMs)) {
        this.#shed(dispatch, 'queue_timeout', now);
        continue;
      }
      dispatch.exchange.writer.queueMs = now - dispatch.queuedAt;
      best.dispatch(dispatch);
    }
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
