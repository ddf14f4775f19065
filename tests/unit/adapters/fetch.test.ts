/** WSGI ↔ Fetch: toFetchHandler and fromFetchHandler, each way and round trip, under the validator. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromFetchHandler, toFetchHandler } from '../../../src/adapters/fetch.js';
import type { Bytes, Environ, WsgiApp, WsgiErrors } from '../../../src/contract/types.js';
import { request } from '../../../src/testing/index.js';

const bytes = (text: string) => Buffer.from(text);

/** wsgi.errors that keeps what was written, so tests can both silence and check it. */
function errorLog(): WsgiErrors & { text: string } {
  const log = {
    text: '',
    write: (t: string) => {
      log.text += t;
    },
    writelines: (lines: Iterable<string>) => {
      for (const l of lines) log.text += l;
    },
    flush: () => {},
  };
  return log;
}

/** A promise and its resolver, so a body can wait for the consumer without any timer. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

describe('toFetchHandler', () => {
  test('the environ comes from the Request: method, path, mount, query, headers, body', async () => {
    let seen: Record<string, unknown> = {};
    const app: WsgiApp = async (environ, startResponse) => {
      const body = await environ['wsgi.input'].read();
      seen = {
        method: environ.REQUEST_METHOD,
        script: environ.SCRIPT_NAME,
        path: environ.PATH_INFO,
        query: environ.QUERY_STRING,
        host: environ.HTTP_HOST,
        type: environ.CONTENT_TYPE,
        custom: environ.HTTP_X_CUSTOM,
        scheme: environ['wsgi.url_scheme'],
        port: environ.SERVER_PORT,
        body: Buffer.from(body).toString(),
      };
      startResponse('200 OK', []);
      return [];
    };
    const handler = toFetchHandler(app, { scriptName: '/mnt/' });
    const response = await handler(
      new Request('https://example.test/mnt/caf%C3%A9?x=1&y=%20', {
        method: 'PUT',
        headers: { 'content-type': 'text/plain', 'x-custom': 'yes' },
        body: 'hello body',
      }),
    );
    assert.equal(response.status, 200);
    assert.deepEqual(seen, {
      method: 'PUT',
      script: '/mnt',
      // PEP 3333: PATH_INFO is the decoded bytes as a latin-1 string.
      path: Buffer.from('/café').toString('latin1'),
      query: 'x=1&y=%20',
      host: 'example.test',
      type: 'text/plain',
      custom: 'yes',
      scheme: 'https',
      port: '443',
      body: 'hello body',
    });
  });

  test('a streamed request body arrives through wsgi.input', async () => {
    const app: WsgiApp = async (environ, startResponse) => {
      const lines = await environ['wsgi.input'].readlines();
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return [bytes(`${lines.length} lines`)];
    };
    const parts = ['one\n', 'two\nthr', 'ee\n'];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(bytes(next));
      },
    });
    const response = await toFetchHandler(app)(
      new Request('http://x.test/', { method: 'POST', body, duplex: 'half' } as RequestInit),
    );
    assert.equal(await response.text(), '3 lines');
  });

  test('status, reason and headers go over exactly, several Set-Cookie included', async () => {
    const app: WsgiApp = (_environ, startResponse) => {
      startResponse('201 Made It', [
        ['Content-Type', 'application/json'],
        ['Set-Cookie', 'a=1; Path=/'],
        ['X-Multi', 'one'],
        ['Set-Cookie', 'b=2; HttpOnly; Expires=Wed, 21 Oct 2037 07:28:00 GMT'],
        ['X-Multi', 'two'],
        ['Set-Cookie', 'c=3'],
      ]);
      return [bytes('{}')];
    };
    const response = await toFetchHandler(app)(new Request('http://x.test/'));
    assert.equal(response.status, 201);
    assert.equal(response.statusText, 'Made It');
    assert.deepEqual(response.headers.getSetCookie(), [
      'a=1; Path=/',
      'b=2; HttpOnly; Expires=Wed, 21 Oct 2037 07:28:00 GMT',
      'c=3',
    ]);
    assert.equal(response.headers.get('x-multi'), 'one, two');
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(await response.text(), '{}');
  });

  test('the body streams: a chunk reaches the consumer before the app makes the next one', async () => {
    const second = gate();
    let closed = 0;
    const body = (async function* (): AsyncGenerator<Bytes> {
      yield bytes('first,');
      await second.wait;
      yield bytes('second');
    })();
    const app: WsgiApp = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return Object.assign(body, {
        close: () => {
          closed++;
        },
      });
    };
    const response = await toFetchHandler(app)(new Request('http://x.test/'));
    const reader = response.body!.getReader();
    const one = await reader.read();
    assert.equal(Buffer.from(one.value!).toString(), 'first,');
    assert.equal(closed, 0);
    second.open();
    const two = await reader.read();
    assert.equal(Buffer.from(two.value!).toString(), 'second');
    assert.equal((await reader.read()).done, true);
    assert.equal(closed, 1);
  });

  test('an error before the first chunk is a 500; after it, the stream errors; close() runs once', async () => {
    const errors = errorLog();
    let closed = 0;
    const failing = (when: 'before' | 'after'): WsgiApp => {
      return (_environ, startResponse) => {
        startResponse('200 OK', []);
        const body = (async function* (): AsyncGenerator<Bytes> {
          if (when === 'after') yield bytes('partial');
          throw new Error(`boom ${when}`);
        })();
        return Object.assign(body, {
          close: () => {
            closed++;
          },
        });
      };
    };
    const early = await toFetchHandler(failing('before'), { errors })(new Request('http://x.test/'));
    assert.equal(early.status, 500);
    assert.equal(closed, 1);
    const late = await toFetchHandler(failing('after'), { errors })(new Request('http://x.test/'));
    assert.equal(late.status, 200);
    await assert.rejects(late.text(), /boom after/);
    assert.equal(closed, 2);
    assert.match(errors.text, /boom before[\s\S]*boom after/);
  });

  test('headers the server may not send are a 500, not a response', async () => {
    const errors = errorLog();
    for (const headers of [
      [['Transfer-Encoding', 'chunked']],
      [['X-Split', 'a\r\nInjected: yes']],
      [['Bad Name', 'x']],
    ] as const) {
      const app: WsgiApp = (_environ, startResponse) => {
        startResponse('200 OK', headers);
        return [bytes('x')];
      };
      const response = await toFetchHandler(app, { errors })(new Request('http://x.test/'));
      assert.equal(response.status, 500, JSON.stringify(headers));
      assert.equal(response.headers.get('injected'), null);
    }
  });

  test('HEAD and 204 have no body, and the app body is still closed', async () => {
    let closed = 0;
    const app: WsgiApp = (environ, startResponse) => {
      startResponse(environ.PATH_INFO === '/empty' ? '204 No Content' : '200 OK', [['X-A', '1']]);
      return Object.assign([bytes('ignored')], {
        close: () => {
          closed++;
        },
      });
    };
    const handler = toFetchHandler(app);
    const head = await handler(new Request('http://x.test/', { method: 'HEAD' }));
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    assert.equal(head.headers.get('x-a'), '1');
    const empty = await handler(new Request('http://x.test/empty'));
    assert.equal(empty.status, 204);
    assert.equal(empty.body, null);
    assert.equal(closed, 2);
  });
});

describe('fromFetchHandler', () => {
  test('a Fetch handler served as a WSGI app: URL, headers, body, status, cookies (under the validator)', async () => {
    const handler = async (req: Request, environ: Environ) => {
      const url = new URL(req.url);
      const headers = new Headers({ 'content-type': 'application/json' });
      headers.append('set-cookie', 'a=1');
      headers.append('set-cookie', 'b=2, with a comma');
      return new Response(
        JSON.stringify({
          url: url.href,
          method: req.method,
          header: req.headers.get('x-custom'),
          body: await req.text(),
          script: environ.SCRIPT_NAME,
        }),
        { status: 202, headers },
      );
    };
    const response = await request(fromFetchHandler(handler), {
      method: 'POST',
      path: '/sub/caf%C3%A9?q=a%20b',
      scriptName: '/mnt',
      host: 'example.test',
      headers: { 'x-custom': 'yes' },
      body: 'payload',
    });
    assert.equal(response.status, '202 Accepted');
    assert.deepEqual(response.headerAll('set-cookie'), ['a=1', 'b=2, with a comma']);
    assert.deepEqual(response.json(), {
      url: 'http://example.test/mnt/sub/caf%C3%A9?q=a%20b',
      method: 'POST',
      header: 'yes',
      body: 'payload',
      script: '/mnt',
    });
  });

  test('round trip: a WSGI app through toFetchHandler and back keeps status, headers and body', async () => {
    const app: WsgiApp = (_environ, startResponse) => {
      startResponse('418 Short And Stout', [
        ['Content-Type', 'text/plain'],
        ['Set-Cookie', 'x=1'],
        ['Set-Cookie', 'y=2'],
      ]);
      return (async function* (): AsyncGenerator<Bytes> {
        yield bytes('tea');
        yield bytes('pot');
      })();
    };
    const back = fromFetchHandler(toFetchHandler(app));
    const response = await request(back);
    assert.equal(response.status, '418 Short And Stout');
    assert.deepEqual(response.headerAll('set-cookie'), ['x=1', 'y=2']);
    assert.equal(response.header('content-type'), 'text/plain');
    assert.equal(response.text(), 'teapot');
  });
});
