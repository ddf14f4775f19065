/**
 * A log line that may repeat at the rate of an attack (refused requests, dropped connections) is written
 * at most `lines` times per window; what was held back is counted and reported in one line when the
 * window ends. So a flood costs the log a few lines per window, and none of it goes unmentioned.
 */

export interface RateLimitOptions {
  /** Lines written per window, at most. */
  readonly lines: number;
  readonly windowMs: number;
  /** What the summary line calls the held-back lines ("refused requests"). */
  readonly what: string;
  /** Monotonic clock in ms (tests pass their own). */
  readonly now?: () => number;
}

export class RateLimitedLog {
  readonly #write: (line: string) => void;
  readonly #lines: number;
  readonly #windowMs: number;
  readonly #what: string;
  readonly #now: () => number;
  #windowStart = Number.NEGATIVE_INFINITY;
  #written = 0;
  #held = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(write: (line: string) => void, options: RateLimitOptions) {
    this.#write = write;
    this.#lines = options.lines;
    this.#windowMs = options.windowMs;
    this.#what = options.what;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Writes `line` now, or counts it for the window's summary. */
  log(line: string): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#windowMs) {
      this.flush();
      this.#windowStart = now;
      this.#written = 0;
    }
    if (this.#written < this.#lines) {
      this.#written++;
      this.#write(line);
      return;
    }
    if (this.#held++ === 0) {
      const left = Math.max(0, this.#windowStart + this.#windowMs - now);
      this.#timer = setTimeout(() => this.flush(), left);
      this.#timer.unref();
    }
  }

  /** Reports the lines held back so far, if any. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#held === 0) return;
    const held = this.#held;
    this.#held = 0;
    this.#write(
      `... and ${held} more ${this.#what} not logged (at most ${this.#lines} lines per ${this.#windowMs / 1000} s)`,
    );
  }
}
