/**
 * Receiving a request body completely before any worker is involved, so a slow upload costs Node memory
 * (or disk) and never a Python worker. Small bodies stay in memory; past `memoryLimit` they are spooled
 * to a temporary file; past `limit` the request is refused with 413.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpError } from './http-error.js';
import type { ServerRequest } from './response-writer.js';

export type ReceivedBody =
  | { readonly kind: 'memory'; readonly data: Buffer | null }
  | { readonly kind: 'file'; readonly path: string; readonly length: number; dispose(): Promise<void> };

export const NO_BODY: ReceivedBody = Object.freeze({ kind: 'memory', data: null });

/** `bodyLength` is the declared length: 0 for no body, -1 for chunked. */
export function receiveBody(
  req: ServerRequest,
  bodyLength: number,
  limit: number,
  memoryLimit: number,
): Promise<ReceivedBody> {
  if (bodyLength === 0) return Promise.resolve(NO_BODY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let file: WriteStream | null = null;
    let dir = '';
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      if (file !== null) {
        file.destroy();
        void rm(dir, { recursive: true, force: true });
      }
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (limit > 0 && length > limit) {
        fail(new HttpError(413, `request body larger than ${limit} bytes`));
        return;
      }
      if (file !== null) {
        if (!file.write(chunk)) {
          req.pause();
          file.once('drain', () => req.resume());
        }
        return;
      }
      chunks.push(chunk);
      if (length > memoryLimit) startSpooling();
    };
    const startSpooling = () => {
      req.pause();
      void mkdtemp(join(tmpdir(), 'nodicorn-body-')).then((made) => {
        if (settled) return void rm(made, { recursive: true, force: true });
        dir = made;
        file = createWriteStream(join(dir, 'body'), { mode: 0o600 });
        file.on('error', fail);
        for (const c of chunks.splice(0)) file.write(c);
        req.resume();
      }, fail);
    };
    req.on('data', onData);
    req.once('error', fail);
    req.once('aborted', () => fail(new HttpError(400, 'client closed the connection during the body')));
    req.once('end', () => {
      if (settled) return;
      const spooled = file as WriteStream | null;
      if (spooled === null) {
        settled = true;
        resolve({ kind: 'memory', data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length) });
        return;
      }
      spooled.end(() => {
        if (settled) return;
        settled = true;
        const path = join(dir, 'body');
        const spoolDir = dir;
        resolve({
          kind: 'file',
          path,
          length,
          dispose: () => rm(spoolDir, { recursive: true, force: true }),
        });
      });
    });
  });
}
