/**
 * gzip where the client accepts it (RFC 9110 §8.4.1, §12.5.3), for compressible media types. A body known
 * in full (a list) is compressed at once and gets its Content-Length, or is left alone under `threshold`
 * bytes; a streamed body is compressed chunk by chunk, each flushed, so streaming still streams (PEP
 * 3333: middleware must not hold back an iteration waiting for more). Already-encoded responses, ranges,
 * 204/304 and `Cache-Control: no-transform` (RFC 9111 §5.2.2.6) pass unchanged.
 */
import { constants, createGzip, type Gzip, gzipSync } from 'node:zlib';
import type {
  Bytes,
  Environ,
  HeaderList,
  ResponseBody,
  StartResponse,
  Status,
  WriteCallable,
} from '../contract/types.js';
import { Headers } from './headers.js';
import type { Middleware } from './middleware.js';

export interface GzipOptions {
  /** Bodies known in full and smaller than this many bytes are sent as they are. Default 1024. */
  readonly threshold?: number;
  /** zlib level, 1 (fast) to 9 (small). Default 6. */
  readonly level?: number;
}

const COMPRESSIBLE =
  /^(text\/|application\/(json|javascript|xml|wasm|x-www-form-urlencoded)|image\/svg\+xml)|\+(json|xml)$/;

/** Whether Accept-Encoding gives gzip (or `*`) a non-zero quality. */
export function acceptsGzip(acceptEncoding: unknown): boolean {
  if (typeof acceptEncoding !== 'string') return false;
  let star = false;
  for (const item of acceptEncoding.split(',')) {
    // RFC 9110 §12.4.2: weight = OWS ";" OWS "q=" qvalue, so `gzip ;q=1` names gzip.
    const [name = '', ...params] = item.toLowerCase().split(';');
    const coding = name.trim();
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    if (coding === 'gzip' || coding === 'x-gzip') return quality > 0;
    if (coding === '*') star = quality > 0;
  }
  return star;
}

function compressible(status: string, headers: Headers): boolean {
  const code = Number(status.slice(0, 3));
  if (code === 204 || code === 304 || code === 206) return false;
  if (headers.has('Content-Encoding') || headers.has('Content-Range')) return false;
  if (/(^|,)\s*no-transform\s*(,|$)/i.test(headers.get('Cache-Control') ?? '')) return false;
  const type = (headers.get('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  return COMPRESSIBLE.test(type);
}

function withVary(headers: Headers): Headers {
  const vary = headers.get('Vary');
  if (vary === null) headers.set('Vary', 'Accept-Encoding');
  else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary))
    headers.set('Vary', `${vary}, Accept-Encoding`);
  return headers;
}

/** A gzip stream that hands back, after each chunk, everything compressed so far (a sync flush). */
class Compressor {
  readonly #gzip: Gzip;
  #out: Buffer[] = [];
  constructor(level: number) {
    this.#gzip = createGzip({ level });
    this.#gzip.on('data', (chunk: Buffer) => this.#out.push(chunk));
  }

  push(chunk: Bytes): Promise<Bytes> {
    this.#gzip.write(chunk);
    return new Promise((resolve, reject) => {
      this.#gzip.once('error', reject);
      this.#gzip.flush(constants.Z_SYNC_FLUSH, () => {
        this.#gzip.off('error', reject);
        resolve(this.#take());
      });
    });
  }

  end(): Promise<Bytes> {
    return new Promise((resolve, reject) => {
      this.#gzip.once('error', reject);
      this.#gzip.once('end', () => resolve(this.#take()));
      this.#gzip.end();
    });
  }

  destroy(): void {
    this.#gzip.destroy();
  }

  #take(): Bytes {
    const out = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out);
    this.#out = [];
    return out;
  }
}

export function gzip(options: GzipOptions = {}): Middleware {
  const threshold = options.threshold ?? 1024;
  const level = options.level ?? 6;
  return (app) => async (environ: Environ, startResponse: StartResponse) => {
    if (!acceptsGzip(environ.HTTP_ACCEPT_ENCODING)) {
      // RFC 9110 §12.5.5: the identity answer depended on Accept-Encoding too, so it says so (a cache
      // must not give it to clients that accept gzip as if no other form existed), as Django's does.
      return app(environ, (status, headers, excInfo?) => {
        const list = new Headers(headers);
        return startResponse(status, compressible(status, list) ? withVary(list).toList() : headers, excInfo);
      });
    }
    let head: { status: Status; headers: HeaderList; excInfo: unknown } | null = null;
    let committed: 'gzip' | 'identity' | null = null;
    let compressor: Compressor | null = null;
    let write: WriteCallable | null = null;
    const pendingWrites: Bytes[] = [];

    /** Calls the server's start_response with the (re)written headers; `knownLength` for list bodies. */
    const commit = (compressed: Bytes | null, knownLength: number) => {
      const { status, headers: list, excInfo } = head!;
      const headers = new Headers(list);
      const declared = Number(headers.get('Content-Length') ?? knownLength);
      const zip = compressible(status, headers) && (knownLength < 0 || declared >= threshold);
      if (compressible(status, headers)) withVary(headers);
      if (zip) {
        headers.set('Content-Encoding', 'gzip');
        if (compressed === null) headers.delete('Content-Length');
        else headers.set('Content-Length', String(compressed.byteLength));
        if (knownLength < 0) compressor ??= new Compressor(level);
      }
      committed = zip ? 'gzip' : 'identity';
      write = startResponse(status, headers.toList(), excInfo);
      return zip;
    };

    const wrappedStart: StartResponse = (status, headers, excInfo?) => {
      head = { status, headers, excInfo };
      // After the headers were committed, only an error may call again; the server decides (re-raise).
      if (committed !== null) commit(null, -1);
      return (data) => {
        // PEP 3333 legacy write(): the headers must go now; the compressed bytes follow in the body.
        if (committed === null) commit(null, -1);
        if (committed === 'identity') write!(data);
        else pendingWrites.push(data);
      };
    };

    const body = await app(environ, wrappedStart);
    const close = () => (body as { close?: () => void | Promise<void> }).close?.call(body);
    if (Array.isArray(body) && committed === null && head !== null) {
      const chunks = body as Bytes[];
      let total = 0;
      for (const chunk of chunks) total += chunk.byteLength;
      const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      const headers = new Headers((head as { headers: HeaderList }).headers);
      if (total < threshold || !compressible((head as { status: string }).status, headers)) {
        commit(null, total);
        return body;
      }
      const compressed = gzipSync(whole, { level });
      commit(compressed, total);
      return Object.assign([compressed], { close });
    }
    return {
      async *[Symbol.asyncIterator]() {
        const iterator =
          Symbol.asyncIterator in body
            ? body[Symbol.asyncIterator]()
            : (body as Iterable<Bytes>)[Symbol.iterator]();
        try {
          for (;;) {
            const next = await iterator.next();
            if (committed === null && head !== null) commit(null, -1);
            const zip = committed === 'gzip' ? compressor! : null;
            for (const data of pendingWrites.splice(0)) yield await zip!.push(data);
            if (next.done === true) break;
            yield zip === null ? next.value : await zip.push(next.value);
          }
          if (committed === 'gzip') yield await compressor!.end();
        } finally {
          compressor?.destroy();
          await iterator.return?.();
        }
      },
      close,
    } satisfies ResponseBody;
  };
}
