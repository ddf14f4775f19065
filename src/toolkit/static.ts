/**
 * Static files: GET and HEAD under `root` are answered from disk, anything else falls through to the app.
 * Safe by construction: the path is taken segment by segment from PATH_INFO (already percent-decoded by
 * the server, so `%2e%2e` arrives as `..`), and a `..`, a NUL or a backslash anywhere refuses the
 * request (404, as if nothing were there); the file's real path, symlinks resolved, must still lie
 * under the root's. Conditional GET (ETag, Last-Modified: RFC 9110 §13) and single byte ranges (RFC 9110
 * §14) are honoured; whole files go out through `wsgi.file_wrapper`, so a server can sendfile them.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import mime from 'mime-types';
import type { Bytes, Environ, HeaderList, ResponseBody, StartResponse, WsgiApp } from '../contract/types.js';
import { NotFound } from './http-errors.js';
import type { Middleware } from './middleware.js';
import { fromWsgi } from './wsgi-string.js';

export interface StaticOptions {
  /** Served for a directory (default `index.html`); '' serves no index. */
  readonly index?: string;
  /** Cache-Control for what is served (default `public, max-age=0`: revalidate with the ETag). */
  readonly cacheControl?: string;
}

/** The file `pathInfo` names under `root`, or null when it must not be served. */
export async function resolveStatic(
  root: string,
  pathInfo: string,
  index = 'index.html',
): Promise<string | null> {
  const segments = fromWsgi(pathInfo).split('/');
  for (const segment of segments)
    if (segment === '..' || segment.includes('\0') || segment.includes('\\')) return null;
  const realRoot = await realpath(root);
  let file = join(realRoot, ...segments.filter((s) => s !== '' && s !== '.'));
  try {
    let info = await stat(file);
    if (info.isDirectory()) {
      if (index === '') return null;
      file = join(file, index);
      info = await stat(file);
    }
    if (!info.isFile()) return null;
    const real = await realpath(file);
    return real === realRoot || real.startsWith(realRoot + sep) ? real : null;
  } catch {
    return null;
  }
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`: the one range asked for, 'bad' when unsatisfiable, null for none. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'bad' | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return null; // several ranges or another unit: the whole file
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'bad';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || end < start ? 'bad' : { start, end };
}

function fileRange(path: string, start: number, end: number): ResponseBody {
  const stream = createReadStream(path, { start, end, highWaterMark: 64 * 1024 });
  return {
    async *[Symbol.asyncIterator]() {
      for await (const chunk of stream) yield chunk as Bytes;
    },
    close: () => {
      stream.destroy();
    },
  };
}

/** Whether the client's copy is current: If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2). */
function notModified(environ: Environ, etag: string, mtime: Date): boolean {
  const match = environ.HTTP_IF_NONE_MATCH as string | undefined;
  if (match !== undefined)
    return match.trim() === '*' || match.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
  const since = environ.HTTP_IF_MODIFIED_SINCE as string | undefined;
  if (since === undefined) return false;
  const date = Date.parse(since);
  return !Number.isNaN(date) && Math.floor(mtime.getTime() / 1000) <= Math.floor(date / 1000);
}

async function serveFile(
  path: string,
  environ: Environ,
  startResponse: StartResponse,
  options: StaticOptions,
): Promise<ResponseBody> {
  const info = await stat(path);
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const headers: Array<[string, string]> = [
    ['Content-Type', mime.contentType(path.slice(path.lastIndexOf(sep) + 1)) || 'application/octet-stream'],
    ['ETag', etag],
    ['Last-Modified', info.mtime.toUTCString()],
    ['Accept-Ranges', 'bytes'],
    ['Cache-Control', options.cacheControl ?? 'public, max-age=0'],
  ];
  if (notModified(environ, etag, info.mtime)) {
    startResponse('304 Not Modified', headers.filter(([n]) => n !== 'Content-Type') as HeaderList);
    return [];
  }
  // A range applies only while the client's copy is the current one (If-Range, RFC 9110 §13.1.5).
  const ifRange = environ.HTTP_IF_RANGE as string | undefined;
  const range =
    ifRange === undefined || ifRange === etag
      ? parseRange(environ.HTTP_RANGE as string | undefined, info.size)
      : null;
  if (range === 'bad') {
    startResponse('416 Range Not Satisfiable', [
      ['Content-Range', `bytes */${info.size}`],
      ['Content-Length', '0'],
    ]);
    return [];
  }
  if (range !== null) {
    startResponse('206 Partial Content', [
      ...headers,
      ['Content-Range', `bytes ${range.start}-${range.end}/${info.size}`],
      ['Content-Length', String(range.end - range.start + 1)],
    ]);
    return environ.REQUEST_METHOD === 'HEAD' ? [] : fileRange(path, range.start, range.end);
  }
  startResponse('200 OK', [...headers, ['Content-Length', String(info.size)]]);
  if (environ.REQUEST_METHOD === 'HEAD') return [];
  const wrapper = environ['wsgi.file_wrapper'];
  return wrapper === undefined ? fileRange(path, 0, Math.max(0, info.size - 1)) : wrapper({ path });
}

/** Middleware serving files under `root`; requests for anything else go to the app it wraps. */
export function staticFiles(root: string, options: StaticOptions = {}): Middleware {
  return (app: WsgiApp): WsgiApp =>
    async (environ, startResponse) => {
      if (environ.REQUEST_METHOD !== 'GET' && environ.REQUEST_METHOD !== 'HEAD')
        return app(environ, startResponse);
      const path = await resolveStatic(root, environ.PATH_INFO, options.index);
      if (path === null) return app(environ, startResponse);
      return serveFile(path, environ, startResponse, options);
    };
}

/** A WSGI app serving only files under `root`: 404 for anything else. */
export function staticApp(root: string, options: StaticOptions = {}): WsgiApp {
  return staticFiles(root, options)(new NotFound());
}
