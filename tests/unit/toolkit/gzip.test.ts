/**
 * The gzip middleware (src/toolkit/gzip.ts): when it compresses (Accept-Encoding, media type, status,
 * threshold), the headers it rewrites (Content-Encoding, Content-Length, Vary), and the streaming path,
 * where every chunk the app yields must come out compressed and flushed at once, so streaming still streams.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { constants, gunzipSync } from 'node:zlib';
import type { Bytes, HeaderList, ResponseBody, Status, WsgiApp } from '../../../src/contract/types.js';
import { buildTestEnviron, request } from '../../../src/testing/client.js';
import { acceptsGzip, gzip } from '../../../src/toolkit/gzip.js';
import { Response } from '../../../src/toolkit/response.js';

const text = (s: string) => Buffer.from(s, 'utf8');

/** What reached the server: the head it was given and each body chunk as yielded, apart. */
interface Served {
  status: Status;
  headers: HeaderList;
  /** Chunks in order; write() calls are listed where they happened. */
  chunks: Buffer[];
  /** How many chunks had been taken from the body when start_response was called (-1 before the body). */
  headAt: number;
  closed: number;
  header(name: string): string | null;
}

/** Runs `app` as a server would: calls it, iterates the body chunk by chunk, calls close() once. */
async function serve(app: WsgiApp, requestHeaders: Record<string, string> = {}, method = 'GET') {
  const environ = buildTestEnviron({ method, headers: requestHeaders });
  let head: { status: Status; headers: HeaderList; at: number } | null = null;
  const chunks: Buffer[] = [];
  let taken = -1;
  const body: ResponseBody = await app(environ, (status, headers) => {
    head = { status, headers, at: taken };
    return (data) => chunks.push(Buffer.from(data));
  });
  let closed = 0;
  const close = body.close;
  try {
    taken = 0;
    const iterator =
      Symbol.asyncIterator in body
        ? (body as AsyncIterable<Bytes>)[Symbol.asyncIterator]()
        : (body as Iterable<Bytes>)[Symbol.iterator]();
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      chunks.push(Buffer.from(next.value));
      taken++;
    }
  } finally {
    if (close !== undefined) {
      await close.call(body);
      closed++;
    }
  }
  assert.ok(head !== null, 'start_response was called');
  const { status, headers, at } = head as { status: Status; headers: HeaderList; at: number };
  return {
    status,
    headers,
    chunks,
    headAt: at,
    closed,
    header: (name: string) => headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1] ?? null,
  } satisfies Served;
}

/** Decompresses what a client has received so far, as it would before the stream ends (a sync flush). */
const inflateSoFar = (received: Buffer) =>
  gunzipSync(received, { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8');

/** A streamed body of `parts`, with `close()` counted; `type` as the Content-Type. */
function streaming(parts: readonly (string | Bytes)[], type = 'text/plain', extra: HeaderList = []) {
  const state = { closed: 0 };
  const app: WsgiApp = (_environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', type], ...extra]);
    return {
      *[Symbol.iterator]() {
        for (const part of parts) yield typeof part === 'string' ? text(part) : part;
      },
      close() {
        state.closed++;
      },
    };
  };
  return { app, state };
}

describe('acceptsGzip (RFC 9110 §12.5.3)', () => {
  test('gzip, x-gzip and * with a non-zero quality; q=0 refuses; absent or other codings do not', () => {
    for (const yes of ['gzip', 'GZIP', 'deflate, gzip;q=0.5', 'x-gzip', 'br, *', '*;q=0.1', 'gzip ; q=1'])
      assert.equal(acceptsGzip(yes), true, yes);
    for (const no of ['', 'identity', 'br', 'gzip;q=0', '*;q=0', 'gzip;q=0, *', undefined, 42])
      assert.equal(acceptsGzip(no), false, String(no));
  });
});

describe('bodies known in full (a list)', () => {
  test('compressed when accepted and worth it: Content-Length is the compressed size, Vary added', async () => {
    const big = 'compress me '.repeat(200);
    const app = gzip()(new Response(big, { headers: [['Content-Type', 'text/plain']] }));
    const zipped = await request(app, { headers: { 'Accept-Encoding': 'gzip, br' } });
    assert.equal(zipped.header('Content-Encoding'), 'gzip');
    assert.equal(zipped.header('Vary'), 'Accept-Encoding');
    assert.equal(gunzipSync(zipped.body).toString(), big);
    assert.equal(Number(zipped.header('Content-Length')), zipped.body.length);
    assert.ok(zipped.body.length < big.length / 10);
    const plain = await request(app, { headers: { 'Accept-Encoding': 'identity' } });
    assert.equal(plain.header('Content-Encoding'), null);
    assert.equal(plain.text(), big);
    const refused = await request(app, { headers: { 'Accept-Encoding': 'gzip;q=0' } });
    assert.equal(refused.header('Content-Encoding'), null);
    assert.equal(refused.text(), big);
  });

  test('under the threshold: sent as it is, but with Vary (the choice depended on the request)', async () => {
    const tiny = await request(gzip()(new Response('hi', { headers: [['Content-Type', 'text/plain']] })), {
      headers: { 'Accept-Encoding': 'gzip' },
    });
    assert.equal(tiny.header('Content-Encoding'), null);
    assert.equal(tiny.text(), 'hi');
    assert.equal(tiny.header('Vary'), 'Accept-Encoding');
    assert.equal(tiny.header('Content-Length'), '2');
    // The threshold is an option: at it, compressed; one byte under, not.
    const at = (threshold: number) =>
      request(
        gzip({ threshold })(new Response('x'.repeat(100), { headers: { 'Content-Type': 'text/css' } })),
        {
          headers: { 'Accept-Encoding': 'gzip' },
        },
      );
    assert.equal((await at(100)).header('Content-Encoding'), 'gzip');
    assert.equal((await at(101)).header('Content-Encoding'), null);
  });

  test('a list of several chunks is compressed as one body', async () => {
    const parts = ['{"a":', '"', 'x'.repeat(3000), '"}'];
    const served = await serve(
      gzip()((_environ, startResponse) => {
        startResponse('200 OK', [['Content-Type', 'application/json; charset=utf-8']]);
        return parts.map(text);
      }),
      { 'Accept-Encoding': 'gzip' },
    );
    assert.equal(served.chunks.length, 1);
    assert.equal(gunzipSync(served.chunks[0]!).toString(), parts.join(''));
    assert.equal(served.header('Content-Length'), String(served.chunks[0]!.length));
    assert.equal(served.headAt, -1, 'the head went out before the body was iterated');
  });

  test('left alone: other media types, already encoded, ranges, 204/304, no-transform', async () => {
    const big = Buffer.alloc(5000, 0x79);
    const cases: Array<[string, number, HeaderList]> = [
      ['image/png', 200, [['Content-Type', 'image/png']]],
      ['no Content-Type', 200, []],
      [
        'already encoded',
        200,
        [
          ['Content-Type', 'text/plain'],
          ['Content-Encoding', 'br'],
        ],
      ],
      [
        'a range',
        206,
        [
          ['Content-Type', 'text/plain'],
          ['Content-Range', 'bytes 0-4999/9000'],
        ],
      ],
      [
        'no-transform',
        200,
        [
          ['Content-Type', 'text/plain'],
          ['Cache-Control', 'public, no-transform'],
        ],
      ],
    ];
    for (const [what, status, headers] of cases) {
      const res = await request(gzip()(new Response(big, { status, headers })), {
        headers: { 'Accept-Encoding': 'gzip' },
      });
      assert.deepEqual(res.headers, [...headers, ['Content-Length', '5000']], what);
      assert.ok(res.body.equals(big), what);
    }
    for (const status of [204, 304]) {
      const res = await request(
        gzip()(new Response(null, { status, headers: { 'Content-Type': 'text/html' } })),
        {
          headers: { 'Accept-Encoding': 'gzip' },
        },
      );
      assert.deepEqual(res.headers, [['Content-Type', 'text/html']], String(status));
    }
  });

  test('Vary keeps what the app listed, and is not repeated', async () => {
    const vary = async (existing: string) =>
      (
        await request(
          gzip()(
            new Response('v'.repeat(2000), { headers: { 'Content-Type': 'text/plain', Vary: existing } }),
          ),
          { headers: { 'Accept-Encoding': 'gzip' } },
        )
      ).headerAll('Vary');
    assert.deepEqual(await vary('Cookie'), ['Cookie, Accept-Encoding']);
    assert.deepEqual(await vary('accept-encoding'), ['accept-encoding']);
    assert.deepEqual(await vary('Cookie, Accept-Encoding'), ['Cookie, Accept-Encoding']);
    assert.deepEqual(await vary('*'), ['*']);
  });

  test('HEAD gets the head GET gets (the server drops the body)', async () => {
    const big = 'head me '.repeat(500);
    const app = gzip()(new Response(big, { headers: { 'Content-Type': 'text/html' } }));
    const get = await serve(app, { 'Accept-Encoding': 'gzip' }, 'GET');
    const head = await serve(app, { 'Accept-Encoding': 'gzip' }, 'HEAD');
    assert.deepEqual(head.headers, get.headers);
    assert.equal(head.header('Content-Encoding'), 'gzip');
  });
});

describe('streamed bodies', () => {
  test('each chunk comes out compressed and flushed: what arrived so far decompresses to what was sent', async () => {
    const parts = ['first line\n', 'second, a bit longer line\n', 'x'.repeat(50_000), 'last\n'];
    const { app, state } = streaming(parts);
    const served = await serve(gzip()(app), { 'Accept-Encoding': 'gzip' });
    assert.equal(served.header('Content-Encoding'), 'gzip');
    assert.equal(served.header('Content-Length'), null);
    assert.equal(served.header('Vary'), 'Accept-Encoding');
    // One compressed chunk per chunk of the app, then the gzip trailer.
    assert.equal(served.chunks.length, parts.length + 1);
    for (let i = 1; i <= parts.length; i++)
      assert.equal(
        inflateSoFar(Buffer.concat(served.chunks.slice(0, i))),
        parts.slice(0, i).join(''),
        `after chunk ${i}`,
      );
    const whole = Buffer.concat(served.chunks);
    assert.equal(gunzipSync(whole).toString(), parts.join(''));
    assert.ok(whole.length < 1000, `50 KiB of x compressed to ${whole.length} bytes`);
    assert.equal(state.closed, 1);
    assert.equal(served.closed, 1);
  });

  test('chunk boundaries: large chunks, one-byte chunks and empty chunks, async', async () => {
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 7)) % 251; // compresses, but not to nothing
    const parts: Buffer[] = [
      big.subarray(0, 1),
      Buffer.alloc(0),
      big.subarray(1, 2),
      big.subarray(2, 200_000),
    ];
    parts.push(Buffer.alloc(0), big.subarray(200_000, 299_999), big.subarray(299_999));
    const app: WsgiApp = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        for (const part of parts) {
          await new Promise(setImmediate);
          yield part;
        }
      })();
    };
    const served = await serve(gzip()(app), { 'Accept-Encoding': 'gzip' });
    assert.equal(served.header('Content-Encoding'), 'gzip');
    assert.equal(served.chunks.length, parts.length + 1);
    let sent = 0;
    for (let i = 0; i < parts.length; i++) {
      sent += parts[i]!.length;
      const got = gunzipSync(Buffer.concat(served.chunks.slice(0, i + 1)), {
        finishFlush: constants.Z_SYNC_FLUSH,
      });
      assert.equal(got.length, sent, `after chunk ${i}`);
    }
    assert.ok(gunzipSync(Buffer.concat(served.chunks)).equals(big));
  });

  test('small streamed bodies are compressed too (their size is unknown when the head goes out)', async () => {
    const { app } = streaming(['a', 'b']);
    const served = await serve(gzip()(app), { 'Accept-Encoding': 'gzip' });
    assert.equal(served.header('Content-Encoding'), 'gzip');
    assert.equal(gunzipSync(Buffer.concat(served.chunks)).toString(), 'ab');
    const empty = await serve(gzip()(streaming([]).app), { 'Accept-Encoding': 'gzip' });
    assert.equal(empty.header('Content-Encoding'), 'gzip');
    assert.equal(gunzipSync(Buffer.concat(empty.chunks)).toString(), '');
  });

  test('a declared Content-Length is dropped: it counted the uncompressed bytes', async () => {
    const { app } = streaming(['12345', '67890'], 'text/plain', [['Content-Length', '10']]);
    const served = await serve(gzip()(app), { 'Accept-Encoding': 'gzip' });
    assert.equal(served.header('Content-Length'), null);
    assert.equal(gunzipSync(Buffer.concat(served.chunks)).toString(), '1234567890');
  });

  test('not compressed: the chunks pass as they are, one for one, without Vary', async () => {
    const parts = ['\x89PNG', 'rest of the image'];
    const { app, state } = streaming(parts, 'image/png');
    const served = await serve(gzip()(app), { 'Accept-Encoding': 'gzip' });
    assert.equal(served.header('Content-Encoding'), null);
    assert.equal(served.header('Vary'), null);
    assert.deepEqual(
      served.chunks.map((c) => c.toString()),
      parts,
    );
    assert.equal(state.closed, 1);
  });

  test('a client that does not accept gzip gets the body untouched, with Vary (RFC 9110 §12.5.5)', async () => {
    const parts = ['plain ', 'text'];
    const { app } = streaming(parts, 'text/plain', [['Vary', 'Cookie']]);
    const served = await serve(gzip()(app), { 'Accept-Encoding': 'br' });
    assert.equal(served.header('Content-Encoding'), null);
    assert.equal(served.header('Vary'), 'Cookie, Accept-Encoding');
    assert.deepEqual(
      served.chunks.map((c) => c.toString()),
      parts,
    );
    const list = await request(
      gzip()(new Response('z'.repeat(3000), { headers: { 'Content-Type': 'text/plain' } })),
    );
    assert.equal(list.header('Content-Encoding'), null);
    assert.equal(list.header('Vary'), 'Accept-Encoding');
    assert.equal(list.text(), 'z'.repeat(3000));
    // Nothing to say for what would never be compressed.
    const image = await request(
      gzip()(new Response(Buffer.alloc(3000), { headers: { 'Content-Type': 'image/png' } })),
    );
    assert.equal(image.header('Vary'), null);
  });

  test('start_response called at the first iteration (PEP 3333 allows it) still decides the encoding', async () => {
    const app: WsgiApp = (_environ, startResponse) => ({
      *[Symbol.iterator]() {
        startResponse('200 OK', [['Content-Type', 'text/plain']]);
        yield text('late head');
      },
    });
    const served = await serve(gzip()(app), { 'Accept-Encoding': 'gzip' });
    assert.equal(served.headAt, 0, 'the head was sent while the body was iterated');
    assert.equal(served.header('Content-Encoding'), 'gzip');
    assert.equal(gunzipSync(Buffer.concat(served.chunks)).toString(), 'late head');
  });

  test('write() before the body: the head goes at once, the written bytes compressed ahead of the body', async () => {
    const app: WsgiApp = (_environ, startResponse) => {
      const write = startResponse('200 OK', [['Content-Type', 'text/plain']]);
      write(text('written, '));
      return [text('returned')];
    };
    const served = await serve(gzip()(app), { 'Accept-Encoding': 'gzip' });
    assert.equal(served.header('Content-Encoding'), 'gzip');
    assert.equal(served.header('Content-Length'), null);
    assert.equal(gunzipSync(Buffer.concat(served.chunks)).toString(), 'written, returned');
    // Not compressible: write() goes straight to the server's write().
    const raw: WsgiApp = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'image/gif']])(text('GIF'));
      return [text('89a')];
    };
    const passed = await serve(gzip()(raw), { 'Accept-Encoding': 'gzip' });
    assert.deepEqual(
      passed.chunks.map((c) => c.toString()),
      ['GIF', '89a'],
    );
  });

  test('an app that fails mid-stream: the error reaches the server, close() runs once', async () => {
    const state = { closed: 0, returned: false };
    const app: WsgiApp = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return {
        [Symbol.iterator]() {
          let n = 0;
          return {
            next: () => {
              if (n++ === 0) return { done: false, value: text('before the fault') };
              throw new Error('app broke');
            },
            return: () => {
              state.returned = true;
              return { done: true, value: undefined };
            },
          };
        },
        close() {
          state.closed++;
        },
      };
    };
    await assert.rejects(serve(gzip()(app), { 'Accept-Encoding': 'gzip' }), /app broke/);
    assert.equal(state.closed, 1);
    assert.ok(state.returned, 'the app iterator was finished');
  });
});
