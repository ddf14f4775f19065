/**
 * --max-worker-memory (uWSGI's reload-on-rss): one timer for the whole pool reads each worker's resident
 * set size from /proc every second, and reports the workers past the limit. Replacing them (after their
 * current request) is the supervisor policy's 'recycle' event, reason 'memory'.
 */
import { readRss } from './proc-usage.js';

export const RSS_EVERY_MS = 1000;

export interface Sampled {
  readonly id: number;
  readonly pid: number;
}

export class RssSampler {
  readonly #limit: number;
  readonly #workers: () => Iterable<Sampled>;
  readonly #over: (worker: Sampled, rss: number) => void;
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  /** Reports through `over` each worker (from `workers()`) whose RSS is past `limit` bytes. */
  constructor(limit: number, workers: () => Iterable<Sampled>, over: (worker: Sampled, rss: number) => void) {
    this.#limit = limit;
    this.#workers = workers;
    this.#over = over;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.sample(), RSS_EVERY_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round over the workers (a slow /proc read never overlaps the next round). */
  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const workers = [...this.#workers()];
      const sizes = await Promise.all(workers.map((w) => readRss(w.pid)));
      for (let i = 0; i < workers.length; i++)
        if (sizes[i]! > this.#limit && this.#timer !== undefined) this.#over(workers[i]!, sizes[i]!);
    } finally {
      this.#sampling = false;
    }
  }
}
