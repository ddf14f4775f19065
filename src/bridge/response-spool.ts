/**
 * One response's bytes between a Python worker and a client that may be slower than the app: nginx's
 * proxy buffering. What the client's socket cannot take yet is held in memory up to a per-response budget
 * (and while all responses together stay under a global ceiling), then appended to an anonymous file up
 * to a per-response cap. The worker only feels a slow client past that cap, through the credit its owner
 * (worker-process.ts) withholds while `overCap`; then for this one response, never for the worker.
 *
 * Order is kept by one rule: bytes go to memory only while the file holds nothing unsent, so memory is
 * always older than the file, and both are sent oldest first.
 */
import { AnonymousFile } from '../server/anonymous-file.js';
import { CopyPool } from '../server/copy-pool.js';
import type { ResponseWriter } from '../server/response-writer.js';

/** What a spool writes to: the parts of ResponseWriter it uses (a fake one in the unit tests). */
export type SpoolSink = Pick<
  ResponseWriter,
  'write' | 'onceDrained' | 'end' | 'abort' | 'unsentBytes' | 'buffered'
>;

export interface SpoolLimits {
  /** Bytes one response may hold in memory (--response-memory-limit). */
  readonly memory: number;
  /** Bytes one response may hold on disk (--response-disk-limit). */
  readonly disk: number;
  /** Bytes all responses together may hold in memory (--response-memory-total). */
  readonly totalMemory: number;
  /** A client that takes nothing for this long is dropped (--send-timeout; 0 = never). */
  readonly sendTimeoutMs: number;
}

/**
 * Bytes handed to the client's socket at once. node:http buffers whatever one write gives it, so big
 * chunks are cut, and writing stops once the socket holds SOCKET_AHEAD: beyond that, bytes are ours to
 * place. Not write()'s own signal, which says "full" for any chunk over 16 KiB even when the kernel took
 * it at once: waiting for 'drain' after every chunk costs a system call and an event-loop turn per 16 KiB
 * (a streamed MiB took 1.7× the CPU that way), where a socket that holds a few chunks sends them in one
 * writev.
 */
const SLICE = 64 * 1024;
const SOCKET_AHEAD = 256 * 1024;

/**
 * Bytes on their way to the file (in memory until the write completes). Past this the response counts as
 * over its cap, so a disk slower than the app slows the app down instead of filling memory.
 */
const APPEND_AHEAD = 512 * 1024;

/**
 * What all spools share: the global memory ceiling, one timer that drops clients that stopped, and the
 * pool that copies of the worker's bytes come from.
 */
export class SpoolBudget {
  readonly copies = new CopyPool();
  /** Bytes held in memory by every spool. */
  memoryInUse = 0;
  /** Bytes held on disk by every spool. */
  diskInUse = 0;
  readonly #stalled = new Set<ResponseSpool>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(readonly limits: SpoolLimits) {}

  /** Spools waiting for their client right now (for tests and metrics). */
  get waiting(): number {
    return this.#stalled.size;
  }

  stalled(spool: ResponseSpool): void {
    if (this.limits.sendTimeoutMs <= 0) return;
    this.#stalled.add(spool);
    if (this.#sweep === undefined) {
      this.#sweep = setInterval(this.#check, Math.min(1000, this.limits.sendTimeoutMs / 4));
      this.#sweep.unref();
    }
  }

  flowing(spool: ResponseSpool): void {
    this.#stalled.delete(spool);
    if (this.#stalled.size === 0 && this.#sweep !== undefined) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  #check = (): void => {
    const now = performance.now();
    for (const spool of this.#stalled) spool.checkProgress(now, this.limits.sendTimeoutMs);
  };
}

export class ResponseSpool {
  readonly #writer: SpoolSink;
  readonly #budget: SpoolBudget;
  readonly #limits: SpoolLimits;
  /** Called when held bytes went out to the client (the owner may grant credit again). */
  readonly #onRelease: () => void;
  readonly #onError: (message: string) => void;

  #memory: Buffer[] = [];
  #memoryBytes = 0;
  #file: AnonymousFile | null = null;
  /** Bytes given to the file (appended or being appended), and bytes of those sent to the client. */
  #fileQueued = 0;
  #fileSent = 0;
  /** Bytes given to the file whose write has not completed. */
  #appending = 0;
  /** File work (open, appends, reads) runs one step at a time, in order. */
  #fileOps: Promise<void> = Promise.resolve();
  #reading = false;
  /** The client's socket is full: nothing more is written until it drains. */
  #waiting = false;
  #ending = false;
  #closed = false;
  /** Unsent bytes in the socket at the last look, and when they last went down (send timeout). */
  #lastUnsent = -1;
  #lastProgress = 0;

  constructor(
    writer: SpoolSink,
    budget: SpoolBudget,
    onRelease: () => void,
    onError: (message: string) => void,
  ) {
    this.#writer = writer;
    this.#budget = budget;
    this.#limits = budget.limits;
    this.#onRelease = onRelease;
    this.#onError = onError;
  }

  /** Bytes taken from the worker and not yet handed to the client's socket. */
  get held(): number {
    return this.#memoryBytes + this.#fileQueued - this.#fileSent;
  }

  /** Whether the worker should wait: this response holds all it may. */
  get overCap(): boolean {
    return this.#appending >= APPEND_AHEAD || this.held >= this.#limits.memory + this.#limits.disk;
  }

  /**
   * Takes body bytes from the worker; never blocks, never refuses. `chunk` may be a view of a reused
   * read buffer: what is kept is copied (from the budget's pool for the socket, plainly when held).
   */
  push(chunk: Buffer): void {
    if (this.#closed) return;
    let rest = chunk;
    if (!this.#waiting && this.held === 0) {
      // The client keeps up (the common case): straight to its socket.
      const taken = this.#writeOut(rest, true);
      if (taken === rest.length) return;
      rest = rest.subarray(taken);
    }
    this.#hold(Buffer.from(rest));
  }

  /** The worker's response is complete: the writer ends once everything held has gone out. */
  end(): void {
    if (this.#closed) return;
    if (this.held === 0) this.#finish();
    else this.#ending = true;
  }

  /** The client is gone or the response failed: drops what is held (memory and file). */
  discard(): void {
    if (this.#closed) return;
    this.#close();
  }

  /** --send-timeout: called by the budget's sweep while this spool waits for its client. */
  checkProgress(now: number, timeoutMs: number): void {
    const unsent = this.#writer.unsentBytes;
    if (unsent !== this.#lastUnsent) {
      this.#lastUnsent = unsent;
      this.#lastProgress = now;
      return;
    }
    if (now - this.#lastProgress < timeoutMs) return;
    this.#onError(`the client took nothing for ${timeoutMs / 1000}s (--send-timeout); dropping it`);
    this.#close();
    this.#writer.abort();
  }

  /**
   * Writes `chunk` to the client in slices until its socket is full; returns the bytes written. A
   * `borrowed` chunk is copied first, a slice at a time, into pooled memory released by the write.
   */
  #writeOut(chunk: Buffer, borrowed = false): number {
    let at = 0;
    while (at < chunk.length) {
      const piece = chunk.subarray(at, at + SLICE);
      at += piece.length;
      this.#send(piece, borrowed);
      if (this.#writer.buffered >= SOCKET_AHEAD) {
        this.#wait();
        break;
      }
    }
    return at;
  }

  #send(piece: Buffer, borrowed: boolean): void {
    if (!borrowed) {
      this.#writer.write(piece);
      return;
    }
    const copy = this.#budget.copies.copy(piece);
    this.#writer.write(copy.bytes, copy.release);
  }

  /** Keeps bytes the client's socket cannot take yet; `chunk` is the spool's own (a copy). */
  #hold(chunk: Buffer): void {
    const n = chunk.length;
    const limits = this.#limits;
    const budget = this.#budget;
    if (
      this.#fileQueued === this.#fileSent &&
      this.#memoryBytes + n <= limits.memory &&
      budget.memoryInUse + n <= limits.totalMemory
    ) {
      this.#memory.push(chunk);
      this.#memoryBytes += n;
      budget.memoryInUse += n;
      return;
    }
    this.#fileQueued += n;
    this.#appending += n;
    budget.diskInUse += n;
    this.#fileOps = this.#fileOps
      .then(async () => {
        if (this.#closed) return;
        this.#file ??= await AnonymousFile.create();
        if (this.#closed) return this.#closeFile();
        await this.#file.append(chunk);
        const wasOver = this.#appending >= APPEND_AHEAD;
        this.#appending -= n;
        if (wasOver) this.#onRelease();
      })
      .catch(this.#fileFailed);
  }

  #wait(): void {
    if (this.#waiting) return;
    this.#waiting = true;
    this.#lastUnsent = -1;
    this.#lastProgress = performance.now();
    this.#budget.stalled(this);
    this.#writer.onceDrained(this.#drained);
  }

  #drained = (): void => {
    this.#waiting = false;
    this.#budget.flowing(this);
    if (!this.#closed) this.#flush();
  };

  /** Sends what is held, oldest first, until the client's socket is full again or nothing is left. */
  #flush(): void {
    let released = false;
    while (!this.#closed && !this.#waiting) {
      const first = this.#memory[0];
      if (first !== undefined) {
        const taken = this.#writeOut(first);
        if (taken === first.length) this.#memory.shift();
        else this.#memory[0] = first.subarray(taken);
        this.#memoryBytes -= taken;
        this.#budget.memoryInUse -= taken;
        released = true;
        continue;
      }
      if (this.#fileQueued > this.#fileSent) {
        this.#readFile();
        break;
      }
      if (this.#ending) this.#finish();
      break;
    }
    if (released) this.#onRelease();
  }

  /** Reads the file's next block (after any append still running) and writes it out. */
  #readFile(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#fileOps = this.#fileOps
      .then(async () => {
        if (this.#closed || this.#file === null) return;
        const want = Math.min(SLICE, this.#fileQueued - this.#fileSent);
        const data = await this.#file.readAt(this.#fileSent, want);
        this.#reading = false;
        if (this.#closed) return;
        if (data.length === 0) throw new Error('the buffer file is shorter than what was written to it');
        // What the socket does not take now is read again later: the page cache makes that cheap.
        const taken = this.#writeOut(data);
        this.#fileSent += taken;
        this.#budget.diskInUse -= taken;
        if (this.#fileSent === this.#fileQueued) {
          // Drained: the next stall starts a new, empty file.
          this.#closeFile();
          this.#fileQueued = 0;
          this.#fileSent = 0;
        }
        this.#onRelease();
        this.#flush();
      })
      .catch(this.#fileFailed);
  }

  #fileFailed = (error: unknown): void => {
    if (this.#closed) return;
    this.#onError(`buffering the response for a slow client failed: ${String(error)}`);
    this.#close();
    this.#writer.abort();
  };

  #finish(): void {
    this.#close();
    this.#writer.end();
  }

  #close(): void {
    this.#closed = true;
    this.#budget.flowing(this);
    this.#budget.memoryInUse -= this.#memoryBytes;
    this.#budget.diskInUse -= this.#fileQueued - this.#fileSent;
    this.#memoryBytes = 0;
    this.#memory = [];
    this.#fileQueued = 0;
    this.#fileSent = 0;
    this.#appending = 0;
    // After any file step in progress: it sees `closed` and stops.
    this.#fileOps = this.#fileOps.then(() => this.#closeFile());
  }

  #closeFile(): void {
    this.#file?.close();
    this.#file = null;
  }
}
