/**
 * The primary of several fronts (`--fronts N`): what the operator sees as the server. It binds the
 * sockets (as root when it must; it runs no application code), then forks the fronts, each a nodicorn
 * process that listens on those sockets, speaks HTTP and runs its share of the Python workers. The kernel
 * hands each new connection to one of the fronts waiting on a socket: nothing sits between a client and
 * the front that serves it.
 *
 * Like Gunicorn's arbiter it owns one pid file, one ready line, the signals and the server hooks; it
 * writes the fronts' log lines, whole, to the one error log and access log, serves /metrics summed over
 * the fronts, and replaces a front that dies. Signal handlers only enqueue; `#loop` acts.
 *
 *   SIGTERM, SIGINT   every front drains (within --graceful-timeout), then the primary exits
 *   SIGQUIT           every front stops at once
 *   SIGHUP            on_reload, then every front replaces its workers (none of their requests fails);
 *                     an in-process (TypeScript) app's fronts are replaced, one after the other
 *                     (each new one serving before the old one drains), so new code is loaded
 *   SIGTTIN, SIGTTOU  one worker more or fewer in all: the front with fewest (most) workers changes
 *   SIGUSR1           the log files are reopened (the fronts write none)
 */
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Logger, LogSink } from '../observability/logger.js';
import {
  activatedSockets,
  type BoundSocket,
  bindSocket,
  listen,
  parseBind,
  type SocketFileOptions,
} from '../server/binds.js';
import { answerHealth } from '../server/health.js';
import { awaitHook, callHook, type ServerInfo } from '../server/hooks.js';
import type { Settings } from '../settings/definitions.js';
import { frontForFewer, frontForMore, shareOut } from './count.js';
import { type FrontLaunch, FrontProcess } from './front-process.js';
import { mergeExpositions } from './metrics-merge.js';
import type { RelayedSignal } from './protocol.js';

export interface PrimaryOptions {
  readonly fronts: number;
  /** The command line and environment nodicorn was given: each front is started with them. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly settings: Settings;
  readonly log: Logger;
  readonly version: string;
  readonly stdout: LogSink;
  readonly accessLogSink: LogSink | undefined;
  /** SIGUSR1: reopens the log files. */
  readonly reopen: () => void;
  /** Subscribes to a process signal; returns the unsubscribe function. */
  readonly onSignal: (signal: NodeJS.Signals, handler: () => void) => () => void;
  /** The owner `unix:` socket files get (--user/--group). */
  readonly socketOwner: { readonly uid?: number; readonly gid?: number };
  /** Whether the app runs in Python workers (which TTIN and TTOU add and remove). */
  readonly python: boolean;
}

const HANDLED = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1'] as const;
type Handled = (typeof HANDLED)[number];

type Event =
  | { readonly kind: 'signal'; readonly signal: Handled }
  | { readonly kind: 'ready'; readonly front: FrontProcess }
  | {
      readonly kind: 'exit';
      readonly front: FrontProcess;
      readonly how: string;
      readonly code: number | null;
    };

/** A front that dies before it is ready is started again after this, doubled each time, at most 30 s. */
const RETRY_MS = 500;
const RETRY_MAX_MS = 30_000;
/** Past --graceful-timeout, how long fronts still get to exit before they are killed. */
const EXIT_MARGIN_MS = 10_000;

export function runPrimary(options: PrimaryOptions): Promise<number> {
  return new Primary(options).run();
}

class Primary {
  readonly #o: PrimaryOptions;
  readonly #log: Logger;
  /** The front in each place (index − 1), the latest one started there. */
  readonly #fronts: FrontProcess[] = [];
  /** Every front process not yet gone: those in #fronts and those draining after being replaced. */
  readonly #live = new Set<FrontProcess>();
  /** SIGHUP with an in-process app: the place being replaced, and the front that was there. */
  #roll: { readonly index: number; readonly old: FrontProcess } | null = null;
  /** Each place's share of the workers and of --max-workers. */
  readonly #shares: number[];
  readonly #maxShares: number[];
  /** Consecutive deaths before ready, by place (the retry delay). */
  readonly #failures: number[];
  readonly #retries = new Set<NodeJS.Timeout>();
  #sockets: BoundSocket[] = [];
  #addresses: string[] = [];
  #metricsServer: http.Server | null = null;
  #restarts = 0;
  #serving = false;
  #stopping = false;
  /** What the fronts are sent to stop: SIGTERM or SIGINT (drain), SIGQUIT (at once). */
  #stopSignal: NodeJS.Signals = 'SIGTERM';
  readonly #events: Event[] = [];
  #wake: (() => void) | null = null;
  readonly #info: ServerInfo;

  constructor(options: PrimaryOptions) {
    this.#o = options;
    this.#log = options.log;
    const { settings, fronts } = options;
    // Every front needs a worker of its own.
    const total = Math.max(settings.workers, fronts);
    this.#shares = shareOut(total, fronts);
    this.#maxShares = shareOut(settings.max_workers, fronts);
    this.#failures = new Array<number>(fronts).fill(0);
    const current = this.#fronts;
    const addresses = () => this.#addresses;
    this.#info = {
      pid: process.pid,
      get addresses() {
        return addresses();
      },
      settings,
      get workers() {
        return current.flatMap((front) => (front.state === 'gone' ? [] : front.workers));
      },
    };
  }

  async run(): Promise<number> {
    const { settings, fronts } = this.#o;
    const log = this.#log;
    if (settings.proc_name !== '') process.title = `nodicorn: master [${settings.proc_name}]`;
    log.info(`Starting nodicorn ${this.#o.version} with ${fronts} fronts`);
    try {
      if (settings.on_starting !== null) await settings.on_starting(settings);
    } catch (error) {
      log.critical(`on_starting hook failed; not starting\n${(error as Error)?.stack ?? String(error)}`);
      return 1;
    }
    if (this.#o.python && settings.workers < fronts)
      log.warning(
        `-w ${settings.workers} with --fronts ${fronts}: each front runs one worker, ${fronts} in all`,
      );
    // Before anything that takes time: a signal from now on is handled, never its default action.
    const off = HANDLED.map((signal) =>
      this.#o.onSignal(signal, () => this.#push({ kind: 'signal', signal })),
    );
    try {
      return await this.#serve();
    } finally {
      for (const unsubscribe of off) unsubscribe();
      for (const timer of this.#retries) clearTimeout(timer);
      this.#metricsServer?.close();
      this.#metricsServer?.closeAllConnections();
      for (const socket of this.#sockets) (socket.handle as { close(): void }).close();
      if (settings.pidfile !== '') rmSync(settings.pidfile, { force: true });
    }
  }

  async #serve(): Promise<number> {
    const { settings } = this.#o;
    try {
      await this.#bind();
    } catch (error) {
      this.#log.critical(`cannot listen: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    }
    if (settings.pidfile !== '') writeFileSync(settings.pidfile, `${process.pid}\n`);
    for (let index = 1; index <= this.#o.fronts; index++) this.#start(index);
    const failed = await this.#loop();
    await this.#stopFronts(failed === null ? this.#stopSignal : 'SIGTERM');
    if (failed !== null) return failed;
    this.#log.info('Shutdown complete');
    await awaitHook(this.#log, 'on_exit', settings.on_exit, settings.graceful_timeout * 1000, this.#info);
    return 0;
  }

  /** The sockets the fronts listen on, bound here; then /metrics, which the primary serves itself. */
  async #bind(): Promise<void> {
    const { settings, env } = this.#o;
    const socketFile: SocketFileOptions = {
      umask: settings.umask,
      mode: Number.parseInt(settings.socket_mode, 8),
      ...this.#o.socketOwner,
    };
    const activated = activatedSockets(env, process.pid);
    if (activated.length > 0)
      this.#log.info(`Using ${activated.length} socket(s) from systemd (LISTEN_FDS) instead of --bind`);
    const scheme = settings.certfile === '' ? 'http' : 'https';
    for (const text of activated.length > 0 ? activated : settings.bind) {
      const socket = await bindSocket(parseBind(text), scheme, socketFile);
      this.#sockets.push(socket);
      this.#addresses.push(socket.address);
    }
    if (settings.metrics_bind === '') return;
    const server = http.createServer((req, res) =>
      this.#answerMetrics(req, res).catch((error: unknown) => {
        this.#log.error(`/metrics failed: ${error instanceof Error ? error.message : String(error)}`);
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('metrics failed\n');
      }),
    );
    this.#metricsServer = server;
    this.#addresses.push(
      `${await listen(server, parseBind(settings.metrics_bind), 'http', socketFile)}/metrics`,
    );
  }

  #launch(): FrontLaunch {
    const stderr: LogSink = { write: (text) => this.#log.raw(text) };
    return {
      argv: this.#o.argv,
      env: this.#o.env,
      cwd: this.#o.cwd,
      sockets: this.#sockets,
      stdout: this.#o.accessLogSink ?? this.#o.stdout,
      stderr,
    };
  }

  #start(index: number): void {
    const start = {
      t: 'start',
      index,
      workers: this.#shares[index - 1]!,
      maxWorkers: this.#maxShares[index - 1]!,
    } as const;
    const front = new FrontProcess(index, start, this.#launch(), {
      ready: (front) => this.#push({ kind: 'ready', front }),
      exit: (front, how, code) => this.#push({ kind: 'exit', front, how, code }),
    });
    this.#fronts[index - 1] = front;
    this.#live.add(front);
  }

  #push(event: Event): void {
    this.#events.push(event);
    this.#wake?.();
  }

  async #next(): Promise<Event> {
    while (this.#events.length === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = null;
    return this.#events.shift()!;
  }

  /** Until a stop signal (→ null) or a front that fails to start at first (→ the exit code to return). */
  async #loop(): Promise<number | null> {
    const log = this.#log;
    for (;;) {
      const event = await this.#next();
      if (event.kind === 'ready') {
        const { front } = event;
        this.#failures[front.index - 1] = 0;
        if (this.#serving) log.info(`Front ${front.index} (pid ${front.pid}) is serving`);
        else if (this.#fronts.every((f) => f.state === 'ready')) this.#ready();
        if (this.#roll?.index === front.index) this.#rolled();
      } else if (event.kind === 'exit') {
        const { front, how, code } = event;
        this.#live.delete(front);
        if (this.#fronts[front.index - 1] !== front) continue;
        if (this.#roll?.index === front.index) {
          // The new front could not start: the old one, still serving, stays.
          log.error(
            `Front ${front.index} (pid ${front.pid}) exited (${how}) before it was ready; the fronts keep their code`,
          );
          this.#fronts[front.index - 1] = this.#roll.old;
          this.#roll = null;
          continue;
        }
        if (!this.#serving) {
          log.critical(
            `Front ${front.index} (pid ${front.pid}) exited (${how}) before it was ready; stopping`,
          );
          return code !== null && code !== 0 ? code : 1;
        }
        this.#restart(front, how);
      } else if (this.#signal(event.signal)) return null;
    }
  }

  #ready(): void {
    this.#serving = true;
    for (const address of this.#addresses) this.#log.info(`Listening at: ${address} (${process.pid})`);
    const fronts = this.#fronts.map((f) => f.pid).join(', ');
    this.#log.info(
      this.#o.python
        ? `Serving with ${this.#fronts.length} fronts (pids ${fronts}), workers ${this.#shares.join(' + ')}`
        : `Serving with ${this.#fronts.length} fronts (pids ${fronts})`,
    );
    callHook(this.#log, 'when_ready', this.#o.settings.when_ready, this.#info);
  }

  /** A front that has died is replaced; one that dies again before it is ready, after a growing delay. */
  #restart(front: FrontProcess, how: string): void {
    const place = front.index - 1;
    if (!front.served) this.#failures[place]!++;
    const delay = front.served ? 0 : Math.min(RETRY_MAX_MS, RETRY_MS * 2 ** (this.#failures[place]! - 1));
    this.#log.error(
      `Front ${front.index} (pid ${front.pid}) exited (${how}); starting another` +
        (delay > 0 ? ` in ${delay / 1000}s` : ''),
    );
    this.#restarts++;
    const timer = setTimeout(() => {
      this.#retries.delete(timer);
      if (!this.#stopping) this.#start(front.index);
    }, delay);
    this.#retries.add(timer);
  }

  /** Acts on a signal; true when it stops the server. */
  #signal(signal: Handled): boolean {
    const log = this.#log;
    switch (signal) {
      case 'SIGTERM':
      case 'SIGINT':
      case 'SIGQUIT':
        log.info(`Handling signal: ${signal.slice(3).toLowerCase()}: shutting down`);
        this.#stopSignal = signal;
        return true;
      case 'SIGUSR1':
        this.#o.reopen();
        return false;
      case 'SIGHUP':
        if (!this.#o.python) {
          this.#reloadFronts();
          return false;
        }
        log.info('Handling signal: hup; every front replaces its workers');
        callHook(log, 'on_reload', this.#o.settings.on_reload, this.#info);
        this.#relay('SIGHUP');
        return false;
      default:
        this.#resize(signal);
        return false;
    }
  }

  /** SIGHUP with an in-process app: each front in turn is replaced by a new one, which loads the app anew. */
  #reloadFronts(): void {
    if (this.#roll !== null || !this.#serving) {
      this.#log.info('Handling signal: hup; the fronts are being replaced already');
      return;
    }
    this.#log.info('Handling signal: hup; replacing every front, one at a time');
    callHook(this.#log, 'on_reload', this.#o.settings.on_reload, this.#info);
    this.#replace(1);
  }

  #replace(index: number): void {
    this.#roll = { index, old: this.#fronts[index - 1]! };
    this.#start(index);
  }

  /** The new front of the place being replaced serves: the old one drains, then the next place. */
  #rolled(): void {
    const { index, old } = this.#roll!;
    old.kill('SIGTERM');
    if (index < this.#fronts.length) this.#replace(index + 1);
    else {
      this.#roll = null;
      this.#log.info(`Replaced every front: pids now ${this.#fronts.map((f) => f.pid).join(', ')}`);
    }
  }

  #relay(signal: RelayedSignal, only?: number): void {
    for (const front of this.#fronts) if (only === undefined || front.index === only) front.relay(signal);
  }

  /** SIGTTIN, SIGTTOU: one worker more or fewer, from the front with fewest or most. */
  #resize(signal: 'SIGTTIN' | 'SIGTTOU'): void {
    const name = signal.slice(3).toLowerCase();
    if (!this.#o.python) {
      this.#relay(signal);
      return;
    }
    const place = signal === 'SIGTTIN' ? frontForMore(this.#shares) : frontForFewer(this.#shares);
    if (place === -1) {
      this.#log.info(`Handling signal: ${name}; each front is down to one worker, the least it can have`);
      return;
    }
    this.#shares[place]! += signal === 'SIGTTIN' ? 1 : -1;
    const total = this.#shares.reduce((a, b) => a + b, 0);
    this.#log.info(`Handling signal: ${name}; workers: ${total} (${this.#shares.join(' + ')})`);
    this.#relay(signal, place + 1);
  }

  /** Sends `signal` to every front, waits for them to exit, and kills what is left past the deadline. */
  async #stopFronts(signal: NodeJS.Signals): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#retries) clearTimeout(timer);
    const live = [...this.#live];
    for (const front of live) front.kill(signal);
    const grace = signal === 'SIGQUIT' ? 0 : this.#o.settings.graceful_timeout * 1000;
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all(live.map((front) => front.gone));
    const late = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), grace + EXIT_MARGIN_MS);
      }),
    ]);
    clearTimeout(timer);
    if (late)
      for (const front of live)
        if (front.state !== 'gone') {
          this.#log.warning(`Front ${front.index} (pid ${front.pid}) did not exit in time; killing it`);
          front.kill('SIGKILL');
        }
    await all;
  }

  /** /metrics summed over the fronts, and --health-path: ok while every serving front is. */
  async #answerMetrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { health_path: healthPath } = this.#o.settings;
    const serving = this.#fronts.filter((front) => front.state === 'ready');
    if (healthPath !== '' && req.url === healthPath) {
      const answers = await Promise.all(serving.map((front) => front.scrape()));
      const healthy = !this.#stopping && answers.length > 0 && answers.every((a) => a?.healthy === true);
      answerHealth(req, res, healthy);
      return;
    }
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const answers = await Promise.all(serving.map((front) => front.scrape()));
    const texts = answers.flatMap((a) => (a?.metrics == null ? [] : [a.metrics]));
    const body = mergeExpositions([...texts, this.#ownMetrics(serving.length)]);
    res.writeHead(200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  #ownMetrics(serving: number): string {
    return [
      '# HELP nodicorn_fronts Front processes serving.',
      '# TYPE nodicorn_fronts gauge',
      `nodicorn_fronts ${serving}`,
      '# HELP nodicorn_front_restarts_total Front processes replaced after they exited.',
      '# TYPE nodicorn_front_restarts_total counter',
      `nodicorn_front_restarts_total ${this.#restarts}`,
      '',
    ].join('\n');
  }
}
