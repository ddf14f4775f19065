/**
 * `wsgi.file_wrapper` for TypeScript apps: a body that reads a file in blocks as the client takes them,
 * and closes what it opened when the response is done (PEP 3333 "Optional Platform-Specific File
 * Handling"). A file given by descriptor belongs to the app, which closes it.
 */
import { read } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Bytes, FileLike, ResponseBody } from '../contract/types.js';

const readAt = promisify(read);

export class FileBody implements AsyncIterable<Bytes> {
  #handle: FileHandle | null = null;
  constructor(
    readonly file: FileLike,
    readonly blockSize = 64 * 1024,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Bytes> {
    const file = this.file;
    const fd = 'fd' in file ? file.fd : (this.#handle = await open(file.path, 'r')).fd;
    for (;;) {
      const buffer = Buffer.allocUnsafe(this.blockSize);
      const { bytesRead } = await readAt(fd, buffer, 0, buffer.byteLength, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }
}

export const fileWrapper = (file: FileLike, blockSize?: number): ResponseBody =>
  new FileBody(file, blockSize);
