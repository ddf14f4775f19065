/**
 * Response-side conformance, two backends: the same app behaviours (tests/fixtures/apps/responses.ts and
 * tests/fixtures/python/responses.py, route for route) must put the same bytes on the wire, Date aside,
 * whatever the app does wrong: bad statuses, CR/LF/NUL/control characters in names and values, hop-by-hop
 * and repeated single-value headers, a Content-Length too long or short, exc_info, write(), a close() that
 * raises. Each case also states what the client must get (issue 11: a NUL in a value once became headers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtures, repoRoot } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';

interface Case {
  readonly path: string;
  /** The status the client gets, or 'truncated' (the connection closes mid-response). */
  readonly expect: number | 'truncated';
  /** Text the response must hold (head and body). */
  readonly has?: readonly string[];
  /** Text that must not reach the wire. */
  readonly hasNot?: readonly RegExp[];
  /** The error log must show this (the app's fault is logged, never silent). */
  readonly log?: RegExp;
}

const INJECTED = [/Set-Cookie/i, /session=evil/, /Injected/, /evil\.test/];

const CASES: Case[] = [
  { path: '/ok', expect: 200, has: ['Content-Type: text/plain', 'Content-Length: 4', '\r\n\r\nbody'] },
  { path: '/latin1-and-tab', expect: 200, has: ['200 caf\u00e9\r\n', 'X-Latin1: caf\u00e9', 'X-Tab: a\tb'] },
  { path: '/status/600', expect: 500, hasNot: [/Custom/], log: /status 600 is outside 100-599/ },
  { path: '/status/99', expect: 500 },
  { path: '/status/101', expect: 500, log: /status 101 is not a final status/ },
  { path: '/status/no-reason-space', expect: 500 },
  { path: '/status/crlf', expect: 500, hasNot: INJECTED },
  { path: '/status/nul', expect: 500 },
  { path: '/status/not-a-string', expect: 500 },
  { path: '/name/crlf', expect: 500, hasNot: INJECTED },
  { path: '/name/space', expect: 500, hasNot: [/Bad Name/] },
  { path: '/name/nul', expect: 500 },
  { path: '/name/colon', expect: 500, hasNot: [/Bad:Name/] },
  { path: '/value/cr', expect: 500, hasNot: [/X-Bad/] },
  { path: '/value/lf', expect: 500, hasNot: INJECTED },
  {
    path: '/value/nul-list',
    expect: 500,
    hasNot: INJECTED,
    log: /invalid characters in the value of header .X-Echo./,
  },
  { path: '/value/nul-stream', expect: 500, hasNot: INJECTED },
  { path: '/value/nul-write', expect: 500, hasNot: INJECTED },
  { path: '/value/nul-location', expect: 500, hasNot: [/Location/i, ...INJECTED] },
  { path: '/value/nul-content-length', expect: 500, hasNot: [/X-A/, /Content-Length: 0/] },
  { path: '/value/esc', expect: 500, hasNot: [/X-Bad/] },
  { path: '/value/del', expect: 500, hasNot: [/X-Bad/] },
  { path: '/value/not-latin1', expect: 500, hasNot: [/X-Bad/] },
  { path: '/value/not-a-string', expect: 500, hasNot: [/X-Num/] },
  { path: '/hop/transfer-encoding', expect: 500, log: /hop-by-hop header .Transfer-Encoding./ },
  { path: '/hop/upgrade', expect: 500 },
  { path: '/hop/keep-alive', expect: 500 },
  { path: '/hop/connection-keep-alive', expect: 500 },
  { path: '/connection-close', expect: 200, has: ['Connection: close', '\r\n\r\nbody'] },
  {
    path: '/dup/content-type',
    expect: 500,
    hasNot: [/text\/html/],
    log: /.Content-Type. may be sent only once/,
  },
  { path: '/dup/location', expect: 500, hasNot: [/Location/i] },
  { path: '/dup/content-length', expect: 500 },
  { path: '/dup/set-cookie', expect: 200, has: ['Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n'] },
  {
    path: '/dup/content-encoding',
    expect: 200,
    has: ['Content-Encoding: identity\r\nContent-Encoding: identity'],
  },
  { path: '/cl/long', expect: 'truncated', has: ['Content-Length: 10', '\r\n\r\n12345'] },
  { path: '/cl/short', expect: 200, has: ['Content-Length: 5', '\r\n\r\n12345'], hasNot: [/6789/] },
  { path: '/cl/bad', expect: 500, hasNot: [/abc/] },
  {
    path: '/exc/before',
    expect: 503,
    has: ['503 Try Later', 'X-Second: 2', 'replaced'],
    hasNot: [/X-First/],
  },
  { path: '/exc/after', expect: 'truncated', has: ['partial'], hasNot: [/Too Late/] },
  { path: '/write', expect: 200, has: ['Transfer-Encoding: chunked', 'written ', 'returned', '0\r\n\r\n'] },
  { path: '/write/empty-then-list', expect: 200, has: ['Content-Length: 8', '\r\n\r\nreturned'] },
  { path: '/empty-stream', expect: 200, has: ['Content-Length: 0'] },
  { path: '/raise/before', expect: 500 },
  { path: '/raise/after-empty', expect: 500 },
  { path: '/no-start-response', expect: 500 },
  // Issue 11 point 7: close() raising after a complete response keeps the response (Gunicorn does).
  {
    path: '/close-raises/iterable',
    expect: 200,
    has: ['complete', '0\r\n\r\n'],
    log: /close\(\) failed/,
  },
  { path: '/close-raises/stream', expect: 200, has: ['complete', '0\r\n\r\n'] },
  { path: '/close-raises/write', expect: 200, has: ['complete', '0\r\n\r\n'] },
];

/** The wire bytes with the Date header taken out (its value is the only thing that may differ). */
function withoutDate(text: string): string {
  return text.replace(/\r\nDate: [^\r]*/, '');
}

const wire = new Map<string, Map<string, string>>();

function suite(backend: string, start: () => Promise<RunningNodicorn>): void {
  describe(`response conformance: ${backend}`, () => {
    let server: RunningNodicorn;
    before(async () => {
      server = await start();
    });
    after(() => server.stop());
    for (const c of CASES) {
      test(c.path, async () => {
        const reply = await rawRequest(
          server.port,
          `GET ${c.path} HTTP/1.1\r\nHost: conf.test\r\nConnection: close\r\n\r\n`,
        );
        const text = reply.text;
        if (c.expect === 'truncated') {
          assert.match(text, /^HTTP\/1\.1 200 /, text);
          const complete = /Content-Length: (\d+)/.exec(text);
          if (complete !== null) assert.ok(text.length - text.indexOf('\r\n\r\n') - 4 < Number(complete[1]));
          else assert.doesNotMatch(text, /\r\n0\r\n\r\n$/, 'no final chunk');
        } else assert.match(text, new RegExp(`^HTTP/1\\.1 ${c.expect} `), text);
        assert.ok(reply.closedByServer);
        for (const part of c.has ?? []) assert.ok(text.includes(part), `${JSON.stringify(part)} in ${text}`);
        for (const bad of c.hasNot ?? []) assert.doesNotMatch(text, bad);
        if (c.log !== undefined) await server.waitForLog(c.log);
        const byCase = wire.get(c.path) ?? new Map<string, string>();
        byCase.set(backend, withoutDate(text));
        wire.set(c.path, byCase);
      });
    }
    test('the server is still up and logs every refused head', async () => {
      const reply = await rawRequest(server.port, 'GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
      assert.match(reply.text, /^HTTP\/1\.1 200 /);
    });
  });
}

suite('TypeScript', () => startNodicorn([`${repoRoot}dist/tests/fixtures/apps/responses.js:app`]));
suite('Python', () => startNodicorn(['--chdir', `${fixtures}python`, 'responses:application']));

describe('response conformance: both backends', () => {
  for (const c of CASES) {
    test(`same bytes on the wire: ${c.path}`, () => {
      const byCase = wire.get(c.path);
      assert.ok(byCase?.has('TypeScript') && byCase.has('Python'), 'both suites ran');
      assert.equal(byCase!.get('Python'), byCase!.get('TypeScript'));
    });
  }
});
