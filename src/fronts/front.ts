/**
 * One front of several, as the front sees it: a nodicorn process started by the primary (primary.ts)
 * that serves like a nodicorn alone, except that its sockets, its share of the workers and some of its
 * signals come from the primary, and its logs, pid file, server hooks and /metrics endpoint are the
 * primary's (protocol.ts says what travels between them).
 */

import type { Metrics } from '../observability/metrics.js';
import type { ProcessIo } from '../observability/process-io.js';
import type { Backend } from '../server/backend.js';
import type { BoundSocket } from '../server/binds.js';
import type { Settings } from '../settings/definitions.js';
import {
  FRONT_ENV,
  type FromFront,
  isMessage,
  RELAYED,
  type RelayedSignal,
  type StartMessage,
  type ToFront,
} from './protocol.js';

/** Signals a front leaves to the primary when they come to it: the primary passes them on, once. */
const LEFT_TO_PRIMARY: readonly NodeJS.Signals[] = [...RELAYED, 'SIGUSR1'];
/** Signals that stop a front however they come: from the primary, or to the whole process group. */
const STOPPING: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];

export class FrontLink {
  readonly #sockets: BoundSocket[] = [];
  /** What the server subscribed to each signal (through `io`). */
  readonly #handlers = new Map<NodeJS.Signals, Set<() => void>>();
  /** Whether the server has subscribed to the stopping signals yet (it does once its workers are up). */
  #serving = false;
  /** Relayed signals that came before the server subscribed to them (while the workers boot). */
  #early: RelayedSignal[] = [];
  #start: StartMessage | null = null;
  #name = '';
  #onStart: ((start: StartMessage) => void) | null = null;
  #serve: ((message: ToFront) => void) | null = null;
  readonly #io: ProcessIo;

  /** The link when this process was started as a front (FRONT_ENV set and an IPC channel), else null. */
  static of(env: Readonly<Record<string, string | undefined>>, io: ProcessIo): FrontLink | null {
    if (env[FRONT_ENV] === undefined || process.send === undefined) return null;
    return new FrontLink(io);
  }

  private constructor(io: ProcessIo) {
    // A signal to the whole process group reaches the fronts too: these must neither stop a front
    // (SIGTTIN's default) nor end it (SIGHUP's), and act once, through the primary.
    for (const signal of LEFT_TO_PRIMARY) io.onSignal(signal, () => {});
    // These come twice when sent to the group (and passed on by the primary): the second, once the server
    // has unsubscribed as it drains, must not end the front with the default action.
    for (const signal of STOPPING) io.onSignal(signal, () => this.#stop(signal));
    this.#io = { ...io, onSignal: (signal, handler) => this.#subscribe(signal, handler) };
    process.on('message', (message: unknown, handle?: object) => {
      if (isMessage<ToFront>(message)) this.#receive(message, handle);
    });
    // The primary is gone (killed, say): drain and leave, as on SIGTERM.
    process.on('disconnect', () => this.#stop('SIGTERM'));
    this.#send({ t: 'hello' });
  }

  /** Before the server serves there is nothing to drain: the front leaves at once. */
  #stop(signal: NodeJS.Signals): void {
    if (!this.#serving) process.exit(1);
    for (const handler of this.#handlers.get(signal) ?? []) handler();
  }

  /**
   * What the server's lifecycle subscribes to (`io`): SIGTERM, SIGINT and SIGQUIT as they come, SIGTERM
   * also when the primary is gone; SIGHUP, SIGTTIN and SIGTTOU from the primary only; SIGUSR1 never (the
   * primary reopens the log files).
   */
  #subscribe(signal: NodeJS.Signals, handler: () => void): () => void {
    const handlers = this.#handlers.get(signal) ?? new Set();
    this.#handlers.set(signal, handlers.add(handler));
    if (STOPPING.includes(signal)) this.#serving = true;
    const early = this.#early.filter((s) => s === signal);
    this.#early = this.#early.filter((s) => s !== signal);
    for (const _ of early) queueMicrotask(handler);
    return () => handlers.delete(handler);
  }

  /** The primary's handover: resolves with the settings this front serves with. */
  async handoff(settings: Settings): Promise<Settings> {
    const start = this.#start ?? (await new Promise<StartMessage>((resolve) => (this.#onStart = resolve)));
    // Not passed on to the Python workers: they are not fronts.
    delete process.env[FRONT_ENV];
    this.#name = settings.proc_name;
    return Object.freeze({
      ...settings,
      workers: start.workers,
      max_workers: start.maxWorkers,
      // The primary writes the pid file and the logs (whole lines from this front's stdout and stderr),
      // runs the server hooks and serves /metrics.
      pidfile: '',
      errorlog: '-',
      accesslog: settings.accesslog === '' ? '' : '-',
      on_starting: null,
      when_ready: null,
      on_reload: null,
      on_exit: null,
    });
  }

  get index(): number {
    return this.#start?.index ?? 0;
  }

  /** The primary's sockets, listened on in place of --bind. */
  get sockets(): readonly BoundSocket[] {
    return this.#sockets;
  }

  /** What the server's lifecycle subscribes to signals through (see #subscribe). */
  get io(): ProcessIo {
    return this.#io;
  }

  /** Serving: tells the primary, and answers its scrapes from now on. */
  ready(backend: Backend, metrics: Metrics | undefined, workers: () => readonly number[]): void {
    process.title = `nodicorn: front ${this.index}${this.#name === '' ? '' : ` [${this.#name}]`}`;
    this.#serve = (message) => {
      if (message.t !== 'scrape') return;
      void (async () => {
        // A scrape that fails leaves this front's metrics out; the primary's answer goes on.
        const text = metrics === undefined ? null : await Promise.resolve(metrics.render()).catch(() => null);
        this.#send({
          t: 'scraped',
          id: message.id,
          metrics: text,
          healthy: backend.healthy(),
          workers: workers(),
        });
      })();
    };
    this.#send({ t: 'ready', workers: workers() });
  }

  #receive(message: ToFront, handle: object | undefined): void {
    if (message.t === 'socket' && handle !== undefined)
      this.#sockets.push({ handle, address: message.address, unixPath: message.unixPath });
    else if (message.t === 'start') {
      this.#start = message;
      this.#onStart?.(message);
    } else if (message.t === 'signal') {
      const handlers = this.#handlers.get(message.signal);
      if (handlers === undefined || handlers.size === 0) this.#early.push(message.signal);
      else for (const handler of handlers) handler();
    } else this.#serve?.(message);
  }

  #send(message: FromFront): void {
    // The channel closes when the primary goes; 'disconnect' then ends this front.
    if (process.connected) process.send!(message);
  }
}
