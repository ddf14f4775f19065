/**
 * One front as the primary sees it: the forked nodicorn process, its IPC channel (protocol.ts), and its
 * stdout and stderr relayed whole-line to the server's access log and error log (line-relay.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LogSink } from '../observability/logger.js';
import type { BoundSocket } from '../server/binds.js';
import { LineRelay } from './line-relay.js';
import {
  FRONT_ENV,
  type FromFront,
  isMessage,
  type RelayedSignal,
  type Scraped,
  type StartMessage,
  type ToFront,
} from './protocol.js';

/** The command-line shim: a front is nodicorn, run with the primary's own arguments. */
const CLI = fileURLToPath(new URL('../../../bin/nodicorn.js', import.meta.url));

/** How long a scrape waits for a front's answer before leaving it out. */
const SCRAPE_MS = 5000;

export interface FrontLaunch {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly sockets: readonly BoundSocket[];
  /** Where the front's stdout goes (the access log, or the server's stdout) and its stderr (the error log). */
  readonly stdout: LogSink;
  readonly stderr: LogSink;
}

export interface FrontEvents {
  ready(front: FrontProcess): void;
  exit(front: FrontProcess, how: string, code: number | null): void;
}

export class FrontProcess {
  readonly index: number;
  readonly #child: ChildProcess;
  state: 'starting' | 'ready' | 'gone' = 'starting';
  /** Whether it got as far as serving (a front that dies before is retried after a delay). */
  served = false;
  /** The Python workers' pids, as last reported. */
  workers: readonly number[] = [];
  /** Resolves once the process has exited. */
  readonly gone: Promise<void>;
  readonly #scrapes = new Map<number, (answer: Scraped | null) => void>();
  #scrapeId = 0;
  /** Whether `start` went out: from then on the front takes relayed signals (it queues early ones). */
  #started = false;

  constructor(index: number, start: StartMessage, launch: FrontLaunch, events: FrontEvents) {
    this.index = index;
    const env: Record<string, string | undefined> = { ...launch.env, [FRONT_ENV]: String(process.pid) };
    // systemd's sockets are the primary's (sd_listen_fds: for the process LISTEN_PID names).
    for (const name of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete env[name];
    const child = fork(CLI, [...launch.argv], {
      cwd: launch.cwd,
      env,
      execArgv: process.execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.#child = child;
    for (const [stream, sink] of [
      [child.stdout!, launch.stdout],
      [child.stderr!, launch.stderr],
    ] as const) {
      const relay = new LineRelay(sink);
      stream.on('data', (chunk: Buffer) => relay.push(chunk));
      stream.on('end', () => relay.end());
    }
    child.on('error', () => {}); // a send to a front that has just died; its exit is what counts
    child.on('message', (message: unknown) => {
      if (!isMessage<FromFront>(message)) return;
      if (message.t === 'hello') {
        for (const socket of launch.sockets)
          this.#send({ t: 'socket', address: socket.address, unixPath: socket.unixPath }, socket.handle);
        this.#send(start);
        this.#started = true;
      } else if (message.t === 'ready') {
        this.workers = message.workers;
        this.state = 'ready';
        this.served = true;
        events.ready(this);
      } else {
        this.workers = message.workers;
        this.#scrapes.get(message.id)?.(message);
      }
    });
    this.gone = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.state = 'gone';
        for (const answer of this.#scrapes.values()) answer(null);
        events.exit(this, signal === null ? `exit code ${code}` : `signal ${signal}`, code);
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  /** SIGTERM, SIGINT, SIGQUIT (the front drains as nodicorn does) or SIGKILL. */
  kill(signal: NodeJS.Signals): void {
    if (this.state !== 'gone') this.#child.kill(signal);
  }

  /** SIGHUP, SIGTTIN, SIGTTOU: over the channel (a front ignores them as signals). */
  relay(signal: RelayedSignal): boolean {
    if (!this.#started || this.state === 'gone') return false;
    this.#send({ t: 'signal', signal });
    return true;
  }

  /** The front's metrics and health, or null when it does not answer in time. */
  scrape(): Promise<Scraped | null> {
    if (this.state !== 'ready') return Promise.resolve(null);
    const id = ++this.#scrapeId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => answer(null), SCRAPE_MS);
      const answer = (scraped: Scraped | null) => {
        clearTimeout(timer);
        this.#scrapes.delete(id);
        resolve(scraped);
      };
      this.#scrapes.set(id, answer);
      this.#send({ t: 'scrape', id });
    });
  }

  #send(message: ToFront, handle?: object): void {
    if (!this.#child.connected) return;
    // A bound socket's handle goes as node:cluster sends its own (child_process's 'net.Native').
    this.#child.send(message, handle as Parameters<ChildProcess['send']>[1]);
  }
}
