/**
 * Temporary files without a name, for request bodies and response bytes that outgrow memory: nothing is
 * left on disk whatever happens to the process (a crash, `kill -9`), because the file has left its
 * directory before a byte is written. Linux's O_TMPFILE makes one directly; elsewhere (or on a file
 * system without it) a file is created under a random name, mode 0600, and unlinked at once.
 */
import { randomBytes } from 'node:crypto';
import { close, constants, open, read, statSync, unlink, write } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const openFile = promisify(open);
const writeAt = promisify(write);
const readAt = promisify(read);
const unlinkFile = promisify(unlink);

/** Linux's __O_TMPFILE bit; the flag proper is that bit with O_DIRECTORY (whose value differs by CPU). */
const O_TMPFILE_BIT = 0o20000000;

let tmpfileWorks = process.platform === 'linux';

export class AnonymousFile {
  /** Bytes appended so far (the file's size). */
  size = 0;
  #closed = false;

  private constructor(readonly fd: number) {}

  /** Opens a new, empty, nameless file in `dir` (the system's temporary directory by default). */
  static async create(dir = tmpdir()): Promise<AnonymousFile> {
    const { O_RDWR, O_DIRECTORY, O_CREAT, O_EXCL } = constants;
    if (tmpfileWorks) {
      try {
        return new AnonymousFile(await openFile(dir, O_RDWR | O_DIRECTORY | O_TMPFILE_BIT, 0o600));
      } catch (error) {
        // EISDIR/EOPNOTSUPP/EINVAL: the kernel or this file system has no O_TMPFILE; other errors are real.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EISDIR' && code !== 'EOPNOTSUPP' && code !== 'EINVAL') throw error;
        tmpfileWorks = false;
      }
    }
    const path = join(dir, `nodicorn-${process.pid}-${randomBytes(8).toString('hex')}`);
    const fd = await openFile(path, O_RDWR | O_CREAT | O_EXCL, 0o600);
    await unlinkFile(path);
    return new AnonymousFile(fd);
  }

  /** Appends `data` at the end. Appends must not overlap: the caller awaits one before the next. */
  async append(data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.byteLength) {
      const { bytesWritten } = await writeAt(this.fd, data, done, data.byteLength - done, this.size + done);
      done += bytesWritten;
    }
    this.size += done;
  }

  /** Reads up to `length` bytes from `position`; fewer only at the end of the file. */
  async readAt(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await readAt(this.fd, buffer, got, length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === length ? buffer : buffer.subarray(0, got);
  }

  /**
   * A path by which another process of this user can open the file (Linux's /proc), or null where there
   * is none: no /proc, or a process made non-dumpable by dropping privileges, whose /proc entries then
   * belong to root.
   */
  get procPath(): string | null {
    return procUsable() ? `/proc/${process.pid}/fd/${this.fd}` : null;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    close(this.fd, () => {});
  }
}

let procChecked: boolean | undefined;

function procUsable(): boolean {
  if (procChecked === undefined) {
    try {
      procChecked = statSync(`/proc/${process.pid}/fd`).uid === (process.getuid?.() ?? -1);
    } catch {
      procChecked = false;
    }
  }
  return procChecked;
}
