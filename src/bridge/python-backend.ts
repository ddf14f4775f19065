/**
 * The Python backend: a supervised pool of worker processes serving one WSGI app.
 *
 * A request reaches a worker only once its body is fully received (request-body.ts). Requests wait in one
 * FIFO queue and go to the least busy ready worker, so a slow request never holds up the ones behind it
 * while another worker is free. Workers are replaced when they die, time out, reach --max-requests, on
 * SIGHUP (new workers first, then the old ones drain: no request fails) and on source changes (--reload).
 */
import { randomInt } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { resolve } from 'node:path';
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
import { findPython } from './find-python.js';
import { SpoolBudget } from './response-spool.js';
import { workerEnv } from './worker-package.js';
import { type Dispatch, type WorkerEvents, type WorkerLaunch, WorkerProcess } from './worker-process.js';

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

/** Wait before respawning a worker that keeps dying at boot: 1 s, doubling to 30 s. */
function bootBackoff(failures: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));
}

export class PythonBackend implements Backend {
  readonly #options: PythonBackendOptions;
  readonly #log: Logger;
  readonly #settings: Settings;
  #launch: WorkerLaunch | null = null;
  #workers = new Set<WorkerProcess>();
  #queue: Dispatch[] = [];
  #target: number;
  #nextId = 1;
  #closing = false;
  #bootFailures = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  #watcher: FSWatcher | null = null;
  #drained: (() => void) | null = null;
  #metrics: Metrics | null = null;
  /** Workers started so far: each one's age (Gunicorn's worker.age). */
  #age = 0;
  /** The live worker count last published on the workers channel. */
  #published = -1;

  constructor(options: PythonBackendOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#settings = options.settings;
    this.#target = options.settings.workers;
  }

  /** Workers currently alive (for tests and metrics). */
  get workerPids(): number[] {
    return [...this.#workers].filter((w) => w.state !== 'dead').map((w) => w.pid);
  }

  async start(): Promise<void> {
    const { settings, app, cwd } = this.#options;
    const env = this.#options.env ?? process.env;
    if (settings.preload_app) {
      throw new AppLoadFailed(
        '--preload is not supported: each worker imports the application itself (forking workers from one imported template is planned)',
      );
    }
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
      multiprocess: settings.workers > 1,
      loglevel: settings.loglevel,
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
    await this.#bootGeneration(this.#target);
    this.#log.info(
      `Booted ${this.#target} worker${this.#target === 1 ? '' : 's'} (pids ${this.workerPids.join(', ')})`,
    );
    if (settings.reload) this.#watchSources([appDir, ...config.pythonpath]);
  }

  healthy(): boolean {
    if (this.#closing) return false;
    for (const worker of this.#workers) if (worker.state === 'ready') return true;
    return false;
  }

  handle(exchange: Exchange): void {
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
    const id = this.#nextId;
    this.#nextId = id >= 0xffffffff ? 1 : id + 1; // ids are u32 on the wire; 0 is the worker's own
    this.#queue.push({
      id,
      exchange,
      body,
      started: 0,
      timedOut: false,
      discard: false,
      spool: null,
      owed: 0,
      stalledSince: 0,
    });
    this.#pump();
  }

  /** Reports the pool (queue depth, busy and idle workers, restarts) to /metrics. */
  attachMetrics(metrics: Metrics): void {
    this.#metrics = metrics;
    metrics.pool = () => {
      let workers = 0;
      let busy = 0;
      for (const w of this.#workers) {
        if (w.state !== 'ready') continue;
        workers++;
        if (w.inFlight.size > 0) busy++;
      }
      return { queued: this.#queue.length, workers, busy };
    };
  }

  /** SIGHUP: a new generation of workers; once it is up, the old one drains and exits. */
  reload(): void {
    this.#log.info('Handling signal: hup; replacing every worker');
    const old = [...this.#workers];
    this.#bootGeneration(this.#target).then(
      () => {
        for (const worker of old) {
          this.#workers.delete(worker);
          this.#retire(worker);
          this.#metrics?.restarted('reload');
        }
        this.#log.info(`Reloaded: workers now ${this.workerPids.join(', ')}`);
      },
      (error: unknown) => {
        this.#log.error(`Reload failed; the current workers keep serving.\n${String(error)}`);
        // A worker that died during the attempt was not replaced (the new generation counted): now it is.
        this.#scheduleRespawn();
      },
    );
  }

  /** SIGTTIN */
  addWorker(): void {
    this.#target++;
    this.#log.info(`Handling signal: ttin; workers: ${this.#target}`);
    this.#spawn();
  }

  /** SIGTTOU */
  removeWorker(): void {
    if (this.#target <= 1) return;
    this.#target--;
    this.#log.info(`Handling signal: ttou; workers: ${this.#target}`);
    const idlest = [...this.#workers]
      .filter((w) => w.state === 'ready')
      .sort((a, b) => a.inFlight.size - b.inFlight.size)[0];
    if (idlest !== undefined) {
      this.#workers.delete(idlest);
      this.#retire(idlest);
    }
  }

  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#respawnTimer);
    this.#watcher?.close();
    if (this.#queue.length > 0 || this.#busy()) {
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
    for (const dispatch of this.#queue.splice(0)) dispatch.exchange.writer.fail(503);
    const exits = [...this.#workers].map((worker) => worker.gone);
    for (const worker of this.#workers) {
      worker.retire();
      if (worker.inFlight.size > 0) worker.kill('SIGKILL');
    }
    const force = setTimeout(() => {
      for (const worker of this.#workers) worker.kill('SIGKILL');
    }, 2000);
    await Promise.all(exits);
    clearTimeout(force);
  }

  /** While closing: resolves the wait once nothing is queued or running (a crash can end the last request). */
  #checkDrained(): void {
    if (this.#drained !== null && this.#queue.length === 0 && !this.#busy()) this.#drained();
  }

  #busy(): boolean {
    for (const worker of this.#workers) if (worker.inFlight.size > 0) return true;
    return false;
  }

  /** Starts `count` workers and resolves when all are ready; rejects (killing them) if one cannot load the app. */
  #bootGeneration(count: number): Promise<void> {
    this.#booting += count;
    let counted = count;
    const settle = (n: number) => {
      const d = Math.min(n, counted);
      counted -= d;
      this.#booting -= d;
    };
    return new Promise<void>((resolvePromise, reject) => {
      const booting: WorkerProcess[] = [];
      let ready = 0;
      let failed = false;
      const events: WorkerEvents = {
        ...this.#events,
        ready: (worker) => {
          if (failed) return;
          this.#workers.add(worker);
          settle(1);
          if (++ready === count) {
            this.#pump();
            resolvePromise();
          }
        },
        loadFailed: (_worker, traceback) => {
          if (failed) return;
          failed = true;
          settle(counted);
          for (const w of booting) w.kill();
          // One line when the reference names nothing loadable; the traceback when importing the app raised.
          const why = traceback.trimEnd();
          reject(
            new AppLoadFailed(`the application could not be loaded:${why.includes('\n') ? '\n' : ' '}${why}`),
          );
        },
        exit: (worker, code, signal, unstarted) => {
          if (
            worker.state === 'dead' &&
            !this.#workers.has(worker) &&
            !failed &&
            booting.includes(worker) &&
            ready < count
          ) {
            failed = true;
            settle(counted);
            for (const w of booting) w.kill();
            reject(
              new AppLoadFailed(
                `worker (pid:${worker.pid}) exited (${signal ?? `code ${code}`}) while booting`,
              ),
            );
            return;
          }
          this.#events.exit(worker, code, signal, unstarted);
        },
      };
      for (let i = 0; i < count; i++) booting.push(this.#newWorker(events));
    });
  }

  #newWorker(events: WorkerEvents): WorkerProcess {
    const { max_requests: max, max_requests_jitter: jitter } = this.#settings;
    const limit = max > 0 ? max + (jitter > 0 ? randomInt(0, jitter + 1) : 0) : Number.POSITIVE_INFINITY;
    const age = ++this.#age;
    const { post_worker_init: postWorkerInit, worker_exit: workerExit } = this.#settings;
    // The server hooks and the workers channel see every worker, whichever generation it belongs to.
    return new WorkerProcess(this.#launch!, limit, age, {
      ...events,
      ready: (worker) => {
        events.ready(worker);
        this.#publishCount();
        callHook(this.#log, 'post_worker_init', postWorkerInit, { pid: worker.pid, age });
      },
      exit: (worker, code, signal, unstarted) => {
        events.exit(worker, code, signal, unstarted);
        this.#publishCount();
        callHook(this.#log, 'worker_exit', workerExit, { pid: worker.pid, age, exitCode: code, signal });
      },
    });
  }

  /** Publishes the number of ready workers when it changed (StatsD's gunicorn.workers gauge). */
  #publishCount(): void {
    if (!workersChanged.hasSubscribers) return;
    let count = 0;
    for (const worker of this.#workers) if (worker.state === 'ready') count++;
    if (count === this.#published) return;
    this.#published = count;
    workersChanged.publish({ source: this, count });
  }

  /** Events of workers after their boot: replacement policy lives here. */
  readonly #events: WorkerEvents = {
    ready: (worker) => {
      this.#bootFailures = 0;
      this.#workers.add(worker);
      this.#log.info(`Booting worker with pid: ${worker.pid}`);
      this.#pump();
    },
    loadFailed: (worker, traceback) => {
      this.#bootFailures++;
      const why = traceback.trimEnd();
      this.#log.error(
        `Worker (pid:${worker.pid}) failed to load the application:${why.includes('\n') ? '\n' : ' '}${why}`,
      );
    },
    idle: (worker) => {
      if (worker.state === 'ready' && worker.served >= worker.maxRequests) {
        this.#log.info(`Worker (pid:${worker.pid}) reached max requests (${worker.served}); replacing it`);
        this.#metrics?.restarted('max_requests');
        this.#workers.delete(worker);
        this.#retire(worker);
        this.#spawn();
      }
      this.#pump();
      this.#checkDrained();
    },
    exit: (worker, code, signal, unstarted) => {
      const known = this.#workers.delete(worker);
      this.#queue.unshift(...unstarted);
      if (this.#closing) {
        this.#checkDrained();
        return;
      }
      if (known) this.#metrics?.restarted(worker.timedOut ? 'timeout' : 'crash');
      if (known && worker.state === 'dead') {
        this.#log.warning(
          `Worker (pid:${worker.pid}) exited (${signal ?? `code ${code}`}); starting a new one`,
        );
      }
      this.#scheduleRespawn();
      this.#pump();
    },
  };

  /** Workers of a generation still booting (not yet in #workers): they count as live for respawning. */
  #booting = 0;

  #liveCount(): number {
    let n = this.#booting;
    for (const w of this.#workers) if (w.state === 'ready' || w.state === 'booting') n++;
    return n;
  }

  #spawn(): void {
    if (this.#closing || this.#launch === null) return;
    const worker = this.#newWorker(this.#events);
    this.#workers.add(worker);
  }

  #scheduleRespawn(): void {
    if (this.#respawnTimer !== undefined) return;
    const delay = this.#bootFailures === 0 ? 0 : bootBackoff(this.#bootFailures);
    this.#respawnTimer = setTimeout(() => {
      this.#respawnTimer = undefined;
      while (!this.#closing && this.#liveCount() < this.#target) this.#spawn();
    }, delay);
  }

  #retire(worker: WorkerProcess): void {
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
    while (queue.length > 0) {
      let best: WorkerProcess | null = null;
      for (const worker of this.#workers) {
        if (worker.state !== 'ready' || worker.inFlight.size >= threads) continue;
        if (best === null || worker.inFlight.size < best.inFlight.size) best = worker;
      }
      if (best === null) {
        for (const worker of this.#workers) {
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
      if (dispatch.exchange.writer.clientGone) {
        if (dispatch.body.kind === 'file') void dispatch.body.dispose();
        continue;
      }
      best.dispatch(dispatch);
    }
  }

  #watchSources(dirs: string[]): void {
    let pending: NodeJS.Timeout | undefined;
    const onChange = (_event: string, file: string | Buffer | null) => {
      const name = file === null ? '' : String(file);
      if (!name.endsWith('.py')) return;
      clearTimeout(pending);
      pending = setTimeout(() => {
        this.#log.info(`Worker reloading: ${name} modified`);
        this.reload();
      }, 200);
    };
    try {
      this.#watcher = watch(dirs[0]!, { recursive: true }, onChange);
    } catch (error) {
      this.#log.warning(`--reload: cannot watch ${dirs[0]}: ${String(error)}`);
    }
  }
}
