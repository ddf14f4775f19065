import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accessLineFormatter,
  clfTime,
  compileAccessFormat,
  escapeLogValue,
  formatAccessLine,
  formatJsonLine,
  GUNICORN_FORMAT,
} from '../../../src/observability/access-log.js';

const record = {
  environ: {
    REMOTE_ADDR: '10.1.2.3',
    REQUEST_METHOD: 'GET',
    RAW_URI: '/a/b?x=1',
    SCRIPT_NAME: '',
    PATH_INFO: '/a/b',
    QUERY_STRING: 'x=1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    HTTP_REFERER: 'http://ref.test/',
    HTTP_USER_AGENT: 'curl/8',
    HTTP_AUTHORIZATION: `Basic ${Buffer.from('ada:secret').toString('base64')}`,
    HTTP_X_TRACE: 'abc',
  },
  status: 200,
  bytes: 18,
  responseHeaders: { 'content-type': 'text/plain' },
  micros: 1_234_567,
  received: new Date(Date.UTC(2026, 10, 24, 3, 5, 9)),
  pid: 42,
};

test("Gunicorn's default format", () => {
  assert.equal(
    formatAccessLine(GUNICORN_FORMAT, record),
    '10.1.2.3 - ada [24/Nov/2026:03:05:09 +0000] "GET /a/b?x=1 HTTP/1.1" 200 18 "http://ref.test/" "curl/8"',
  );
});

test('every other atom', () => {
  const line = formatAccessLine(
    '%(m)s %(U)s %(q)s %(H)s %(B)s %(T)s %(D)s %(M)s %(L)s %(p)s %({x-trace}i)s %({content-type}o)s %({PATH_INFO}e)s %(nope)s',
    record,
  );
  assert.equal(line, 'GET /a/b x=1 HTTP/1.1 18 1 1234567 1235 1.234567 <42> abc text/plain /a/b -');
  assert.equal(formatAccessLine('%(b)s %(f)s %(u)s', { ...record, bytes: 0, environ: {} }), '- - -');
});

test('%(W)s: ms waited for a Python worker, - when the request never queued', () => {
  assert.equal(formatAccessLine('%(W)s', { ...record, queueMs: 1234.5678 }), '1234.568');
  assert.equal(formatAccessLine('%(W)s', { ...record, queueMs: 0 }), '0.000');
  assert.equal(formatAccessLine('%(W)s', { ...record, queueMs: -1 }), '-');
  assert.equal(formatAccessLine('%(W)s', record), '-');
});

test('values are escaped, so a request cannot forge a line or break a quoted field', () => {
  const line = formatAccessLine('"%(a)s"', {
    ...record,
    environ: { HTTP_USER_AGENT: 'x"\n127.0.0.1 - - "GET /admin' },
  });
  assert.equal(line, '"x\\x22\\x0a127.0.0.1 - - \\x22GET /admin"');
  assert.equal(escapeLogValue('caf\u00e9\\'), 'caf\\xe9\\x5c');
  assert.equal(clfTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))), '[02/Jan/2026:03:04:05 +0000]');
});

test('a compiled format: text around and between atoms kept, unknown atoms folded to -', () => {
  const line = compileAccessFormat('[%(s)s%(B)s] %(nope)s%(l)s 100%% %(h)s%(m)s|');
  assert.equal(line(record), '[20018] -- 100%% 10.1.2.3GET|');
  assert.equal(compileAccessFormat('no atoms')(record), 'no atoms');
  assert.equal(compileAccessFormat('')(record), '');
  // One compiled format serves every record: nothing of one line stays for the next.
  const status = compileAccessFormat('%(s)s %(a)s');
  assert.equal(status({ ...record, status: 404, environ: {} }), '404 -');
  assert.equal(status(record), '200 curl/8');
});

test('every value that comes from the request is escaped, whichever atom reads it', () => {
  const bad = 'a"b\\c\n\u00e9\u20ac';
  const escaped = 'a\\x22b\\x5cc\\x0a\\xe9\\u20ac';
  const hostile = {
    ...record,
    environ: {
      REMOTE_ADDR: bad,
      REQUEST_METHOD: bad,
      RAW_URI: bad,
      SCRIPT_NAME: '',
      PATH_INFO: bad,
      QUERY_STRING: bad,
      SERVER_PROTOCOL: bad,
      HTTP_REFERER: bad,
      HTTP_USER_AGENT: bad,
      HTTP_AUTHORIZATION: `Basic ${Buffer.from(`${bad}:pw`, 'latin1').toString('base64')}`,
      HTTP_X_TRACE: bad,
      CONTENT_TYPE: bad,
      CUSTOM: bad,
    },
    responseHeaders: { 'x-out': bad },
  };
  const atoms = ['h', 'm', 'U', 'q', 'H', 'f', 'a', '{x-trace}i', '{content-type}i', '{x-out}o', '{CUSTOM}e'];
  for (const atom of atoms) assert.equal(formatAccessLine(`%(${atom})s`, hostile), escaped, atom);
  // The Basic user name is bytes (latin-1 here): the euro sign went in as its low byte, 0xac.
  assert.equal(formatAccessLine('%(u)s', hostile), escaped.replace('\\u20ac', '\\xac'));
  assert.equal(formatAccessLine('%(r)s', hostile), `${escaped} ${escaped} ${escaped}`);
});

test('the time atom is right across seconds (each second is formatted once)', () => {
  const at = (ms: number) => formatAccessLine('%(t)s', { ...record, received: new Date(ms) });
  const t0 = Date.UTC(2026, 11, 31, 23, 59, 59);
  assert.equal(at(t0), '[31/Dec/2026:23:59:59 +0000]');
  assert.equal(at(t0 + 999), '[31/Dec/2026:23:59:59 +0000]');
  assert.equal(at(t0 + 1000), '[01/Jan/2027:00:00:00 +0000]');
  assert.equal(at(t0), '[31/Dec/2026:23:59:59 +0000]');
});

test('the JSON preset: fixed fields, one object per line', () => {
  const line = accessLineFormatter('json')({
    ...record,
    environ: { ...record.environ, HTTP_X_REQUEST_ID: 'req-7' },
  });
  assert.deepEqual(JSON.parse(line), {
    time: '2026-11-24T03:05:09.000Z',
    remote_addr: '10.1.2.3',
    method: 'GET',
    path: '/a/b',
    query: 'x=1',
    protocol: 'HTTP/1.1',
    status: 200,
    bytes: 18,
    duration_ms: 1234.567,
    referer: 'http://ref.test/',
    user_agent: 'curl/8',
    request_id: 'req-7',
    pid: 42,
  });
  // Absent values are null; the request id may come from the response instead.
  const bare = JSON.parse(
    formatJsonLine({
      ...record,
      environ: { REQUEST_METHOD: 'GET', RAW_URI: '/' },
      responseHeaders: { 'x-request-id': 'r1' },
    }),
  ) as Record<string, unknown>;
  assert.deepEqual(
    [bare.remote_addr, bare.referer, bare.user_agent, bare.query, bare.request_id],
    [null, null, null, '', 'r1'],
  );
});

test('JSON lines cannot be forged or broken, whatever the request holds', () => {
  const hostile = 'x"\n{"status":200}\u0000\\';
  const line = formatJsonLine({
    ...record,
    environ: {
      ...record.environ,
      HTTP_USER_AGENT: hostile,
      RAW_URI: '/caf\u00c3\u00a9?q',
      HTTP_REFERER: '\u00ff',
    },
  });
  assert.ok(!line.includes('\n'));
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.equal(parsed.user_agent, hostile);
  assert.equal(parsed.status, 200);
  // WSGI strings are bytes as latin-1: the path's UTF-8 bytes read back as text; invalid UTF-8 as U+FFFD.
  assert.equal(parsed.path, '/caf\u00e9');
  assert.equal(parsed.referer, '\ufffd');
});
