/**
 * The contract's types reject what PEP 3333 rejects. Each `@ts-expect-error` below is compiled by tsc in
 * the build: should the types ever accept that line, the directive is unused and the build fails. The
 * accepted forms run for real, so the file also checks that what compiles is served.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HeaderList, ResponseBody, StartResponse, WsgiApp } from '../../../src/contract/types.js';
import { request } from '../../../src/testing/index.js';

const bytes = (text: string) => Buffer.from(text);

/** Only type-checked: never called, so the rejected calls never run. */
function rejected(startResponse: StartResponse): void {
  // @ts-expect-error PEP 3333: the status is a string, not a number
  startResponse(200, []);
  // @ts-expect-error PEP 3333: "a status code and a reason phrase, separated by a single space"
  startResponse('200', []);
  // @ts-expect-error the status code is three digits
  startResponse('20 OK', []);
  // @ts-expect-error a header value is a string
  startResponse('200 OK', [['Content-Length', 5]]);
  // @ts-expect-error a header is a pair, not a single name
  startResponse('200 OK', [['X-Alone']]);
  // @ts-expect-error a header is a pair, not a triple
  startResponse('200 OK', [['X-A', 'b', 'c']]);
  // @ts-expect-error headers are a list of pairs, not an object
  startResponse('200 OK', { 'Content-Type': 'text/plain' });
}
void rejected;

// @ts-expect-error PEP 3333: the body yields byte strings, not text
const stringChunks: WsgiApp = () => ['hello'];
// @ts-expect-error a string is not a body (it would be sent one character at a time)
const stringBody: WsgiApp = () => 'hello';
// @ts-expect-error nor is one byte string on its own: a body is an iterable of them
const bareBytes: WsgiApp = () => bytes('hello');
// @ts-expect-error an async body yields byte strings too
const asyncStrings: ResponseBody = (async function* () {
  yield 'text';
})();
void [stringChunks, stringBody, bareBytes, asyncStrings];

test('what the types accept is served: a list body, an async body, a Promise of a body', async () => {
  const headers: HeaderList = [
    ['Content-Type', 'text/plain'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ];
  const list: WsgiApp = (_environ, startResponse) => {
    startResponse('200 OK', headers);
    return [bytes('list')];
  };
  const streamed: WsgiApp = (_environ, startResponse) => {
    startResponse('201 Created', headers);
    return (async function* () {
      yield bytes('async');
    })();
  };
  const promised: WsgiApp = async (_environ, startResponse) => {
    startResponse('404 Not Found', []);
    return [bytes('promised')];
  };
  const one = await request(list);
  assert.equal(one.text(), 'list');
  assert.deepEqual(one.headerAll('set-cookie'), ['a=1', 'b=2']);
  assert.equal((await request(streamed)).status, '201 Created');
  assert.equal((await request(promised)).text(), 'promised');
});
