/**
 * A log file that SIGUSR1 reopens, as Gunicorn's do: logrotate renames the file and signals, and new
 * lines go to a new file at the same path while what was written before ends up in the renamed one.
 */
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { LogSink } from './logger.js';

export class LogFile implements LogSink {
  readonly path: string;
  #stream: WriteStream;

  /** Opens (creating or appending to) `path`; throws at once when it cannot be opened. */
  constructor(path: string) {
    this.path = path;
    this.#stream = LogFile.#open(path);
  }

  static #open(path: string): WriteStream {
    // Opened synchronously so a bad path is an error at start (or at reopen), not a crash later.
    const stream = createWriteStream(path, { fd: openSync(path, 'a') });
    stream.on('error', () => {}); // a write failing (disk full) must not take the server down
    return stream;
  }

  write(text: string): boolean {
    return this.#stream.write(text);
  }

  /** Opens the path anew; the old stream writes what it still holds, then closes. */
  reopen(): void {
    const next = LogFile.#open(this.path);
    const old = this.#stream;
    this.#stream = next;
    old.end();
  }

  /** Flushes and closes. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#stream.end(resolve));
  }
}
