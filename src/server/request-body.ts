/**
 * Receiving a request body completely before any worker is involved, so a slow upload costs Node memory
 * (or disk) and never a Python worker. Small bodies stay in memory; past `memoryLimit` they are spooled
 * to a temporary file that has no name (nothing is left on disk after a crash); past `limit` the request
 * is refused with 413. A client must send each 64 KiB of its body (all of it, when shorter) within
 * `timeout` seconds, else it gets 408: a silent client is caught after `timeout`, and so is one that
 * trickles a byte now and then (which a pure idle timeout would let hold its connection forever); any
 * client faster than 64 KiB per `timeout` (about 1 KiB/s by default) never meets it.
 *
 * What arrives is copied into blocks Node owns: a body with a Content-Length within the memory limit gets
 * one buffer of exactly that size, anything else 64 KiB blocks. So a body sent as many tiny chunks costs
 * its bytes, not a Buffer object (and the socket read it came from) per chunk, and memory is counted in
 * bytes allocated.
 */
import { constants } from 'node:fs';
import { type FileHandle, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestBodyError } from '../errors/registry.js';
import { forbiddenTrailer } from '../http/request-checks.js';
import { AnonymousFile } from './anonymous-file.js';
import { CopyPool } from './copy-pool.js';
import type { ServerRequest } from './response-writer.js';

/**
 * A body in memory, or in a file. `release`, when present, gives the memory back to the pool it came from
 * once its reader is done with it (a worker's socket has taken it); a body never released is just
 * garbage-collected.
 */
export type ReceivedBody =
  | { readonly kind: 'memory'; readonly data: Buffer | null; readonly release?: () => void }
  | { readonly kind: 'file'; readonly path: string; readonly length: number; dispose(): Promise<void> };

export const NO_BODY: ReceivedBody = Object.freeze({ kind: 'memory', data: null });

/**
 * Where a body with a Content-Length gets its one buffer: memory reused once a worker's socket has taken
 * the body, rather than a new Buffer per request (copy-pool.ts says why).
 */
const BODIES = new CopyPool();

/** Chunked bodies are gathered in blocks of this size, and spooled bodies written in them. */
const BLOCK = 64 * 1024;
/** The body timeout restarts each time this many more bytes have arrived. */
const PROGRESS = 64 * 1024;

/** `bodyLength` is the declared length: 0 for no body, -1 for chunked. `timeout` in seconds, 0 = none. */
export function receiveBody(
  req: ServerRequest,
  bodyLength: number,
  limit: number,
  memoryLimit: number,
  timeout = 0,
): Promise<ReceivedBody> {
  if (bodyLength === 0) return Promise.resolve(NO_BODY);
  return new Promise((resolve, reject) => {
    new Receiver(req, bodyLength, limit, memoryLimit, timeout * 1000, resolve, reject);
  });
}

class Receiver {
  /** Payload bytes received. */
  #length = 0;
  /** Full blocks: the body so far while in memory; blocks waiting to be written once spooling. */
  readonly #blocks: Buffer[] = [];
  /** Bytes allocated to blocks held in memory (while in memory; `memoryLimit` bounds it). */
  #allocated = 0;
  #block: Buffer | null = null;
  /** Gives the block back to BODIES, when it came from there. */
  #release: (() => void) | null = null;
  #fill = 0;
  #spool: Spool | null = null;
  /** Spooling has begun: the file is being created or blocks are being written; `req` is paused. */
  #spooling = false;
  #writing = false;
  #ended = false;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;
  /** When the body timeout last restarted (ms, monotonic): at the start, at each PROGRESS bytes, and
   * when receiving resumed after a pause for the disk. */
  #since = performance.now();
  /** #length when it last restarted. */
  #mark = 0;

  constructor(
    readonly req: ServerRequest,
    readonly declared: number,
    readonly limit: number,
    readonly memoryLimit: number,
    readonly timeoutMs: number,
    readonly resolve: (body: ReceivedBody) => void,
    readonly reject: (error: Error) => void,
  ) {
    req.on('data', this.#onData);
    req.once('error', this.#fail);
    req.once('aborted', this.#onAborted);
    req.once('end', this.#onEnd);
    if (timeoutMs > 0) this.#timer = setTimeout(this.#checkProgress, timeoutMs);
    // A declared length past the memory limit goes to disk from its first byte.
    if (declared > memoryLimit) this.#startSpooling();
  }

  /**
   * One timer per body, never re-armed per chunk: when it fires it looks at how long ago the timeout
   * restarted and either fails the request or sleeps for what is left of it.
   */
  #checkProgress = (): void => {
    if (this.#settled) return;
    const now = performance.now();
    // Waiting for the disk (req is paused) is not the client's slowness.
    if (this.#spooling && (this.#spool === null || this.#writing)) this.#since = now;
    const spent = now - this.#since;
    if (spent >= this.timeoutMs)
      this.#fail(
        new RequestBodyError(408, `the request body came slower than 64 KiB per ${this.timeoutMs / 1000} s`),
      );
    else this.#timer = setTimeout(this.#checkProgress, this.timeoutMs - spent);
  };

  #onData = (chunk: Buffer): void => {
    if (this.#settled) return;
    this.#length += chunk.length;
    if (this.#length - this.#mark >= PROGRESS) {
      this.#mark = this.#length;
      this.#since = performance.now();
    }
    if (this.limit > 0 && this.#length > this.limit) {
      this.#fail(new RequestBodyError(413, `request body larger than ${this.limit} bytes`));
      return;
    }
    if (!this.#spooling && this.#length > this.memoryLimit) this.#startSpooling();
    let at = 0;
    while (at < chunk.length) {
      let block = this.#block;
      if (block === null || this.#fill === block.length) block = this.#newBlock();
      const n = chunk.copy(block, this.#fill, at);
      this.#fill += n;
      at += n;
    }
    if (this.#spooling && this.#blocks.length > 0) this.#write();
  };

  #newBlock(): Buffer {
    if (this.#block !== null) this.#blocks.push(this.#block);
    this.#fill = 0;
    if (!this.#spooling && this.#allocated === 0 && this.declared > 0) {
      // The whole declared body, within memoryLimit (else spooling would have begun): one pooled block.
      const piece = BODIES.take(this.declared);
      this.#allocated = this.declared;
      this.#release = piece.release;
      this.#block = piece.bytes;
      return this.#block;
    }
    let size = BLOCK;
    if (!this.#spooling) {
      // In memory the body is within memoryLimit (else spooling would have begun): so are its blocks.
      size = Math.min(BLOCK, this.memoryLimit - this.#allocated);
      this.#allocated += size;
    }
    this.#block = Buffer.allocUnsafe(size);
    return this.#block;
  }

  #startSpooling(): void {
    this.#spooling = true;
    // Blocks written to a file outlive their release: a pooled one is left to the garbage collector.
    this.#release = null;
    this.#allocated = 0;
    this.req.pause();
    openSpool().then((spool) => {
      if (this.#settled) {
        void spool.dispose();
        return;
      }
      this.#spool = spool;
      this.#write();
    }, this.#fail);
  }

  /** Writes the waiting blocks one after the other (appends never overlap), `req` paused meanwhile. */
  #write(): void {
    const spool = this.#spool;
    if (spool === null || this.#writing) return;
    this.#writing = true;
    this.req.pause();
    void (async () => {
      let failure: Error | null = null;
      try {
        for (let block = this.#blocks.shift(); block !== undefined; block = this.#blocks.shift()) {
          await spool.append(block);
          if (this.#settled) break;
        }
      } catch (error) {
        failure = error as Error;
      }
      this.#writing = false;
      if (this.#settled) {
        // Failed meanwhile (#fail left the file alone): closed only now that no write is in flight, as a
        // descriptor closed under a pending write could be reused by another file before the write runs.
        void spool.dispose();
        return;
      }
      if (failure !== null) {
        this.#fail(failure);
        return;
      }
      if (this.#ended) this.#finishSpool(spool);
      else {
        this.#since = performance.now();
        this.req.resume();
      }
    })();
  }

  #onEnd = (): void => {
    if (this.#settled) return;
    const trailer = forbiddenTrailer(this.req.rawTrailers);
    if (trailer !== null) {
      this.#fail(
        new RequestBodyError(400, `${JSON.stringify(trailer.slice(0, 50))} is not allowed in a trailer`),
      );
      return;
    }
    this.#ended = true;
    const block = this.#block;
    const last = block === null ? null : this.#fill === block.length ? block : block.subarray(0, this.#fill);
    this.#block = null;
    if (this.#spooling) {
      if (last !== null && last.length > 0) this.#blocks.push(last);
      if (this.#spool !== null && !this.#writing) {
        if (this.#blocks.length > 0) this.#write();
        else this.#finishSpool(this.#spool);
      }
      return;
    }
    if (last !== null) this.#blocks.push(last);
    const blocks = this.#blocks;
    const data = blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, this.#length);
    const release = blocks.length === 1 ? this.#release : null;
    this.#release = null;
    this.#settle();
    this.resolve(release === null ? { kind: 'memory', data } : { kind: 'memory', data, release });
  };

  #finishSpool(spool: Spool): void {
    this.#settle();
    this.resolve({ kind: 'file', path: spool.path, length: this.#length, dispose: spool.dispose });
  }

  #onAborted = (): void =>
    this.#fail(new RequestBodyError(400, 'client closed the connection during the body'));

  #fail = (error: Error): void => {
    if (this.#settled) return;
    this.#settle();
    if (this.#spool !== null && !this.#writing) void this.#spool.dispose();
    this.reject(error);
  };

  #settle(): void {
    this.#settled = true;
    clearTimeout(this.#timer);
    this.req.off('data', this.#onData);
    this.req.off('error', this.#fail);
    this.req.off('aborted', this.#onAborted);
    this.req.off('end', this.#onEnd);
    this.#blocks.length = 0;
    this.#block = null;
    // Not handed on (failed, or copied into a whole): nothing refers to the pooled block any more.
    this.#release?.();
    this.#release = null;
  }
}

/** A spooled body: written by Node, opened by a worker at `path`, disposed of when the request is done. */
interface Spool {
  readonly path: string;
  append(data: Buffer): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A nameless file the worker opens through /proc; where the master has no usable /proc entry (it dropped
 * privileges with --user and became non-dumpable), a named 0600 file in a private 0700 directory, named
 * after this process so the next start removes it if this process dies first (removeStaleSpools).
 */
export async function openSpool(anonymous = true, dir = tmpdir()): Promise<Spool> {
  if (anonymous) {
    const file = await AnonymousFile.create(dir);
    const path = file.procPath;
    if (path !== null)
      return {
        path,
        append: (data) => file.append(data),
        dispose: async () => file.close(),
      };
    file.close();
  }
  const private_ = await mkdtemp(join(dir, `nodicorn-${process.pid}-`));
  const path = join(private_, 'body');
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    await rm(private_, { recursive: true, force: true });
    throw error;
  }
  let size = 0;
  let disposed: Promise<void> | undefined;
  return {
    path,
    append: async (data) => {
      for (let done = 0; done < data.length; ) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, size + done);
        done += bytesWritten;
      }
      size += data.length;
    },
    dispose: () => {
      disposed ??= handle.close().then(
        () => rm(private_, { recursive: true, force: true }),
        () => rm(private_, { recursive: true, force: true }),
      );
      return disposed;
    },
  };
}

/**
 * Removes what a dead nodicorn left in `dir`: the fallback spool directories (and files a crash caught
 * between creating and unlinking), `nodicorn-<pid>-…`, whose process no longer exists.
 */
export async function removeStaleSpools(dir = tmpdir()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /^nodicorn-(\d+)-/.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
