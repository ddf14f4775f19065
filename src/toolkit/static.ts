/**
 * Static files: GET and HEAD under `root` are answered from disk, anything else falls through to the app.
 * Safe by construction: the path is taken segment by segment from PATH_INFO (already percent-decoded by
 * the server, so `%2e%2e` arrives as `..`), and a `..`, a NUL or a backslash anywhere refuses the
 * request (404, as if nothing were there); the file's real path, symlinks resolved, must still lie
 * under the root's. Conditional GET (ETag, Last-Modified: RFC 9110 §13, decided by jshttp's `fresh`) and
 * byte ranges that come down to one (RFC 9110 §14, with range-parser's rules) are honoured; whole files go
 * out through `wsgi.file_wrapper`, so a server can sendfile them.
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import fresh from 'fresh';
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

/** One satisfiable byte range, both ends included. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** The ranges a Range header asks for, with its unit (`bytes` for anything this module serves). */
export interface RangeSet {
  readonly unit: string;
  readonly ranges: readonly ByteRange[];
}

/**
 * A Range header read against a representation of `size` bytes, with jshttp range-parser's contract and
 * test cases: the satisfiable ranges, each clamped to the representation; -1 when none is satisfiable;
 * -2 when the header is malformed (and so is ignored). A suffix longer than the representation selects all
 * of it (RFC 9110 §14.1.2; range-parser 1.3 answers -1 there, fixed upstream in a release needing Node 22),
 * and on an empty representation nothing is satisfiable. `combine` merges overlapping and adjacent ranges,
 * keeping the order the client asked them in.
 */
export function parseRange(
  size: number,
  header: string,
  options: { readonly combine?: boolean } = {},
): RangeSet | -1 | -2 {
  const eq = header.indexOf('=');
  if (eq === -1) return -2;
  const ranges: ByteRange[] = [];
  for (const spec of header.slice(eq + 1).split(',')) {
    const dash = spec.indexOf('-');
    if (dash === -1) return -2;
    const first = spec.slice(0, dash).trim();
    const last = spec.slice(dash + 1).trim();
    const start = first === '' ? Math.max(0, size - position(last)) : position(first);
    const end = first === '' || last === '' ? size - 1 : Math.min(position(last), size - 1);
    if (Number.isNaN(start) || Number.isNaN(end)) return -2;
    if (start <= end) ranges.push({ start, end });
  }
  if (ranges.length === 0) return -1;
  return { unit: header.slice(0, eq).trim(), ranges: options.combine ? combine(ranges) : ranges };
}

const position = (digits: string): number => (/^\d+$/.test(digits) ? Number(digits) : Number.NaN);

function combine(ranges: readonly ByteRange[]): ByteRange[] {
  const ordered = ranges.map((r, index) => ({ ...r, index })).sort((a, b) => a.start - b.start);
  const merged: typeof ordered = [];
  for (const r of ordered) {
    const current = merged.at(-1);
    if (current === undefined || r.start > current.end + 1) merged.push(r);
    else {
      current.end = Math.max(current.end, r.end);
      current.index = Math.min(current.index, r.index);
    }
  }
  return merged.sort((a, b) => a.index - b.index).map(({ start, end }) => ({ start, end }));
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

/**
 * Whether the client's copy is current (jshttp fresh): If-None-Match wins over If-Modified-Since
 * (RFC 9110 §13.2.2), and a request carrying `Cache-Control: no-cache` always gets the file.
 */
function notModified(environ: Environ, etag: string, lastModified: string): boolean {
  return fresh(
    {
      'if-none-match': environ.HTTP_IF_NONE_MATCH as string | undefined,
      'if-modified-since': environ.HTTP_IF_MODIFIED_SINCE as string | undefined,
      'cache-control': environ.HTTP_CACHE_CONTROL as string | undefined,
    },
    { etag, 'last-modified': lastModified },
  );
}

/** The one byte range to serve; 'unsatisfiable' for a 416; null for the whole file (no or ignored Range). */
function wantedRange(environ: Environ, etag: string, size: number): ByteRange | 'unsatisfiable' | null {
  const header = environ.HTTP_RANGE as string | undefined;
  if (header === undefined || !/^\s*bytes\s*=/i.test(header)) return null;
  // A range applies only while the client's copy is the current one (If-Range, RFC 9110 §13.1.5).
  const ifRange = environ.HTTP_IF_RANGE as string | undefined;
  if (ifRange !== undefined && ifRange.trim() !== etag) return null;
  const parsed = parseRange(size, header, { combine: true });
  if (parsed === -1) return 'unsatisfiable';
  // Malformed, or several ranges left apart: the whole file (a multipart/byteranges body is not made).
  return parsed === -2 || parsed.ranges.length !== 1 ? null : (parsed.ranges[0] ?? null);
}

async function serveFile(
  path: string,
  environ: Environ,
  startResponse: StartResponse,
  options: StaticOptions,
): Promise<ResponseBody> {
  const info = await stat(path);
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const lastModified = info.mtime.toUTCString();
  const headers: Array<[string, string]> = [
    ['Content-Type', mime.contentType(path.slice(path.lastIndexOf(sep) + 1)) || 'application/octet-stream'],
    ['ETag', etag],
    ['Last-Modified', lastModified],
    ['Accept-Ranges', 'bytes'],
    ['Cache-Control', options.cacheControl ?? 'public, max-age=0'],
  ];
  if (notModified(environ, etag, lastModified)) {
    startResponse('304 Not Modified', headers.filter(([n]) => n !== 'Content-Type') as HeaderList);
    return [];
  }
  const range = wantedRange(environ, etag, info.size);
  if (range === 'unsatisfiable') {
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
