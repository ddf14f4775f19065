/** The test client: environ from options, the validator on by default, the whole answer, close() called. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WsgiApp } from '../../../src/contract/types.js';
import { buildTestEnviron, request } from '../../../src/testing/client.js';

const echo: WsgiApp = async (environ, startResponse) => {
  const body = await environ['wsgi.input'].read();
  const seen = {
    method: environ.REQUEST_METHOD,
    script: environ.SCRIPT_NAME,
    path: environ.PATH_INFO,
    query: environ.QUERY_STRING,
    type: environ.CONTENT_TYPE ?? null,
    length: environ.CONTENT_LENGTH ?? null,
    host: environ.HTTP_HOST,
    custom: environ.HTTP_X_CUSTOM ?? null,
    body: Buffer.from(body).toString('utf8'),
  };
  startResponse('200 OK', [
    ['Content-Type', 'application/json'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ]);
  return [Buffer.from(JSON.stringify(seen))];
};

test('the environ: method, percent-decoded path as a WSGI string, query, headers, a JSON body', async () => {
  const res = await request(echo, {
    path: '/caf%C3%A9/x?a=1',
    query: { b: '2' },
    headers: { 'X-Custom': 'yes' },
    json: { hello: 'world' },
    scriptName: '/app',
  });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {
    method: 'POST',
    script: '/app',
    path: '/caf\u00c3\u00a9/x',
    query: 'a=1&b=2',
    type: 'application/json',
    length: '17',
    host: 'localhost',
    custom: 'yes',
    body: '{"hello":"world"}',
  });
  assert.deepEqual(res.headerAll('set-cookie'), ['a=1', 'b=2']);
  assert.equal(res.header('CONTENT-TYPE'), 'application/json');
  assert.equal(res.header('X-None'), null);
});

test('close() is called after the body was read, and when iterating it throws', async () => {
  const events: string[] = [];
  const app =
    (fail: boolean): WsgiApp =>
    (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return {
        *[Symbol.iterator]() {
          events.push('first');
          yield Buffer.from('a');
          if (fail) throw new Error('boom');
          yield Buffer.from('b');
        },
        close: () => {
          events.push('close');
        },
      };
    };
  assert.equal((await request(app(false))).text(), 'ab');
  assert.deepEqual(events.splice(0), ['first', 'close']);
  await assert.rejects(request(app(true)), /boom/);
  assert.deepEqual(events, ['first', 'close']);
});

test('the validator runs by default: a contract violation throws; validate: false lets it through', async () => {
  const bad: WsgiApp = (_environ, startResponse) => {
    startResponse('200 OK', [['Connection', 'keep-alive']]);
    return [Buffer.from('x')];
  };
  await assert.rejects(request(bad), /hop-by-hop/);
  assert.equal((await request(bad, { validate: false })).text(), 'x');
});

test('write() output comes before the iterable body; HEAD answers carry no body', async () => {
  const app: WsgiApp = (_environ, startResponse) => {
    const write = startResponse('200 OK', [['Content-Type', 'text/plain']]);
    write(Buffer.from('written '));
    return [Buffer.from('returned')];
  };
  assert.equal((await request(app)).text(), 'written returned');
  assert.equal((await request(app, { method: 'HEAD' })).body.length, 0);
});

test('buildTestEnviron is a complete PEP 3333 environ', () => {
  const env = buildTestEnviron({ scheme: 'https', host: 'example.com:8443', body: 'hi' });
  assert.equal(env.SERVER_NAME, 'example.com');
  assert.equal(env.SERVER_PORT, '8443');
  assert.equal(env['wsgi.url_scheme'], 'https');
  assert.equal(env.CONTENT_LENGTH, '2');
  assert.deepEqual(env['wsgi.version'], [1, 0]);
  assert.equal(env.REQUEST_METHOD, 'POST');
});
