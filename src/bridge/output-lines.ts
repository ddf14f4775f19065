/**
 * A worker's stdout or stderr cut into whole lines for the error log (one instance per stream, so the
 * two never mix within a line). Linear in what arrives: only each new chunk is searched for '\n', and a
 * partial line is kept as pieces, joined once when it completes. UTF-8 is decoded across reads, so a
 * character split between two reads arrives whole.
 *
 * A line is at most `cap` characters (64 Ki by default): past that, what has accumulated is emitted with
 * LINE_CONTINUES appended and the rest of that line goes on as a new line. So output without a newline
 * (a progress bar redrawn with '\r', megabytes of data printed at once) costs bounded memory and reaches
 * the log in pieces, instead of being held until a newline that may never come. '\r' is not a line end:
 * the log keeps the bytes the app wrote.
 */
import { StringDecoder } from 'node:string_decoder';

export const LINE_CAP = 64 * 1024;
/** Ends a line cut at the cap; the next line carries on with the same output. */
export const LINE_CONTINUES = ' [line continues]';

export class OutputLines {
  readonly #decoder = new StringDecoder('utf8');
  readonly #emit: (text: string) => void;
  readonly #cap: number;
  /** The current line so far, in pieces. */
  #pieces: string[] = [];
  /** Its length in UTF-16 code units. */
  #partial = 0;

  /** `emit` gets one or more whole lines, each ending with '\n'. */
  constructor(emit: (text: string) => void, cap = LINE_CAP) {
    this.#emit = emit;
    this.#cap = cap;
  }

  push(chunk: Buffer): void {
    const text = this.#decoder.write(chunk);
    if (text !== '') this.#add(text);
  }

  /** The stream ended: an unfinished line (and an incomplete character) goes out as it is. */
  flush(): void {
    const rest = this.#decoder.end();
    if (rest !== '') this.#add(rest);
    if (this.#partial > 0) this.#emit(`${this.#take()}\n`);
  }

  #add(text: string): void {
    const out: string[] = [];
    let start = 0;
    while (start < text.length) {
      const newline = text.indexOf('\n', start);
      const end = newline === -1 ? text.length : newline;
      // Whole pieces of `cap` characters while the line is longer than that.
      while (end - start > this.#cap - this.#partial) {
        let cut = start + this.#cap - this.#partial;
        // Never between the two halves of a surrogate pair.
        if (cut > start && isHighSurrogate(text.charCodeAt(cut - 1))) cut--;
        if (cut === start && this.#partial === 0) cut++; // a cap below 2: progress anyway
        this.#pieces.push(text.slice(start, cut));
        out.push(this.#take(), `${LINE_CONTINUES}\n`);
        start = cut;
      }
      if (newline === -1) {
        if (end > start) {
          this.#pieces.push(text.slice(start, end));
          this.#partial += end - start;
        }
        break;
      }
      if (this.#partial > 0) out.push(this.#take());
      out.push(text.slice(start, newline + 1));
      start = newline + 1;
    }
    if (out.length > 0) this.#emit(out.join(''));
  }

  #take(): string {
    const line = this.#pieces.length === 1 ? this.#pieces[0]! : this.#pieces.join('');
    this.#pieces = [];
    this.#partial = 0;
    return line;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
