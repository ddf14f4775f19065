/**
 * One Python worker process seen from Node: spawning it, the frames to and from it, and what happens to
 * the requests it holds when it finishes, times out or dies. Which worker gets which request, and when
 * workers come and go, is the pool's business (dispatch-queue.ts, src/supervisor/shell.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { ResponseHeadError } from '../errors/registry.js';
import type { Logger } from '../observability/logger.js';
import type { Exchange } from '../server/backend.js';
import type { ReceivedBody } from '../server/request-body.js';
import { type FrameLink, linkedPair, plainLink } from './frame-link.js';
import { OutputLines } from './output-lines.js';
import {
  BODY,
  CANCEL,
  decodeHead,
  END,
  encodeCredit,
  encodeFrame,
  encodeRequestParts,
  FAIL,
  type Frame,
  FrameDecoder,
  HEAD,
  INITIAL_WINDOW,
  LOADFAIL,
  READY,
  SOURCES,
  WHOLE,
} from './protocol.js';
import { ResponseSpool, type SpoolBudget } from './response-spool.js';

/**
 * Credit goes back to the worker in batches of at least this many bytes (half its window, as HTTP/2
 * implementations send WINDOW_UPDATE): one small frame per half MiB, and the worker never runs dry.
 */
const CREDIT_BATCH = INITIAL_WINDOW / 2;

/**
 * After the worker exits, how long its socket may stay open before Node stops waiting for it: only a
 * process forked from the worker that kept a copy of it (the worker closes it at fork and exec) delays it.
 */
const SOCKET_LINGER_MS = 2000;

/** Body bytes are taken as they arrive: a BODY frame cut by a read is never copied to make it whole. */
const BODY_IN_PIECES: ReadonlySet<number> = new Set([BODY]);

/** Whole responses up to this size go to the socket at once; larger ones through a spool. */
const WHOLE_DIRECT = 64 * 1024;

/** A request handed to a worker. */
export interface Dispatch {
  readonly id: number;
  readonly exchange: Exchange;
  /** The request body; NO_BODY once a request dropped from the queue has let it go. */
  body: ReceivedBody;
  /** Waiting in the pool's queue (not handed to a worker, not dropped). */
  queued: boolean;
  /** When it joined the pool's queue (ms, monotonic): for --queue-timeout and the queue-wait metrics. */
  readonly queuedAt: number;
  /** When the worker started it (ms, monotonic); 0 while it waits behind another request. */
  started: number;
  timedOut: boolean;
  /** The client is gone or the response failed: later frames for it are dropped. */
  discard: boolean;
  /** Where a streamed response waits for a slow client; null until its first body bytes. */
  spool: ResponseSpool | null;
  /** BODY bytes taken from the worker and not yet credited back to it. */
  owed: number;
  /** Since when credit is withheld (the spool is over its cap; ms, monotonic), or 0. */
  stalledSince: number;
}

export interface WorkerLaunch {
  /** Requests the worker runs at once (--threads); more may wait in its socket (see the pool). */
  readonly threads: number;
  readonly python: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly log: Logger;
  /** Seconds a request may run before the worker is killed (0 = no limit). */
  readonly timeout: number;
  /** Buffering for slow clients, shared by every worker. */
  readonly spool: SpoolBudget;
  /** How the process is started and reached; default: spawned by Node (SpawnedHost). */
  readonly host?: WorkerHost;
}

/** What a WorkerProcess hears from the process it talks to. */
export interface WorkerHostEvents {
  /** The frame socket. */
  connected(link: FrameLink): void;
  /** The app could not be imported for this worker (by a fork server: the worker never existed). */
  loadFailed(traceback: string): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
}

/**
 * How a worker process is started and reached: spawned by Node with the socket on its stdio (SpawnedHost),
 * or forked by a fork server under --preload (fork-server.ts) onto a connection Node made to it.
 */
export interface WorkerHost {
  /** 0 until known. */
  readonly pid: number;
  start(events: WorkerHostEvents): void;
  kill(signal: NodeJS.Signals): void;
}

/**
 * A worker Node spawns itself: the frame socket is its fd 3 (one end of a linked pair, so Node reads into
 * a reused buffer; spawn's own pipe if the pair cannot be made), its output goes to the error log.
 */
export class SpawnedHost implements WorkerHost {
  readonly #launch: WorkerLaunch;
  readonly #age: number;
  #child: ChildProcess | null = null;
  /** A signal sent while the socket pair was being made: the worker is then never started. */
  #killedEarly: NodeJS.Signals | null = null;

  constructor(launch: WorkerLaunch, age: number) {
    this.#launch = launch;
    this.#age = age;
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  start(events: WorkerHostEvents): void {
    linkedPair().then(
      (pair) => this.#spawn(events, pair),
      () => this.#spawn(events, null),
    );
  }

  #spawn(events: WorkerHostEvents, pair: { link: FrameLink; far: Socket } | null): void {
    if (this.#killedEarly !== null) {
      pair?.far.destroy();
      pair?.link.socket.destroy();
      events.exit(null, this.#killedEarly);
      return;
    }
    const launch = this.#launch;
    let child: ChildProcess;
    try {
      child = spawn(launch.python, [...launch.args, String(this.#age)], {
        cwd: launch.cwd,
        env: launch.env,
        stdio: ['ignore', 'pipe', 'pipe', pair?.far ?? 'pipe'],
      });
    } catch (error) {
      pair?.link.socket.destroy();
      launch.log.error(
        `cannot start ${launch.python}: ${error instanceof Error ? error.message : String(error)}`,
      );
      events.exit(null, null);
      return;
    } finally {
      pair?.far.destroy(); // the child has its own copy of the descriptor
    }
    this.#child = child;
    // The app's stdout and stderr (and wsgi.errors) go to the error log, whole lines, each stream apart.
    forwardOutput(child, launch.log);
    child.on('error', (error) => launch.log.error(`cannot start ${launch.python}: ${error.message}`));
    child.on('exit', (code, signal) => events.exit(code, signal));
    events.connected(pair?.link ?? plainLink(child.stdio[3] as Socket));
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#child === null) this.#killedEarly ??= signal;
    else this.#child.kill(signal);
  }
}

/** A child's stdout and stderr into the error log, whole lines, each stream apart. */
export function forwardOutput(child: ChildProcess, log: Logger): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    const lines = new OutputLines((text) => log.raw(text));
    stream.on('data', (chunk: Buffer) => lines.push(chunk));
    stream.on('end', () => lines.flush());
  }
}

export type WorkerState = 'booting' | 'ready' | 'retiring' | 'dead';

export interface WorkerEvents {
  ready(worker: WorkerProcess): void;
  loadFailed(worker: WorkerProcess, traceback: string): void;
  /** --reload: source files of modules the app imported after READY (a SOURCES frame). */
  sources?(worker: WorkerProcess, files: readonly string[]): void;
  /** A request finished (any outcome): the worker may take another. */
  idle(worker: WorkerProcess): void;
  /**
   * The worker is gone: it has exited and every frame it wrote has been read (its socket closed).
   * `unstarted` are requests that were waiting in the worker and never ran: they can go elsewhere.
   */
  exit(
    worker: WorkerProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
    unstarted: Dispatch[],
  ): void;
}

function describe(dispatch: Dispatch): string {
  const env = dispatch.exchange.environ;
  return `${env.REQUEST_METHOD} ${env.RAW_URI}`;
}

export class WorkerProcess {
  state: WorkerState = 'booting';
  /** The worker was killed for running a request past --timeout. */
  timedOut = false;
  /** With --reload: the app's own source files the worker imported (READY's `files`). */
  sources: readonly string[] = [];
  /** Requests served, for --max-requests. */
  served = 0;
  /** Requests after which this worker retires (Infinity = never). */
  readonly maxRequests: number;
  /** This worker's sequence number since the server started (passed to it: Gunicorn's worker.age). */
  readonly age: number;
  readonly inFlight = new Map<number, Dispatch>();
  readonly #host: WorkerHost;
  /** The frame socket; null until a forked worker has connected (nothing is sent before READY). */
  #socket: Socket | null = null;
  readonly #decoder = new FrameDecoder(BODY_IN_PIECES);
  readonly #launch: WorkerLaunch;
  readonly #events: WorkerEvents;
  /** How the process ended, once it has; the worker is gone when its socket has closed too. */
  #ended: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  #socketClosed = false;
  #gone = false;
  #resolveGone!: () => void;
  /** Resolves when the worker is gone (see WorkerEvents.exit). */
  readonly gone = new Promise<void>((resolve) => {
    this.#resolveGone = resolve;
  });

  constructor(launch: WorkerLaunch, maxRequests: number, age: number, events: WorkerEvents) {
    const host = launch.host ?? new SpawnedHost(launch, age);
    this.#launch = launch;
    this.#events = events;
    this.maxRequests = maxRequests;
    this.age = age;
    this.#host = host;
    host.start({
      connected: (link) => {
        const socket = link.socket;
        this.#socket = socket;
        link.read((bytes) => this.#decoder.push(bytes, this.#onFrame));
        socket.on('error', () => {}); // the exit handler reports what matters
        socket.on('close', () => {
          this.#socketClosed = true;
          this.#checkGone();
        });
        if (this.state === 'retiring' && this.inFlight.size === 0) socket.end();
      },
      loadFailed: (traceback) => this.#events.loadFailed(this, traceback),
      exit: (code, signal) => {
        // No new request may come here; the frames it wrote before exiting are still being read: a
        // response it completed is delivered, not turned into a 502 (it exits right after the END).
        this.state = 'dead';
        this.#ended = { code, signal };
        if (this.#socket === null) this.#socketClosed = true; // a forked worker that never connected
        this.#checkGone();
        if (!this.#gone) setTimeout(() => this.#socket?.destroy(), SOCKET_LINGER_MS).unref();
      },
    });
  }

  #checkGone(): void {
    if (this.#gone || this.#ended === null || !this.#socketClosed) return;
    this.#gone = true;
    this.#onExit(this.#ended.code, this.#ended.signal);
    this.#resolveGone();
  }

  get pid(): number {
    return this.#host.pid;
  }

  /** Calls `listener` once the worker is gone (see `gone`). */
  onExit(listener: () => void): void {
    void this.gone.then(listener);
  }

  /**
   * Hands a request over. The body frame is written in one go: bodies were fully received already. The
   * worker runs requests in the order they were handed over, `threads` at a time.
   */
  dispatch(dispatch: Dispatch): void {
    this.inFlight.set(dispatch.id, dispatch);
    if (this.#running < this.#launch.threads) this.#start(dispatch);
    const body = dispatch.body;
    const parts = encodeRequestParts(
      dispatch.id,
      dispatch.exchange.environ,
      body.kind === 'memory' ? body.data : body.path,
    );
    const last = parts.length - 1;
    // A pooled body's memory is given back once the socket has taken it.
    for (let i = 0; i < last; i++) this.#send(parts[i]!);
    this.#send(parts[last]!, body.kind === 'memory' ? body.release : undefined);
    const res = dispatch.exchange.writer.response;
    res.once('close', () => {
      if (!res.writableFinished) this.#drop(dispatch);
    });
  }

  /**
   * The client is gone or the response cannot go on: what is held for it is freed and, while the app still
   * runs it, the worker is told to stop (PEP 3333 close() must still run: it stops iterating, closes, and
   * answers END).
   */
  #drop(dispatch: Dispatch): void {
    dispatch.spool?.discard();
    if (dispatch.discard || this.inFlight.get(dispatch.id) !== dispatch) return;
    dispatch.discard = true;
    if (this.state !== 'dead') this.#send(encodeFrame(CANCEL, dispatch.id));
  }

  /** Requests running now (the rest of inFlight waits behind them, in order). */
  #running = 0;

  #start(dispatch: Dispatch): void {
    this.#running++;
    dispatch.started = performance.now();
    if (this.#launch.timeout > 0 && this.#sweep === undefined) {
      // One timer per worker, not one per request: it looks at the running requests' ages.
      const every = Math.min(1000, this.#launch.timeout * 250);
      this.#sweep = setInterval(this.#checkTimeouts, every);
      this.#sweep.unref();
    }
  }

  /** Recent request time in ms (a moving average of start-to-finish), for the prefetch bound. */
  #serviceMs = 1;

  /**
   * How many requests may wait here behind the running ones: about `budgetMs` of work at the recent
   * request time, at most `max`. A fast app gets deep batches; one slower than the budget gets none.
   */
  prefetch(budgetMs: number, max: number): number {
    return Math.min(max, Math.floor(budgetMs / this.#serviceMs));
  }

  /**
   * Whether every request running here started less than `ms` ago: only then may more wait behind them.
   * A request that runs long keeps others off this worker.
   */
  flowing(now: number, ms: number): boolean {
    for (const dispatch of this.inFlight.values()) {
      if (dispatch.started === 0) break;
      if (now - dispatch.started >= ms) return false;
    }
    return true;
  }

  #corked = false;

  /**
   * Frames written during one turn of the event loop go out in one system call: requests read from many
   * client sockets in the same poll phase reach the worker together (a writev when the turn ends).
   */
  #send(frame: Buffer, onWritten?: () => void): void {
    const socket = this.#socket;
    if (socket === null) {
      onWritten?.();
      return;
    }
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      setImmediate(this.#uncork);
    }
    if (onWritten === undefined) socket.write(frame);
    else socket.write(frame, onWritten);
  }

  #uncork = (): void => {
    this.#corked = false;
    this.#socket?.uncork();
  };

  /** Stops taking requests; the worker exits once what it holds is done (it reads end-of-stream). */
  retire(): void {
    if (this.state === 'dead') return;
    this.state = 'retiring';
    if (this.inFlight.size === 0) this.#socket?.end();
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.state !== 'dead') this.#host.kill(signal);
  }

  /**
   * DESIGN promise 5: nothing a response does may take the master down. A frame that cannot be carried
   * out costs its own request a 500 (or an abort once headers are out) and a log line.
   */
  #onFrame = (frame: Frame): void => {
    try {
      this.#takeFrame(frame);
    } catch (error) {
      const dispatch = this.inFlight.get(frame.id);
      this.#launch.log.error(
        `${dispatch === undefined ? `request ${frame.id}` : describe(dispatch)}: cannot send the response: ${
          error instanceof Error ? error.stack : String(error)
        }`,
      );
      if (dispatch === undefined) return;
      this.#drop(dispatch);
      dispatch.exchange.writer.fail(500);
      if (frame.type === END || frame.type === WHOLE || frame.type === FAIL) this.#finish(dispatch);
    }
  };

  #takeFrame(frame: Frame): void {
    const { type, id, payload } = frame;
    if (id === 0) {
      if (type === READY && this.state === 'booting') {
        this.state = 'ready';
        this.sources = fileList(payload, 'files');
        this.#events.ready(this);
      } else if (type === LOADFAIL) this.#events.loadFailed(this, payload.toString('utf8'));
      else if (type === SOURCES) this.#events.sources?.(this, fileList(payload));
      return;
    }
    const dispatch = this.inFlight.get(id);
    if (dispatch === undefined) return;
    const writer = dispatch.exchange.writer;
    switch (type) {
      case BODY:
        if (dispatch.discard) this.#credit(dispatch, payload.length);
        else {
          dispatch.spool ??= this.#spoolFor(dispatch);
          dispatch.spool.push(payload);
          this.#credit(dispatch, payload.length);
        }
        return;
      case HEAD: {
        if (!dispatch.discard) this.#sendHead(dispatch, payload, -1);
        return;
      }
      case WHOLE: {
        const headLength = payload.readUInt32BE(0);
        const body = payload.subarray(4 + headLength);
        if (!dispatch.discard && this.#sendHead(dispatch, payload.subarray(4, 4 + headLength), body.length)) {
          if (body.length <= WHOLE_DIRECT) {
            // The frame is a view of a reused read buffer: the socket gets a copy.
            const copy = this.#launch.spool.copies.copy(body);
            writer.end(copy.bytes, copy.release);
          } else {
            // A big body would sit whole in the socket's buffer: it goes out through a spool instead.
            const spool = this.#spoolFor(dispatch);
            dispatch.spool = spool;
            spool.push(body);
            spool.end();
          }
        }
        this.#finish(dispatch);
        return;
      }
      case END:
        if (!dispatch.discard) {
          if (dispatch.spool === null) writer.end();
          else dispatch.spool.end();
        }
        this.#finish(dispatch);
        return;
      case FAIL:
        if (dispatch.discard)
          this.#launch.log.debug(`${describe(dispatch)} ended with an error after its client left`);
        else
          this.#launch.log.exception(
            `Error handling request ${describe(dispatch)}\n${payload.toString('utf8').trimEnd()}`,
          );
        dispatch.spool?.discard();
        writer.fail(500);
        this.#finish(dispatch);
        return;
    }
  }

  #spoolFor(dispatch: Dispatch): ResponseSpool {
    return new ResponseSpool(
      dispatch.exchange.writer,
      this.#launch.spool,
      () => this.#credit(dispatch, 0),
      (message) => this.#launch.log.warning(`${describe(dispatch)}: ${message}`),
    );
  }

  /**
   * Flow control: `bytes` more were taken off the worker for this request. Credit goes back in batches,
   * and not while the response's spool is over its cap: then only this request waits (protocol.ts).
   */
  #credit(dispatch: Dispatch, bytes: number): void {
    dispatch.owed += bytes;
    if (dispatch.owed < CREDIT_BATCH || this.inFlight.get(dispatch.id) !== dispatch) return;
    const spool = dispatch.spool;
    if (spool !== null && !dispatch.discard && spool.overCap) {
      if (dispatch.stalledSince === 0) dispatch.stalledSince = performance.now();
      return;
    }
    if (dispatch.stalledSince !== 0) {
      // Time spent waiting for a slow client is not the app's: --timeout counts from later.
      dispatch.started += performance.now() - dispatch.stalledSince;
      dispatch.stalledSince = 0;
    }
    this.#send(encodeCredit(dispatch.id, dispatch.owed));
    dispatch.owed = 0;
  }

  /** Sends a response head from the worker; an invalid one becomes a 500 (and later frames are dropped). */
  #sendHead(dispatch: Dispatch, payload: Buffer, knownLength: number): boolean {
    const writer = dispatch.exchange.writer;
    const head = decodeHead(payload);
    try {
      if (head === null) throw new ResponseHeadError('a NUL character in the status or a header');
      writer.sendHead(head.status, head.headers, knownLength);
      return true;
    } catch (error) {
      this.#launch.log.error(
        error instanceof ResponseHeadError
          ? `${describe(dispatch)}: invalid response from the application: ${error.message}`
          : `${describe(dispatch)}: cannot send the response head: ${error instanceof Error ? error.stack : String(error)}`,
      );
      this.#drop(dispatch);
      writer.fail(500);
      return false;
    }
  }

  #sweep: NodeJS.Timeout | undefined;

  /** --timeout: a request running longer gets its worker killed (checked a few times per timeout). */
  #checkTimeouts = (): void => {
    const limit = this.#launch.timeout * 1000;
    const now = performance.now();
    let running = 0;
    for (const dispatch of this.inFlight.values()) {
      if (dispatch.started === 0) break; // the rest wait behind the running ones
      running++;
      // A request held back by its slow client (credit withheld) is not running late: --send-timeout
      // deals with that client.
      if (dispatch.stalledSince !== 0) continue;
      if (!dispatch.timedOut && now - dispatch.started >= limit) this.#timedOut(dispatch);
    }
    if (running === 0 || this.state === 'dead') this.#stopSweep();
  };

  #stopSweep(): void {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  #finish(dispatch: Dispatch): void {
    if (dispatch.started !== 0)
      this.#serviceMs = 0.9 * this.#serviceMs + 0.1 * (performance.now() - dispatch.started);
    this.inFlight.delete(dispatch.id);
    if (dispatch.started !== 0) this.#running--;
    // The worker takes the next waiting request as soon as it is done with this one.
    for (const next of this.inFlight.values()) {
      if (this.#running >= this.#launch.threads) break;
      if (next.started === 0) this.#start(next);
    }
    this.served++;
    if (dispatch.body.kind === 'file') void dispatch.body.dispose();
    if (this.state === 'retiring' && this.inFlight.size === 0) this.#socket?.end();
    this.#events.idle(this);
  }

  #timedOut(dispatch: Dispatch): void {
    if (this.inFlight.get(dispatch.id) !== dispatch) return;
    dispatch.timedOut = true;
    this.timedOut = true;
    const seconds = ((performance.now() - dispatch.started) / 1000).toFixed(1);
    this.#launch.log.critical(
      `WORKER TIMEOUT (pid:${this.pid}) ${describe(dispatch)} ran for ${seconds}s; killing the worker`,
    );
    // SIGABRT first: faulthandler writes every thread's stack to the error log. SIGKILL if that is ignored.
    this.kill('SIGABRT');
    setTimeout(() => this.kill('SIGKILL'), 2000).unref();
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.state = 'dead';
    this.#socket?.destroy();
    const unstarted: Dispatch[] = [];
    this.#stopSweep();
    for (const dispatch of this.inFlight.values()) {
      if (dispatch.started === 0) {
        unstarted.push(dispatch);
        continue;
      }
      if (dispatch.body.kind === 'file') void dispatch.body.dispose();
      dispatch.spool?.discard();
      if (dispatch.timedOut) dispatch.exchange.writer.fail(504);
      else {
        this.#launch.log.error(
          `Worker (pid:${this.pid}) exited (${signal ?? `code ${code}`}) while serving ${describe(dispatch)}`,
        );
        dispatch.exchange.writer.fail(502);
      }
    }
    this.inFlight.clear();
    this.#running = 0;
    this.#events.exit(this, code, signal, unstarted);
  }
}

/** SOURCES' JSON list of files, or READY's JSON {pid, python, files?} (key 'files'); [] when unreadable. */
function fileList(payload: Buffer, key?: string): string[] {
  try {
    const json: unknown = JSON.parse(payload.toString('utf8'));
    const files = key === undefined ? json : (json as Record<string, unknown> | null)?.[key];
    return Array.isArray(files) ? files.filter((f): f is string => typeof f === 'string') : [];
  } catch {
    return [];
  }
}
