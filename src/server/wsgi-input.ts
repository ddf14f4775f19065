/**
 * `wsgi.input` for TypeScript apps: a file-like reader over the request body stream, with PEP 3333's
 * read/readline/readlines/iteration (their results are Promises, the contract's third extension).
 * Reading past the body limit fails with a 413 RequestBodyError.
 */
import type { Bytes, WsgiInput } from '../contract/types.js';
import { RequestBodyError } from '../errors/registry.js';
import { forbiddenTrailer } from '../http/request-checks.js';

const EMPTY = new Uint8Array(0);
const NO_TRAILERS: readonly string[] = [];
const LF = 0x0a;
/**
 * Chunks smaller than this are copied into blocks of BLOCK bytes: a body sent as many tiny chunks, held
 * until the app reads it, then costs its bytes, not an object (and the socket read it came from) per chunk.
 */
const SMALL = 4096;
const BLOCK = 64 * 1024;

export class BodyReader implements WsgiInput {
  #source: AsyncIterator<Uint8Array> | null;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #received = 0;
  /** The block small chunks are copied into; bytes below #tailFill are in #chunks or were taken. */
  #tail: Uint8Array | null = null;
  #tailFill = 0;
  readonly #limit: number;

  /** The request's trailer fields (flattened), read once the body has ended. */
  readonly #trailers: (() => readonly string[]) | undefined;

  /**
   * `source` is null for a request without a body; `limit` 0 means unlimited; `trailers` gives the
   * trailer fields once the body has ended (a request's `rawTrailers`).
   */
  constructor(source: AsyncIterable<Uint8Array> | null, limit = 0, trailers?: () => readonly string[]) {
    this.#source = source === null ? null : source[Symbol.asyncIterator]();
    this.#limit = limit;
    this.#trailers = trailers;
  }

  async read(size = -1): Promise<Bytes> {
    if (size < 0) {
      while (await this.#pull());
      return this.#take(this.#buffered);
    }
    while (this.#buffered < size && (await this.#pull()));
    return this.#take(Math.min(size, this.#buffered));
  }

  async readline(size = -1): Promise<Bytes> {
    let scanned = 0;
    for (;;) {
      const at = this.#indexOfLf(scanned);
      if (at !== -1) return this.#take(size >= 0 ? Math.min(at + 1, size) : at + 1);
      if (size >= 0 && this.#buffered >= size) return this.#take(size);
      scanned = this.#buffered;
      if (!(await this.#pull()))
        return this.#take(size >= 0 ? Math.min(size, this.#buffered) : this.#buffered);
    }
  }

  async readlines(hint = -1): Promise<Bytes[]> {
    const lines: Bytes[] = [];
    let total = 0;
    for (;;) {
      const line = await this.readline();
      if (line.byteLength === 0) return lines;
      lines.push(line);
      total += line.byteLength;
      if (hint > 0 && total >= hint) return lines;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Bytes> {
    for (;;) {
      const line = await this.readline();
      if (line.byteLength === 0) return;
      yield line;
    }
  }

  /** Reads one more chunk from the source into the buffer; false at the end of the body. */
  async #pull(): Promise<boolean> {
    if (this.#source === null) return false;
    const next = await this.#source.next();
    if (next.done === true) {
      this.#source = null;
      // RFC 9110 §6.5.1: a request whose trailers carry framing, routing or authentication is malformed.
      const trailer = forbiddenTrailer(this.#trailers?.() ?? NO_TRAILERS);
      if (trailer !== null)
        throw new RequestBodyError(
          400,
          `${JSON.stringify(trailer.slice(0, 50))} is not allowed in a trailer`,
        );
      return false;
    }
    const chunk = next.value;
    this.#received += chunk.byteLength;
    if (this.#limit > 0 && this.#received > this.#limit) {
      this.#source = null;
      throw new RequestBodyError(413, `request body larger than ${this.#limit} bytes`);
    }
    if (chunk.byteLength < SMALL) this.#copyIn(chunk);
    else this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    return true;
  }

  #copyIn(chunk: Uint8Array): void {
    let tail = this.#tail;
    const at = this.#tailFill;
    if (tail === null || at + chunk.byteLength > tail.byteLength) {
      tail = this.#tail = new Uint8Array(BLOCK);
      this.#tailFill = 0;
    }
    const start = this.#tailFill;
    tail.set(chunk, start);
    this.#tailFill = start + chunk.byteLength;
    const last = this.#chunks.length - 1;
    const prev = this.#chunks[last];
    // The previous chunk ends where this one starts, in the same block: one chunk grows.
    if (prev !== undefined && prev.buffer === tail.buffer && prev.byteOffset + prev.byteLength === start)
      this.#chunks[last] = new Uint8Array(tail.buffer, prev.byteOffset, prev.byteLength + chunk.byteLength);
    else this.#chunks.push(tail.subarray(start, this.#tailFill));
  }

  #indexOfLf(from: number): number {
    let offset = 0;
    for (const chunk of this.#chunks) {
      if (from < offset + chunk.byteLength) {
        const at = chunk.indexOf(LF, Math.max(0, from - offset));
        if (at !== -1) return offset + at;
      }
      offset += chunk.byteLength;
    }
    return -1;
  }

  #take(n: number): Bytes {
    if (n === 0) return EMPTY;
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.byteLength === n) {
      this.#chunks.shift();
      return first;
    }
    if (first.byteLength > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const want = n - filled;
      if (chunk.byteLength <= want) {
        out.set(chunk, filled);
        filled += chunk.byteLength;
        this.#chunks.shift();
      } else {
        out.set(chunk.subarray(0, want), filled);
        this.#chunks[0] = chunk.subarray(want);
        filled = n;
      }
    }
    return out;
  }
}
