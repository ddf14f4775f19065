/**
 * The pool's dispatch queue: one FIFO of requests (Dispatch entries) waiting for a worker, and the pump
 * that hands them out.
 *
 * A request reaches the queue only once its body is fully received (request-body.ts), and goes to the
 * least busy ready worker, so a slow request never holds up the ones behind it while another worker is
 * free. This module owns the FIFO with its lazy-deletion holes (a request whose client left is dropped
 * where it stands), enqueueing and unqueueing, the pump (least busy worker first, then batching to a
 * flowing worker), --max-queue and --queue-timeout shedding (rules in queue-shedding.ts) and the queue
 * facts reported to the supervisor policy for autoscaling. Which workers exist is the supervisor shell's
 * business (src/supervisor/shell.ts): the queue only reads them.
 */
import type { Metrics } from '../observability/metrics.js';
import type { Exchange } from '../server/backend.js';
import { NO_BODY, type ReceivedBody } from '../server/request-body.js';
import type { Settings } from '../settings/definitions.js';
import { queueFull, refuse, type ShedReason, shedExpired, waitedTooLong } from './queue-shedding.js';
import type { Dispatch, WorkerProcess } from './worker-process.js';

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

/** What the queue looks like now: reported on a timer to the supervisor's policy, which scales on it. */
export interface QueueFacts {
  /** How long the oldest queued request has waited (ms; 0 when nothing waits). */
  readonly oldestWaitMs: number;
  readonly queued: number;
  /** Ready workers running nothing. */
  readonly idle: number;
}

export interface DispatchQueueOptions {
  readonly settings: Settings;
  /** Every worker process not yet gone (owned by the supervisor shell). */
  readonly workers: ReadonlyMap<number, WorkerProcess>;
  /** /metrics, once attached. */
  readonly metrics: () => Metrics | null;
  /** Called when a request leaves the queue without reaching a worker (closing waits for an empty pool). */
  readonly checkDrained: () => void;
}

export class DispatchQueue {
  readonly #settings: Settings;
  readonly #workers: ReadonlyMap<number, WorkerProcess>;
  readonly #metrics: () => Metrics | null;
  readonly #checkDrained: () => void;
  #queue: Dispatch[] = [];
  /** Entries of #queue dropped where they stood (their client left): skipped, then compacted away. */
  #holes = 0;
  /** A pump is scheduled for the next turn of the event loop (HTTP/2 requests wait for it). */
  #pumpScheduled = false;
  #nextId = 1;

  constructor(options: DispatchQueueOptions) {
    this.#settings = options.settings;
    this.#workers = options.workers;
    this.#metrics = options.metrics;
    this.#checkDrained = options.checkDrained;
  }

  /** Requests still waiting (dropped entries not counted). */
  get waiting(): number {
    return this.#queue.length - this.#holes;
  }

  /** --max-queue: true when the queue is full (a new request is refused at once). */
  full(): boolean {
    return queueFull(this.waiting, this.#settings.max_queue);
  }

  /** Sheds what waited past --queue-timeout. */
  shedExpired(now: number): void {
    const timeoutMs = this.#settings.queue_timeout * 1000;
    // Dropped entries go first, so that only requests still waiting are shed and counted.
    if (timeoutMs > 0 && this.#holes > 0) this.#compact();
    shedExpired(this.#queue, now, timeoutMs, (d) => {
      d.queued = false;
      this.#shed(d, 'queue_timeout', now);
    });
  }

  /** What the queue looks like now, for the supervisor policy (autoscaling). */
  facts(now: number): QueueFacts {
    let idle = 0;
    for (const w of this.#workers.values()) if (w.state === 'ready' && w.inFlight.size === 0) idle++;
    const head = this.#queue.find((d) => d.queued);
    return {
      oldestWaitMs: head === undefined ? 0 : now - head.queuedAt,
      queued: this.waiting,
      idle,
    };
  }

  /** Answers a queued request 503 without it ever reaching the app. */
  #shed(dispatch: Dispatch, reason: ShedReason, now: number): void {
    if (dispatch.body.kind === 'file') void dispatch.body.dispose();
    dispatch.exchange.writer.queueMs = now - dispatch.queuedAt;
    this.#metrics()?.shed(reason);
    refuse(dispatch.exchange);
  }

  enqueue(exchange: Exchange, body: ReceivedBody): void {
    if (exchange.writer.clientGone) {
      if (body.kind === 'file') void body.dispose();
      return;
    }
    if (queueFull(this.waiting, this.#settings.max_queue)) {
      if (body.kind === 'file') void body.dispose();
      this.#metrics()?.shed('queue_full');
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
    else this.pump();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.pump();
    });
  }

  /** Drops a request that waits in the queue, and the body it holds. */
  #unqueue(dispatch: Dispatch): void {
    dispatch.queued = false;
    dispatch.discard = true;
    if (dispatch.body.kind === 'file') void dispatch.body.dispose();
    else dispatch.body.release?.();
    dispatch.body = NO_BODY;
    const queue = this.#queue;
    if (queue[queue.length - 1] === dispatch) queue.pop();
    else if (queue[0] === dispatch) queue.shift();
    else if (++this.#holes > 64 && this.#holes * 2 > queue.length) this.#compact();
    if (this.#queue.length === this.#holes) {
      this.#queue.length = 0;
      this.#holes = 0;
    }
    this.#checkDrained();
  }

  /** Removes the dropped entries (holes) from the queue. */
  #compact(): void {
    this.#queue = this.#queue.filter((d) => d.queued);
    this.#holes = 0;
  }

  /** Puts back, at the head, the requests a dead worker held but never started. */
  requeue(unstarted: readonly Dispatch[]): void {
    for (const dispatch of unstarted) dispatch.queued = true;
    this.#queue.unshift(...unstarted);
  }

  /** Closing: fails (503) every request still waiting and empties the queue. */
  failAll(): void {
    for (const dispatch of this.#queue.splice(0)) {
      if (!dispatch.queued) continue;
      dispatch.queued = false;
      dispatch.exchange.writer.fail(503);
    }
    this.#holes = 0;
  }

  /** Hands queued requests to workers: a free thread first (least busy), else a flowing worker's queue. */
  pump(): void {
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
}
