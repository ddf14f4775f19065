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
import type { Logger } from '../observability/logger.js';
import { ResponseWriter } from './response-writer.js';

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

  protected override writeHead(code: number, _reason: string, flat: string[], _close: boolean): void {
    let fields = flat;
    for (let i = 0; i < flat.length; i += 2) {
      if (CONNECTION_SPECIFIC.has(flat[i]!.toLowerCase())) {
        fields = flat.filter((_, j) => !CONNECTION_SPECIFIC.has(flat[j - (j % 2)]!.toLowerCase()));
        break;
      }
    }
    this.#res.writeHead(code, fields as unknown as Record<string, string>);
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
