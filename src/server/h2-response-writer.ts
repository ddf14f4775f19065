/**
 * The response writer for HTTP/2 streams (node:http2's compatibility API). Every rule of ResponseWriter
 * holds; what differs is the wire:
 *   - no status reason phrase (RFC 9113 §8.3.2 has only :status) and no connection-specific fields: those
 *     are a protocol error in HTTP/2 (RFC 9113 §8.2.2). PEP 3333 already keeps apps from sending
 *     hop-by-hop headers; an app's `Connection: close` is honoured in HTTP/1 and has no meaning here, so
 *     it is dropped, as are the few connection-specific names PEP 3333's list does not cover;
 *   - one stream is one exchange: a response cut short resets its stream (RST_STREAM), never the
 *     connection, which carries other requests.
 */
import {
  constants,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Stream,
} from 'node:http2';
import { JOINED_ON_HTTP2 } from '../contract/rules.js';
import type { Logger } from '../observability/logger.js';
import { ResponseWriter } from './response-writer.js';

/**
 * node:http2 sends a field once: repeats of a list field (JOINED_ON_HTTP2) become one field, the values
 * joined with ", " in order (RFC 9110 §5.3), where the first of them stood.
 */
function joinRepeats(flat: string[], counts: Map<string, number>): string[] {
  const out: string[] = [];
  const at = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) {
    const lower = flat[i]!.toLowerCase();
    if ((counts.get(lower) ?? 0) > 1) {
      const first = at.get(lower);
      if (first !== undefined) {
        out[first + 1] = `${out[first + 1]!}, ${flat[i + 1]!}`;
        continue;
      }
      at.set(lower, out.length);
    }
    out.push(flat[i]!, flat[i + 1]!);
  }
  return out;
}

/** RFC 9113 §8.2.2 connection-specific fields that are not PEP 3333 hop-by-hop headers. */
const CONNECTION_SPECIFIC = new Set(['proxy-connection', 'http2-settings']);

export class H2ResponseWriter extends ResponseWriter {
  readonly #res: Http2ServerResponse;
  readonly #stream: ServerHttp2Stream;

  constructor(req: Http2ServerRequest, res: Http2ServerResponse, log: Logger, requestBody = 0) {
    super(req, res, log, requestBody);
    this.#res = res;
    this.#stream = res.stream;
  }

  override get clientGone(): boolean {
    // A stream the client reset has its writable side ended by node:http2 as it closes (writableFinished
    // is true then too): only a stream that closed with NO_ERROR after its response ended is complete.
    const stream = this.#stream;
    return stream.destroyed && (stream.rstCode !== constants.NGHTTP2_NO_ERROR || !stream.writableFinished);
  }

  protected override writeHead(code: number, reason: string, flat: string[], close: boolean): void {
    let fields = flat;
    let joined: Map<string, number> | null = null;
    for (let i = 0; i < flat.length; i += 2) {
      const lower = flat[i]!.toLowerCase();
      if (CONNECTION_SPECIFIC.has(lower)) {
        fields = flat.filter((_, j) => !CONNECTION_SPECIFIC.has(flat[j - (j % 2)]!.toLowerCase()));
        this.writeHead(code, reason, fields, close);
        return;
      }
      if (JOINED_ON_HTTP2.has(lower)) {
        joined ??= new Map();
        joined.set(lower, (joined.get(lower) ?? 0) + 1);
      }
    }
    if (joined !== null) fields = joinRepeats(flat, joined);
    const res = this.#res;
    try {
      res.writeHead(code, fields as unknown as Record<string, string>);
    } catch (error) {
      // The compatibility API keeps the fields it took before throwing: a 500 sent next must not carry them.
      if (!res.headersSent) for (const name of res.getHeaderNames()) res.removeHeader(name);
      throw error;
    }
  }

  protected override get flow(): ServerHttp2Stream {
    return this.#stream;
  }

  /** The body stopped at its Content-Length and the stream ended there: nothing else to close. */
  protected override closeAfterExcess(): void {}

  /** RST_STREAM: the client sees this one response fail; the connection's other streams go on. */
  protected override dropConnection(): void {
    if (!this.#stream.destroyed) this.#stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }
}
