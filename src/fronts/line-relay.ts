/**
 * A front's stdout and stderr, relayed by the primary to the one access log and error log: whole lines
 * only, so that lines from several fronts never interleave mid-line however the pipes split them. A
 * line is held until its newline comes; one longer than `maxHeld` bytes is written in pieces rather than
 * held without end, and what is left when the front's stream ends is written with a newline added.
 */
import type { LogSink } from '../observability/logger.js';

const NEWLINE = 0x0a;

export class LineRelay {
  readonly #sink: LogSink;
  readonly #maxHeld: number;
  #held: Buffer[] = [];
  #heldBytes = 0;

  constructor(sink: LogSink, maxHeld = 64 * 1024) {
    this.#sink = sink;
    this.#maxHeld = maxHeld;
  }

  /** One chunk as the pipe gave it. */
  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      this.#hold(chunk);
      return;
    }
    const whole = chunk.subarray(0, last + 1);
    this.#write(this.#heldBytes === 0 ? whole : Buffer.concat([...this.#held, whole]));
    this.#held = [];
    this.#heldBytes = 0;
    if (last + 1 < chunk.length) this.#hold(chunk.subarray(last + 1));
  }

  /** The stream has ended: a last line without its newline is written with one. */
  end(): void {
    if (this.#heldBytes === 0) return;
    this.#held.push(Buffer.from('\n'));
    this.#flush();
  }

  #hold(part: Buffer): void {
    this.#held.push(part);
    this.#heldBytes += part.length;
    if (this.#heldBytes > this.#maxHeld) this.#flush();
  }

  #flush(): void {
    this.#write(Buffer.concat(this.#held));
    this.#held = [];
    this.#heldBytes = 0;
  }

  #write(bytes: Buffer): void {
    this.#sink.write(bytes.toString('utf8'));
  }
}
