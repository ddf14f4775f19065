/**
 * Reused memory for bytes on their way between a client and a worker. A worker's socket is read into one
 * buffer that every read reuses (bridge/frame-link.ts), so response bytes that must wait for a client's
 * socket are copied out first; a request body is gathered in one piece before a worker gets it. Both take
 * their memory from slabs this pool hands out again once every piece in them has been released (written).
 *
 * Why not a fresh Buffer per read, as node:net does by default: every Buffer is memory outside V8's heap,
 * and V8 answers each 64 MiB of it with a full mark-compact. A streamed response allocated its whole size
 * that way; at a few hundred MiB/s the front spent 30 % of its CPU in the garbage collector and twice the
 * CPU per streamed MiB it spends with this pool (docs/benchmarks.md).
 */

/** One slab: bytes handed out front to back, and how many copies in it are not yet released. */
class Slab {
  readonly memory: Buffer;
  used = 0;
  refs = 0;
  /** No longer the pool's current slab: it returns to the free list when its last copy is released. */
  retired = false;

  constructor(
    size: number,
    readonly recycle: (slab: Slab) => void,
  ) {
    this.memory = Buffer.allocUnsafeSlow(size);
  }

  readonly release = (): void => {
    if (--this.refs > 0) return;
    if (this.retired) this.recycle(this);
    // The current slab starts over once nothing in it is in use: steady traffic keeps reusing the same
    // (cache-warm) bytes.
    else this.used = 0;
  };
}

/** A copy and what to call once it has been written (and may be overwritten); calls after the first do nothing. */
export interface PooledCopy {
  readonly bytes: Buffer;
  readonly release: () => void;
}

const noop = (): void => {};

export class CopyPool {
  readonly #slabSize: number;
  readonly #keep: number;
  readonly #small: number;
  #current: Slab | null = null;
  readonly #free: Slab[] = [];

  /**
   * `slabSize`: bytes per slab; `keep`: free slabs kept for reuse (the rest go to the GC); copies under
   * `small` bytes, and over a quarter slab, are plain Buffers (Node pools the small ones itself).
   */
  constructor(slabSize = 1024 * 1024, keep = 8, small = 1024) {
    this.#slabSize = slabSize;
    this.#keep = keep;
    this.#small = small;
  }

  /** Free slabs held for reuse right now (for tests). */
  get idle(): number {
    return this.#free.length;
  }

  /** A copy of `bytes`; call its `release` once it is no longer needed (after its write completed). */
  copy(bytes: Uint8Array): PooledCopy {
    const copy = this.take(bytes.byteLength);
    copy.bytes.set(bytes);
    return copy;
  }

  /** `n` bytes of memory to fill (not zeroed); call `release` as for copy(). */
  take(n: number): PooledCopy {
    if (n < this.#small || n > this.#slabSize / 4) return { bytes: Buffer.allocUnsafe(n), release: noop };
    let slab = this.#current;
    if (slab === null || slab.used + n > this.#slabSize) slab = this.#next(slab);
    const view = slab.memory.subarray(slab.used, slab.used + n);
    slab.used += n;
    slab.refs++;
    // Once only: a second call would let the slab be reused under a copy still being written.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      slab.release();
    };
    return { bytes: view, release };
  }

  #next(full: Slab | null): Slab {
    if (full !== null) {
      full.retired = true;
      if (full.refs === 0) this.#recycle(full);
    }
    const slab = this.#free.pop() ?? new Slab(this.#slabSize, this.#recycle);
    this.#current = slab;
    return slab;
  }

  #recycle = (slab: Slab): void => {
    slab.used = 0;
    slab.retired = false;
    if (this.#free.length < this.#keep) this.#free.push(slab);
  };
}
