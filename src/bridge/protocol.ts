/**
 * The Node ↔ Python worker protocol. Its twin is python/nodicorn_worker/protocol.py: same frame layout,
 * same constant names, and both codecs are tested against tests/fixtures/protocol-vectors.json.
 *
 * Transport: the worker's fd 3, a Unix stream socket pair made by Node for the child's stdio (frame-link.ts).
 * Every frame, both directions (integers big-endian):
 *
 *     0        4      5            9
 *     +--------+------+------------+------------------------+
 *     | length | type | request id | payload                |
 *     |  u32   |  u8  |    u32     | (length - 5 bytes)     |
 *     +--------+------+------------+------------------------+
 *     length counts every byte after itself: 1 + 4 + payload.
 *
 * Node → worker
 *   REQUEST  payload: | flags u8 | text length u32 | text | binary length u32 | binary | body |
 *            text:   the environ's string keys as latin-1 `key\0value\0key\0value` (values without NUL);
 *            binary: pairs whose value holds a NUL (a `%00` in the path), each
 *                    | key length u32 | key | value length u32 | value |;
 *            body:   the whole request body, or with FLAG_BODY_IN_FILE the UTF-8 path of a temporary
 *                    file holding it.
 *   CANCEL   payload empty: the client is gone; stop iterating, call close(), then send END.
 *   CREDIT   payload: | bytes u32 |: the worker may send that many more BODY bytes for this request.
 *
 * Flow control (per request, like an HTTP/2 stream window): a worker starts each request with
 * INITIAL_WINDOW bytes of credit and spends it on BODY payloads (HEAD, WHOLE, END and FAIL are free);
 * with none left it waits for CREDIT, for that request only. Node grants credit as it takes bytes off
 * the worker, into the client's socket or its per-response buffer (memory, then an anonymous file), and
 * withholds it only while that buffer is over its cap: a slow client can pause its own response, never
 * the worker's other requests or threads.
 *
 * Worker → Node
 *   HEAD     payload: | header count u32 | latin-1 `status\0name\0value\0…` |, sent with the first
 *            non-empty body chunk. The count makes a NUL inside a field a decoding error, never an extra
 *            header (the worker's start_response refuses NUL already: rules.py).
 *   BODY     payload: body bytes.
 *   END      payload empty: the response is complete (close() has been called).
 *   WHOLE    payload: | head length u32 | head (a HEAD payload, count included) | body |: HEAD + BODY +
 *            END in one frame.
 *   FAIL     payload: UTF-8 traceback. The app raised; Node answers 500, or aborts if headers went out.
 *   READY    id 0, payload: UTF-8 JSON {pid, python, files?}: the app is imported, requests may come;
 *            with --reload, `files` lists the app's own source files it imported (not the stdlib or
 *            site-packages), for Node to watch.
 *   LOADFAIL id 0, payload: UTF-8: the app could not be imported, and the worker exits. One line when the
 *            reference names nothing (no such module or attribute), the traceback when the import raised.
 *   SOURCES  id 0, payload: UTF-8 JSON [file, …] (--reload only): source files of the app's modules
 *            imported since READY (Django imports its URLconf and views on the first request), sent
 *            after the request that imported them.
 *
 * With --preload a fork server (python/nodicorn_worker/zygote.py) imports the app once and forks the
 * workers; the same frames run on its own socket pair (fd 3). For each worker Node connects to the fork
 * server's Unix socket (in a private directory of Node's, fork-server.ts) and sends one HELLO; the worker
 * forked for it keeps that connection and speaks the protocol above on it.
 *
 * Node → fork server
 *   SPAWN    id: the worker's id; payload: UTF-8 JSON {age, token}: fork a worker.
 * Fork server → Node
 *   READY / LOADFAIL  id 0, as a worker's: the app is imported (or could not be).
 *   FORKED   id: the worker's id; payload: | pid u32 |.
 *   EXITED   id: the worker's id; payload: UTF-8 JSON {code, signal}: the fork server reaped it.
 * Node → fork server, first frame on a worker's connection
 *   HELLO    id: the worker's id; payload: the one-time token of its SPAWN (32 ASCII bytes).
 */

export const FRAME_HEADER_SIZE = 9;

export const REQUEST = 0x01;
export const CANCEL = 0x02;
export const CREDIT = 0x03;

export const HEAD = 0x11;
export const BODY = 0x12;
export const END = 0x13;
export const WHOLE = 0x14;
export const FAIL = 0x15;
export const READY = 0x16;
export const LOADFAIL = 0x17;
export const SOURCES = 0x1b;

export const SPAWN = 0x04;
export const HELLO = 0x18;
export const FORKED = 0x19;
export const EXITED = 0x1a;

export const FLAG_BODY_IN_FILE = 0x01;

/** BODY bytes a worker may send for a request before its first CREDIT. */
export const INITIAL_WINDOW = 1048576;

export interface Frame {
  readonly type: number;
  readonly id: number;
  readonly payload: Buffer;
}

/** Bodies from this size on are not copied into the frame: they are written after its head (a writev). */
const BODY_APART = 16 * 1024;

/** Encodes a REQUEST frame in one buffer: header, environ and body. */
export function encodeRequest(
  id: number,
  environ: Record<string, string>,
  body: Buffer | string | null,
): Buffer {
  const parts = encodeRequestParts(id, environ, body);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * Encodes a REQUEST frame as the buffers to write back to back: one, or for a large in-memory body the
 * frame's head (header and environ) and then the body itself, uncopied.
 */
export function encodeRequestParts(
  id: number,
  environ: Record<string, string>,
  body: Buffer | string | null,
): Buffer[] {
  let text = '';
  let binary: Buffer[] | null = null;
  for (const key in environ) {
    const value = environ[key]!;
    if (value.includes('\0') || key.includes('\0')) {
      binary ??= [];
      const k = Buffer.from(key, 'latin1');
      const v = Buffer.from(value, 'latin1');
      const lengths = Buffer.allocUnsafe(4);
      lengths.writeUInt32BE(k.length);
      const vLength = Buffer.allocUnsafe(4);
      vLength.writeUInt32BE(v.length);
      binary.push(lengths, k, vLength, v);
      continue;
    }
    // One concatenation per pair (a rope that latin1Write flattens once): the fastest way measured.
    text += text === '' ? key + '\0' + value : '\0' + key + '\0' + value;
  }
  const binaryBytes = binary === null ? null : Buffer.concat(binary);
  const inFile = typeof body === 'string';
  const bodyLength = body === null ? 0 : inFile ? Buffer.byteLength(body, 'utf8') : body.length;
  const textLength = text.length; // latin-1: one byte per character
  const binaryLength = binaryBytes === null ? 0 : binaryBytes.length;
  const length = 5 + 1 + 4 + textLength + 4 + binaryLength + bodyLength;
  const apart = !inFile && body !== null && bodyLength >= BODY_APART;
  const frame = Buffer.allocUnsafe(4 + length - (apart ? bodyLength : 0));
  frame.writeUInt32BE(length, 0);
  frame[4] = REQUEST;
  frame.writeUInt32BE(id, 5);
  frame[9] = inFile ? FLAG_BODY_IN_FILE : 0;
  frame.writeUInt32BE(textLength, 10);
  let at = 14 + frame.write(text, 14, 'latin1');
  frame.writeUInt32BE(binaryLength, at);
  at += 4;
  if (binaryBytes !== null) at += binaryBytes.copy(frame, at);
  if (apart) return [frame, body as Buffer];
  if (inFile) frame.write(body, at, 'utf8');
  else if (body !== null) body.copy(frame, at);
  return [frame];
}

export function encodeFrame(type: number, id: number, payload: Buffer = EMPTY): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  frame.writeUInt32BE(5 + payload.length, 0);
  frame[4] = type;
  frame.writeUInt32BE(id, 5);
  payload.copy(frame, FRAME_HEADER_SIZE);
  return frame;
}

const EMPTY = Buffer.alloc(0);

/** A CREDIT frame granting `bytes` more for request `id`. */
export function encodeCredit(id: number, bytes: number): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 4);
  frame.writeUInt32BE(9, 0);
  frame[4] = CREDIT;
  frame.writeUInt32BE(id, 5);
  frame.writeUInt32BE(bytes, 9);
  return frame;
}

/** A response head as the worker sends it: status line and header pairs. */
export interface ResponseHead {
  readonly status: string;
  readonly headers: Array<[string, string]>;
}

/** Encodes a HEAD payload (the worker's encode_head; Node uses it in tests and vectors). */
export function encodeHead(status: string, headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const text = [status, ...headers.flat()].join('\0');
  const payload = Buffer.allocUnsafe(4 + text.length);
  payload.writeUInt32BE(headers.length, 0);
  payload.write(text, 4, 'latin1');
  return payload;
}

/**
 * Decodes a HEAD payload; null when its fields are not exactly the header count's (a NUL inside the status,
 * a name or a value).
 */
export function decodeHead(payload: Buffer): ResponseHead | null {
  if (payload.length < 4) return null;
  const count = payload.readUInt32BE(0);
  const parts = payload.toString('latin1', 4).split('\0');
  if (parts.length !== 1 + 2 * count) return null;
  const headers: Array<[string, string]> = [];
  for (let i = 1; i < parts.length; i += 2) headers.push([parts[i]!, parts[i + 1]!]);
  return { status: parts[0]!, headers };
}

/**
 * Splits a byte stream into frames. Frames inside a read are handed on as views of it (no copy), valid
 * only during `onFrame`: reads may reuse one buffer (frame-link.ts), so a consumer copies what it keeps.
 * A frame that spans reads is copied as its bytes arrive into memory of its own, allocated once its
 * length is known. Frames of the types given as `inPieces` (BODY, whose bytes mean the same however they
 * are cut) are never copied: a payload that spans reads is handed on piece by piece as its bytes arrive,
 * each piece a frame of the same type and id.
 */
export class FrameDecoder {
  /** The first bytes of a frame whose header spans reads. */
  readonly #header = Buffer.alloc(FRAME_HEADER_SIZE);
  /** A frame that spans reads: its bytes so far (in #header until its length is known), and its size. */
  #partial: Buffer = this.#header;
  #partialLength = 0;
  #need = 0;
  /** A payload being handed on in pieces: its frame's type and id, and the bytes still to come. */
  #pieceType = 0;
  #pieceId = 0;
  #pieceLeft = 0;
  readonly #inPieces: ReadonlySet<number>;

  constructor(inPieces: ReadonlySet<number> = NO_TYPES) {
    this.#inPieces = inPieces;
  }

  /** Feeds bytes; calls `onFrame` for every complete frame (or payload piece), in order. */
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    let data = chunk;
    if (this.#pieceLeft > 0) {
      const n = Math.min(this.#pieceLeft, data.length);
      this.#pieceLeft -= n;
      onFrame({ type: this.#pieceType, id: this.#pieceId, payload: data.subarray(0, n) });
      if (n === data.length) return;
      data = data.subarray(n);
    }
    if (this.#partialLength > 0) {
      if (this.#need === 0) {
        // The header is cut: complete it first, then the frame's length and type say what follows.
        data = data.subarray(this.#take(data, FRAME_HEADER_SIZE));
        if (this.#partialLength < FRAME_HEADER_SIZE) return;
        const header = this.#header;
        const total = 4 + header.readUInt32BE(0);
        if (this.#inPieces.has(header[4]!)) {
          // Its payload is handed on in pieces from the first byte after the header.
          this.#pieceType = header[4]!;
          this.#pieceId = header.readUInt32BE(5);
          this.#pieceLeft = total - FRAME_HEADER_SIZE;
          this.#partialLength = 0;
          if (this.#pieceLeft === 0) onFrame({ type: this.#pieceType, id: this.#pieceId, payload: EMPTY });
          if (data.length > 0) this.push(data, onFrame);
          return;
        }
        this.#begin(total, header);
      }
      data = data.subarray(this.#take(data, this.#need));
      if (this.#partialLength < this.#need) return;
      const frame = this.#partial;
      this.#partial = this.#header;
      this.#partialLength = 0;
      this.#need = 0;
      onFrame({ type: frame[4]!, id: frame.readUInt32BE(5), payload: frame.subarray(FRAME_HEADER_SIZE) });
    }
    this.#parse(data, onFrame);
  }

  /** Copies from `data` into the partial frame until it holds `upTo` bytes; returns the bytes taken. */
  #take(data: Buffer, upTo: number): number {
    const n = Math.min(upTo - this.#partialLength, data.length);
    data.copy(this.#partial, this.#partialLength, 0, n);
    this.#partialLength += n;
    return n;
  }

  /** A frame of `total` bytes spans reads; `start` holds its first #partialLength bytes. */
  #begin(total: number, start: Buffer): void {
    const frame = Buffer.allocUnsafe(total);
    start.copy(frame, 0, 0, this.#partialLength);
    this.#partial = frame;
    this.#need = total;
  }

  /** Frames from the start of `data`, with nothing pending before it. */
  #parse(data: Buffer, onFrame: (frame: Frame) => void): void {
    let offset = 0;
    for (;;) {
      const available = data.length - offset;
      if (available < FRAME_HEADER_SIZE) break;
      const total = 4 + data.readUInt32BE(offset);
      if (available < total) {
        const type = data[offset + 4]!;
        if (this.#inPieces.has(type)) {
          const id = data.readUInt32BE(offset + 5);
          if (available > FRAME_HEADER_SIZE)
            onFrame({ type, id, payload: data.subarray(offset + FRAME_HEADER_SIZE) });
          this.#pieceType = type;
          this.#pieceId = id;
          this.#pieceLeft = total - available;
          return;
        }
        this.#partialLength = available;
        this.#begin(total, data.subarray(offset));
        return;
      }
      onFrame({
        type: data[offset + 4]!,
        id: data.readUInt32BE(offset + 5),
        payload: data.subarray(offset + FRAME_HEADER_SIZE, offset + total),
      });
      offset += total;
    }
    if (offset < data.length) {
      // Less than a header: kept in #header until the next read completes it.
      this.#partialLength = data.length - offset;
      data.copy(this.#header, 0, offset);
    }
  }
}

const NO_TYPES: ReadonlySet<number> = new Set();
