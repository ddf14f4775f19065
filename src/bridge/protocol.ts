/**
 * The Node ↔ Python worker protocol. Its twin is python/nodicorn_worker/protocol.py: same frame layout,
 * same constant names, and both codecs are tested against tests/fixtures/protocol-vectors.json.
 *
 * Transport: the worker's fd 3, a Unix stream socket pair made by Node for the child's stdio.
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
 *
 * Worker → Node
 *   HEAD     payload: latin-1 `status\0name\0value\0…` — sent with the first non-empty body chunk.
 *   BODY     payload: body bytes.
 *   END      payload empty: the response is complete (close() has been called).
 *   WHOLE    payload: | head length u32 | head (as HEAD) | body | — HEAD + BODY + END in one frame.
 *   FAIL     payload: UTF-8 traceback. The app raised; Node answers 500, or aborts if headers went out.
 *   READY    id 0, payload: UTF-8 JSON {pid, python}: the app is imported, requests may come.
 *   LOADFAIL id 0, payload: UTF-8 traceback: the app could not be imported; the worker exits.
 */

export const FRAME_HEADER_SIZE = 9;

export const REQUEST = 0x01;
export const CANCEL = 0x02;

export const HEAD = 0x11;
export const BODY = 0x12;
export const END = 0x13;
export const WHOLE = 0x14;
export const FAIL = 0x15;
export const READY = 0x16;
export const LOADFAIL = 0x17;

export const FLAG_BODY_IN_FILE = 0x01;

export interface Frame {
  readonly type: number;
  readonly id: number;
  readonly payload: Buffer;
}

/** Encodes a REQUEST frame in one allocation: header, environ and body. */
export function encodeRequest(
  id: number,
  environ: Record<string, string>,
  body: Buffer | string | null,
): Buffer {
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
  const frame = Buffer.allocUnsafe(4 + length);
  frame.writeUInt32BE(length, 0);
  frame[4] = REQUEST;
  frame.writeUInt32BE(id, 5);
  frame[9] = inFile ? FLAG_BODY_IN_FILE : 0;
  frame.writeUInt32BE(textLength, 10);
  let at = 14 + frame.write(text, 14, 'latin1');
  frame.writeUInt32BE(binaryLength, at);
  at += 4;
  if (binaryBytes !== null) at += binaryBytes.copy(frame, at);
  if (inFile) frame.write(body, at, 'utf8');
  else if (body !== null) body.copy(frame, at);
  return frame;
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

/** A response head as the worker sends it: status line and header pairs. */
export interface ResponseHead {
  readonly status: string;
  readonly headers: Array<[string, string]>;
}

/** Decodes a HEAD payload; null when its fields do not pair up (a NUL inside a name or value). */
export function decodeHead(payload: Buffer): ResponseHead | null {
  const parts = payload.toString('latin1').split('\0');
  if (parts.length % 2 !== 1) return null;
  const headers: Array<[string, string]> = [];
  for (let i = 1; i < parts.length; i += 2) headers.push([parts[i]!, parts[i + 1]!]);
  return { status: parts[0]!, headers };
}

/**
 * Splits a byte stream into frames. Chunks are kept in a list and joined once per frame, so a large
 * frame arriving in many reads is copied once.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = FRAME_HEADER_SIZE;

  /** Feeds bytes; calls `onFrame` for every complete frame, in order. */
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#buffered >= this.#need) {
      let data = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
      let offset = 0;
      for (;;) {
        const available = data.length - offset;
        if (available < FRAME_HEADER_SIZE) break;
        const total = 4 + data.readUInt32BE(offset);
        if (available < total) {
          this.#need = total;
          break;
        }
        onFrame({
          type: data[offset + 4]!,
          id: data.readUInt32BE(offset + 5),
          payload: data.subarray(offset + 9, offset + total),
        });
        offset += total;
        this.#need = FRAME_HEADER_SIZE;
      }
      data = offset === data.length ? EMPTY : data.subarray(offset);
      this.#chunks = data.length === 0 ? [] : [data];
      this.#buffered = data.length;
      if (this.#buffered < this.#need) break;
    }
  }
}
