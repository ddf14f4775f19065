/**
 * The supervisor shell: carries out what the supervisor policy (policy.ts, pure) decides, on real worker
 * processes and timers, and turns what the workers do back into policy events.
 *
 * It owns the worker processes (by their id in the policy's state), starting them (#newWorker, with the
 * wiring of each worker's events: ready, loadFailed, idle, exit), retiring them with a grace period,
 * killing them, the policy's wake-up timer, the boot of the first generation, and the live worker count
 * published on the workers channel (StatsD). The requests are the dispatch queue's business
 * (src/bridge/dispatch-queue.ts): the shell calls back into its host (the Python backend) to pump the
 * queue, re-queue what a dead worker never started, and check whether a closing pool has drained.
 */
import { randomInt } from 'node:crypto';
import type { ForkServers } from '../bridge/fork-server.js';
import type { Dispatch, WorkerLaunch } from '../bridge/worker-process.js';
import { WorkerProcess } from '../bridge/worker-process.js';
import { AppLoadError } from '../errors/registry.js';
import { workersChanged } from '../observability/channels.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { callHook } from '../server/hooks.js';
import type { Settings } from '../settings/definitions.js';
import { initialState, type SupervisorEvent, type SupervisorState, step } from './policy.js';

/** What the shell needs from the pool it runs in. */
export interface ShellHost {
  /** Hands queued requests to workers (after every policy step, and when a worker is idle). */
  pump(): void;
  /** While closing: resolves the wait once nothing is queued or running. */
  checkDrained(): void;
  /** Puts back at the head of the queue the requests a dead worker held but never started. */
  requeue(unstarted: readonly Dispatch[]): void;
  /** /metrics, once attached. */
  metrics(): Metrics | null;
  /** --reload: the files a worker had imported when it became ready (watched silently). */
  addSources(files: readonly string[]): void;
  /** --reload: files a worker imported after READY (a SOURCES frame). */
  moreSources(files: readonly string[]): void;
}

export class SupervisorShell {
  readonly #log: Logger;
  readonly #settings: Settings;
  readonly #host: ShellHost;
  #launch: WorkerLaunch | null = null;
  /** --preload: the fork servers that workers are forked from (fork-server.ts); null when Node spawns them. */
  #forks: ForkServers | null = null;
  /** Every worker process not yet gone, by its id in the supervisor's state. */
  readonly #workers = new Map<number, WorkerProcess>();
  #supervisor: SupervisorState;
  #wake: NodeJS.Timeout | undefined;
  /** While starting: settles once the first generation is ready, or the app failed to load. */
  #booting: { resolve(): void; reject(error: Error): void } | null = null;
  /** Set once the pool stops: at close, or when the app failed to load at start. */
  closing = false;
  /** Workers started so far: each one's age (Gunicorn's worker.age). */
  #age = 0;
  /** The live worker count last published on the workers channel. */
  #published = -1;
  /** The object published as the source on the workers channel (the backend). */
  readonly #source: object;

  constructor(settings: Settings, log: Logger, host: ShellHost, source: object) {
    this.#settings = settings;
    this.#log = log;
    this.#host = host;
    this.#source = source;
    const { workers, max_workers: max, scale_down_delay: delay } = settings;
    this.#supervisor = initialState(workers, { max, cooldown: delay * 1000 });
  }

  /** Every worker process not yet gone, by id (the dispatch queue reads it). */
  get workers(): ReadonlyMap<number, WorkerProcess> {
    return this.#workers;
  }

  get supervisor(): SupervisorState {
    return this.#supervisor;
  }

  /** How workers are started; until it is set (start), the policy's spawns start nothing. */
  set launch(launch: WorkerLaunch) {
    this.#launch = launch;
  }

  /** Starts the first generation: resolves once `target` workers are ready, rejects if the app cannot load. */
  boot(forks: ForkServers | null): Promise<void> {
    this.#forks = forks;
    return new Promise<void>((resolvePromise, reject) => {
      this.#booting = { resolve: resolvePromise, reject };
      this.apply({ type: 'tick' });
    });
  }

  /** Stops the wake-up timer (the pool is closed). */
  stopTimer(): void {
    clearTimeout(this.#wake);
  }

  /** Feeds an event to the supervisor policy (src/supervisor/policy.ts) and carries out what it decides. */
  apply(event: SupervisorEvent): void {
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
          this.#wake = setTimeout(() => this.apply({ type: 'tick' }), action.at - performance.now());
          this.#wake.unref();
          break;
        case 'reloaded':
          this.#forks?.retireBelow(action.generation);
          for (const worker of this.#workers.values())
            if (worker.state === 'retiring') this.#host.metrics()?.restarted('reload');
          this.#log.info(`Reloaded: workers now ${this.readyPids().join(', ')}`);
          break;
        case 'reloadFailed':
          this.#log.error('Reload failed; the current workers keep serving.');
          break;
        case 'log':
          this.#log[action.level](action.message);
          break;
      }
    }
    this.#host.pump();
  }

  readyPids(): number[] {
    const pids: number[] = [];
    for (const w of this.#workers.values()) if (w.state === 'ready') pids.push(w.pid);
    return pids;
  }

  /** Some worker is running a request. */
  busy(): boolean {
    for (const worker of this.#workers.values()) if (worker.inFlight.size > 0) return true;
    return false;
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
    const host = this.#host;
    return new WorkerProcess(launch, limit, age, {
      ready: (worker) => {
        if (this.#booting === null) this.#log.info(`Booting worker with pid: ${worker.pid}`);
        host.addSources(worker.sources);
        this.apply({ type: 'booted', id });
        this.#publishCount();
        callHook(this.#log, 'post_worker_init', postWorkerInit, { pid: worker.pid, age });
        if (this.#booting !== null && this.readyPids().length >= this.#supervisor.target) {
          this.#booting.resolve();
          this.#booting = null;
        }
      },
      sources: (_worker, files) => host.moreSources(files),
      loadFailed: (worker, traceback) => {
        if (this.#booting !== null) {
          // At start a broken app is an error to report and exit with, not a worker to keep respawning.
          const booting = this.#booting;
          this.#booting = null;
          this.closing = true;
          this.apply({ type: 'halt' });
          // One line when the reference names nothing loadable; the traceback when importing the app raised.
          const why = traceback.trimEnd();
          booting.reject(
            new AppLoadError(`the application could not be loaded:${why.includes('\n') ? '\n' : ' '}${why}`),
          );
          return;
        }
        const why = traceback.trimEnd();
        this.#log.error(
          `Worker (pid:${worker.pid}) failed to load the application:${why.includes('\n') ? '\n' : ' '}${why}`,
        );
        this.apply({ type: 'bootFailed', id });
      },
      idle: (worker) => {
        if (worker.state === 'ready' && worker.served >= worker.maxRequests) {
          this.#log.info(`Worker (pid:${worker.pid}) reached max requests (${worker.served}); replacing it`);
          host.metrics()?.restarted('max_requests');
          this.apply({ type: 'recycle', id, reason: 'max_requests' });
        }
        host.pump();
        host.checkDrained();
      },
      exit: (worker, code, signal, unstarted) => {
        const record = this.#supervisor.workers.get(id);
        this.#workers.delete(id);
        host.requeue(unstarted);
        if (this.#booting !== null && record?.phase === 'booting') {
          const booting = this.#booting;
          this.#booting = null;
          this.closing = true;
          this.apply({ type: 'halt' });
          booting.reject(
            new AppLoadError(`worker (pid:${worker.pid}) exited (${signal ?? `code ${code}`}) while booting`),
          );
        } else if (!this.closing && record !== undefined && record.phase !== 'draining') {
          host.metrics()?.restarted(worker.timedOut ? 'timeout' : 'crash');
          this.#log.warning(
            `Worker (pid:${worker.pid}) exited (${signal ?? `code ${code}`}); starting a new one`,
          );
        }
        this.apply({ type: 'exited', id });
        this.#publishCount();
        callHook(this.#log, 'worker_exit', workerExit, { pid: worker.pid, age, exitCode: code, signal });
        host.checkDrained();
      },
    });
  }

  /** Publishes the number of ready workers when it changed (StatsD's gunicorn.workers gauge). */
  #publishCount(): void {
    if (!workersChanged.hasSubscribers) return;
    const count = this.readyPids().length;
    if (count === this.#published) return;
    this.#published = count;
    workersChanged.publish({ source: this.#source, count });
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
}
