/**
 * HTTP/1.1 pipelining with bounds (RFC 9112 §9.3.2 lets a client send requests before the responses to
 * the earlier ones). node:http parses every request that arrives and queues their responses in order; on
 * its own it would hand all of them to the app at once, so one connection could run thousands of
 * requests and hold all their responses. Here:
 *   - one request per connection is served at a time: the next is handed on only once the response before
 *     it has been taken by the client (its 'close'), so a connection holds at most one response;
 *   - requests that arrive behind it wait, parsed but not dispatched; past MAX_WAITING the socket is not
 *     read any more until they have been served (what one read already brought is still parsed);
 *   - once a response closes the connection (an error, `Connection: close`, HTTP/1.0) or the client has
 *     gone, nothing more is dispatched: requests behind a refused one never reach the app.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Requests that may wait behind the one being served before the connection stops being read. */
export const MAX_WAITING = 16;
/** ... and the number it must come down to before reading starts again. */
const RESUME_AT = 4;

export type Serve = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => void;

interface Waiting {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly expectsContinue: boolean;
}

const pipelines = new WeakMap<Socket, Pipeline>();

/** The pipeline of `req`'s connection (made on its first request). */
export function pipelineOf(req: IncomingMessage, serve: Serve): Pipeline {
  const socket = req.socket;
  let pipeline = pipelines.get(socket);
  if (pipeline === undefined) {
    pipeline = new Pipeline(socket, serve);
    pipelines.set(socket, pipeline);
  }
  return pipeline;
}

export class Pipeline {
  readonly #socket: Socket;
  readonly #serve: Serve;
  #current: ServerResponse | null = null;
  #waiting: Waiting[] = [];
  #ended = false;
  #paused = false;
  /** Whether the socket's `_paused` flag has been made to include this pipeline's pause. */
  #flagged = false;

  constructor(socket: Socket, serve: Serve) {
    this.#socket = socket;
    this.#serve = serve;
    socket.once('close', this.#end);
  }

  /** Requests parsed and waiting behind the one being served. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Serves the request now, or once those before it are done; drops it once the connection has ended. */
  submit(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    if (this.#ended) return;
    if (this.#current === null) {
      this.#run(req, res, expectsContinue);
      return;
    }
    this.#waiting.push({ req, res, expectsContinue });
    if (this.#waiting.length >= MAX_WAITING && !this.#paused) this.#pause();
  }

  /**
   * Stops reading the connection. node:http keeps its own flag for this (`socket._paused`, set when
   * responses back up) and clears it, resuming the socket, whenever its output drains or a request body
   * is read, neither of which says anything about requests waiting here. So the flag reads as set while
   * this pipeline is paused, whatever node:http writes to it; node:http then also stops its parser.
   */
  #pause(): void {
    this.#paused = true;
    const socket = this.#socket as Socket & { _paused?: boolean };
    if (!this.#flagged) {
      this.#flagged = true;
      let nodePaused = socket._paused === true;
      Object.defineProperty(socket, '_paused', {
        configurable: true,
        enumerable: true,
        get: () => nodePaused || this.#paused,
        set: (value: boolean) => {
          nodePaused = value;
        },
      });
    }
    socket.pause();
  }

  #resume(): void {
    this.#paused = false;
    const socket = this.#socket as Socket & { _paused?: boolean; parser?: { resume(): void } | null };
    // As node:http resumes when its own reason to pause has gone (socketOnDrain).
    if (socket._paused) return;
    socket.parser?.resume();
    socket.resume();
  }

  #run(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    this.#current = res;
    res.on('close', this.#done);
    this.#serve(req, res, expectsContinue);
  }

  /** The current response is over (sent in full, or cut short). */
  #done = (): void => {
    const res = this.#current!;
    this.#current = null;
    if (!res.shouldKeepAlive || !res.writableFinished) {
      this.#end();
      return;
    }
    const next = this.#waiting.shift();
    if (this.#paused && this.#waiting.length <= RESUME_AT) this.#resume();
    if (next !== undefined) this.#run(next.req, next.res, next.expectsContinue);
  };

  #end = (): void => {
    this.#ended = true;
    this.#waiting = [];
  };
}
