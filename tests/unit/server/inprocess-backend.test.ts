/**
 * The in-process backend (src/server/inprocess-backend.ts): PEP 3333's start_response machine for
 * TypeScript apps, driven through a real node:http server and ResponseWriter on loopback, so what each
 * case asserts is what a client receives: the environ's wsgi.* keys, list and streamed bodies, exc_info,
 * write(), errors before and after the head, close() exactly once, and close(grace) waiting for streams.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Bytes, Environ, ResponseBody, WsgiApp } from '../../../src/contract/types.js';
import { createLogger } from '../../../src/observability/logger.js';
import { InProcessBackend } from '../../../src/server/inprocess-backend.js';
import { ResponseWriter } from '../../../src/server/response-writer.js';

const text = (s: string) => Buffer.from(s);

let log = '';
const logger = createLogger({ write: (line: string) => (log += line) }, 'debug');

/** The app the next request goes to (one server for the file; each test sets its app). */
let app: WsgiApp = () => [];
let backend = new InProcessBackend((environ, startResponse) => app(environ, startResponse), logger);
const server = http.createServer((req, res) => {
  const declared = req.headers['content-length'];
  const bodyLength = declared !== undefined ? Number(declared) : req.headers['transfer-encoding'] ? -1 : 0;
  const environ: Record<string, string> = {
    REQUEST_METHOD: req.method!,
    SCRIPT_NAME: '',
    PATH_INFO: req.url!,
    QUERY_STRING: '',
    SERVER_NAME: '127.0.0.1',
    SERVER_PORT: '0',
    SERVER_PROTOCOL: 'HTTP/1.1',
    RAW_URI: req.url!,
    'wsgi.url_scheme': 'http',
  };
  const writer = new ResponseWriter(req, res, logger, bodyLength);
  backend.handle({ req, environ, writer, bodyLimit: 100, bodyLength });
});
let base = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/** Runs `handler` as the app for one request and returns the response with its body read. */
async function call(handler: WsgiApp, init: RequestInit = {}) {
  app = handler;
  log = '';
  const res = await fetch(`${base}/path`, init);
  return { res, body: await res.text() };
}

/** A promise and the function that resolves it (Promise.withResolvers is Node 22's). */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A body that records close() and whether its iterator was finished early. */
function tracked(chunks: Iterable<Bytes> | AsyncIterable<Bytes>) {
  const state = { closed: 0 };
  const body = Object.assign(chunks, {
    close() {
      state.closed++;
    },
  }) as ResponseBody;
  return { body, state };
}

describe('the environ and the body', () => {
  test('wsgi.* keys as PEP 3333 has them; wsgi.input reads the request body; wsgi.errors is the log', async () => {
    let seen: Environ | null = null;
    const { res, body } = await call(
      async (environ, startResponse) => {
        seen = environ;
        const input = await environ['wsgi.input'].read();
        environ['wsgi.errors'].write('from the app\n');
        startResponse('200 OK', [['Content-Type', 'text/plain']]);
        return [text('got '), input];
      },
      { method: 'POST', body: 'payload' },
    );
    assert.equal(res.status, 200);
    assert.equal(body, 'got payload');
    const environ = seen as unknown as Environ;
    assert.deepEqual(environ['wsgi.version'], [1, 0]);
    assert.equal(environ['wsgi.multithread'], false);
    assert.equal(environ['wsgi.multiprocess'], false);
    assert.equal(environ['wsgi.run_once'], false);
    assert.equal(environ['wsgi.input_terminated'], true);
    assert.equal(typeof environ['wsgi.file_wrapper'], 'function');
    assert.match(log, /^from the app$/m);
  });

  test('a list body gets its Content-Length; a stream is chunked; the head waits for the first non-empty chunk', async () => {
    const list = await call((_e, startResponse) => {
      startResponse('200 OK', []);
      return [text('ab'), text(''), text('cde')];
    });
    assert.equal(list.res.headers.get('content-length'), '5');
    assert.equal(list.body, 'abcde');
    const streamed = await call((_e, startResponse) => {
      startResponse('201 Created', [['X-A', '1']]);
      return (async function* () {
        yield text('');
        startResponse('202 Accepted', [['X-A', '2']], new Error('replaced before the head went out'));
        yield text('one');
        yield text('two');
      })();
    });
    assert.equal(streamed.res.status, 202, 'exc_info before the head replaced it');
    assert.equal(streamed.res.headers.get('x-a'), '2');
    assert.equal(streamed.res.headers.get('transfer-encoding'), 'chunked');
    assert.equal(streamed.body, 'onetwo');
  });

  test('an app that returns a Promise, and a body of no chunks (Content-Length: 0)', async () => {
    const { res, body } = await call(async (_e, startResponse) => {
      await new Promise(setImmediate);
      startResponse('200 OK', []);
      return (function* () {})();
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal(body, '');
  });

  test('write(): the head goes at the first non-empty write, then the returned body follows', async () => {
    const { res, body } = await call((_e, startResponse) => {
      const write = startResponse('200 OK', []);
      write(text(''));
      write(text('written '));
      return [text('returned')];
    });
    assert.equal(res.headers.get('content-length'), null);
    assert.equal(body, 'written returned');
  });
});

describe('faults', () => {
  test('an exception before the head: 500 with its traceback in the log, close() once', async () => {
    const { body: b, state } = tracked({
      *[Symbol.iterator]() {
        yield text('');
        throw new Error('broke before any byte');
      },
    });
    const { res } = await call((_e, startResponse) => {
      startResponse('200 OK', []);
      return b;
    });
    assert.equal(res.status, 500);
    assert.match(log, /Error handling request GET \/path\nError: broke before any byte/);
    assert.equal(state.closed, 1);
  });

  test('an exception after the head: the connection is aborted (the client sees a truncation), close() once', async () => {
    const { body: b, state } = tracked(
      (async function* () {
        yield text('partial');
        throw new Error('broke mid-stream');
      })(),
    );
    app = (_e, startResponse) => {
      startResponse('200 OK', []);
      return b;
    };
    log = '';
    const res = await fetch(`${base}/path`);
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
    assert.match(log, /broke mid-stream/);
    assert.equal(state.closed, 1);
  });

  test('start_response misused: twice without exc_info, exc_info after the head, bad headers, none at all', async () => {
    const twice = await call((_e, startResponse) => {
      startResponse('200 OK', []);
      startResponse('200 OK', []);
      return [];
    });
    assert.equal(twice.res.status, 500);
    assert.match(log, /start_response\(\) called a second time without exc_info/);
    let reraised: unknown = null;
    const late = new Error('too late');
    app = (_e, startResponse) => {
      startResponse('200 OK', []);
      return (function* () {
        yield text('sent');
        try {
          startResponse('500 Oops', [], late);
        } catch (error) {
          reraised = error;
        }
      })();
    };
    assert.equal(await (await fetch(`${base}/path`)).text(), 'sent');
    assert.equal(reraised, late, 'PEP 3333: exc_info after the head re-raises it');
    const bad = await call((_e, startResponse) => {
      startResponse('200 OK', [['X-Bad', 'a\r\nInjected: 1']]);
      return [];
    });
    assert.equal(bad.res.status, 500);
    assert.equal(bad.res.headers.get('injected'), null);
    assert.match(log, /invalid response from the application/);
    const none = await call(() => [text('no head')]);
    assert.equal(none.res.status, 500);
    assert.match(log, /returned a body without calling start_response/);
  });

  test('a chunk that is not bytes: 500, the app told what it gave', async () => {
    const { res } = await call((_e, startResponse) => {
      startResponse('200 OK', []);
      return ['a string'] as unknown as Bytes[];
    });
    assert.equal(res.status, 500);
    assert.match(log, /body chunks must be bytes, got string/);
  });

  test('an HttpError (a body over the limit while reading wsgi.input) answers its own status', async () => {
    const { res } = await call(
      async (environ, startResponse) => {
        await environ['wsgi.input'].read();
        startResponse('200 OK', []);
        return [];
      },
      { method: 'POST', body: 'x'.repeat(101) },
    );
    assert.equal(res.status, 413);
    assert.match(log, /\[INFO\] POST \/path: request body larger than 100 bytes/);
  });

  test('a close() that throws is logged; the response is unharmed', async () => {
    const { res, body } = await call((_e, startResponse) => {
      startResponse('200 OK', []);
      return Object.assign([text('fine')], {
        close() {
          throw new Error('close broke');
        },
      });
    });
    assert.equal(body, 'fine');
    assert.equal(res.status, 200);
    assert.match(log, /Error in close\(\) of the response body of GET \/path\nError: close broke/);
  });
});

describe('clients that leave and shutdown', () => {
  test('a client gone mid-stream: the app iterator is finished and close() runs once', async () => {
    const state = { closed: 0, finished: false };
    let produced = 0;
    const gone = new Promise<void>((resolve) => {
      app = (_e, startResponse) => {
        startResponse('200 OK', []);
        return {
          async *[Symbol.asyncIterator]() {
            try {
              for (;;) {
                produced++;
                yield Buffer.alloc(64 * 1024, 0x61);
                await new Promise(setImmediate);
              }
            } finally {
              state.finished = true;
            }
          },
          close() {
            state.closed++;
            resolve();
          },
        };
      };
    });
    const controller = new AbortController();
    const res = await fetch(`${base}/path`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await gone;
    assert.equal(state.closed, 1);
    assert.ok(state.finished, 'the generator ran its finally');
    assert.ok(produced > 0);
  });

  test('close(grace) waits for a stream in flight, and gives up on one that never ends after the grace', async () => {
    const released = signal();
    const started = signal();
    app = (_e, startResponse) => {
      startResponse('200 OK', []);
      return (async function* () {
        yield text('first ');
        started.resolve();
        await released.promise;
        yield text('last');
      })();
    };
    const response = fetch(`${base}/path`).then((r) => r.text());
    await started.promise;
    let closed = false;
    const closing = backend.close(60_000).then(() => {
      closed = true;
    });
    for (let i = 0; i < 5; i++) await new Promise(setImmediate);
    assert.equal(closed, false, 'close() resolved while a response was still streaming');
    released.resolve();
    await closing;
    assert.equal(await response, 'first last');
    // An app that never finishes: close() returns after its grace all the same.
    const stuck = signal();
    backend = new InProcessBackend(
      () => ({
        async *[Symbol.asyncIterator]() {
          stuck.resolve();
          await new Promise(() => {});
        },
      }),
      logger,
    );
    const abandoned = fetch(`${base}/path`).catch(() => null);
    await stuck.promise;
    await backend.close(20);
    server.closeAllConnections();
    await abandoned;
  });
});
