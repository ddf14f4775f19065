/**
 * Static files: what is served, conditional GET (with jshttp fresh's test cases), ranges (with jshttp
 * range-parser's), and every way out of the root refused.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../../src/testing/client.js';
import { parseRange, resolveStatic, staticApp } from '../../../src/toolkit/static.js';

const base = mkdtempSync(join(tmpdir(), 'nodicorn-static-'));
const root = join(base, 'public');
mkdirSync(join(root, 'sub'), { recursive: true });
writeFileSync(join(root, 'hello.txt'), 'hello, static world\n');
writeFileSync(join(root, 'sub', 'index.html'), '<p>index</p>');
writeFileSync(join(base, 'secret.txt'), 'outside the root');
symlinkSync(join(base, 'secret.txt'), join(root, 'escape.txt'));
symlinkSync(base, join(root, 'up'));
symlinkSync(join(root, 'hello.txt'), join(root, 'inside.txt'));
writeFileSync(join(root, 'empty.txt'), '');
writeFileSync(join(root, 'at00.txt'), 'at 00');
writeFileSync(join(root, 'at01.txt'), 'at 01');
utimesSync(join(root, 'at00.txt'), new Date('2000-01-01T00:00:00Z'), new Date('2000-01-01T00:00:00Z'));
utimesSync(join(root, 'at01.txt'), new Date('2000-01-01T01:00:00Z'), new Date('2000-01-01T01:00:00Z'));
const app = staticApp(root);

test('a file with its type, length, ETag and Last-Modified; a directory gives its index', async () => {
  const res = await request(app, { path: '/hello.txt' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.text(), 'hello, static world\n');
  assert.equal(res.header('Content-Type'), 'text/plain; charset=utf-8');
  assert.equal(res.header('Content-Length'), '20');
  assert.match(res.header('ETag') ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.ok(res.header('Last-Modified'));
  assert.equal((await request(app, { path: '/sub/' })).text(), '<p>index</p>');
  assert.equal((await request(app, { path: '/inside.txt' })).text(), 'hello, static world\n');
  const head = await request(app, { path: '/hello.txt', method: 'HEAD' });
  assert.equal(head.header('Content-Length'), '20');
});

test('conditional GET: If-None-Match and If-Modified-Since give 304 without a body', async () => {
  const first = await request(app, { path: '/hello.txt' });
  const etag = first.header('ETag')!;
  const again = await request(app, { path: '/hello.txt', headers: { 'If-None-Match': `W/${etag}` } });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body.length, 0);
  const since = await request(app, {
    path: '/hello.txt',
    headers: { 'If-Modified-Since': first.header('Last-Modified')! },
  });
  assert.equal(since.statusCode, 304);
  const changed = await request(app, { path: '/hello.txt', headers: { 'If-None-Match': '"other"' } });
  assert.equal(changed.statusCode, 200);
});

test('ranges: 206 with Content-Range, suffix and open ranges, 416 past the end, If-Range', async () => {
  const part = await request(app, { path: '/hello.txt', headers: { Range: 'bytes=7-12' } });
  assert.equal(part.statusCode, 206);
  assert.equal(part.text(), 'static');
  assert.equal(part.header('Content-Range'), 'bytes 7-12/20');
  assert.equal(
    (await request(app, { path: '/hello.txt', headers: { Range: 'bytes=-6' } })).text(),
    'world\n',
  );
  assert.equal(
    (await request(app, { path: '/hello.txt', headers: { Range: 'bytes=14-' } })).text(),
    'world\n',
  );
  const bad = await request(app, { path: '/hello.txt', headers: { Range: 'bytes=50-60' } });
  assert.equal(bad.statusCode, 416);
  assert.equal(bad.header('Content-Range'), 'bytes */20');
  const stale = await request(app, {
    path: '/hello.txt',
    headers: { Range: 'bytes=0-4', 'If-Range': '"old"' },
  });
  assert.equal(stale.statusCode, 200);
  // Ranges left apart, another unit, a malformed header: the whole file.
  for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=x-1', 'bytes=-']) {
    const whole = await request(app, { path: '/hello.txt', headers: { Range: range } });
    assert.equal(whole.statusCode, 200, range);
    assert.equal(whole.text(), 'hello, static world\n', range);
  }
  // Overlapping or adjacent ranges are one range; a suffix longer than the file is the whole file.
  const joined = await request(app, { path: '/hello.txt', headers: { Range: 'bytes=7-9,10-12,8-11' } });
  assert.equal(joined.statusCode, 206);
  assert.equal(joined.header('Content-Range'), 'bytes 7-12/20');
  const longer = await request(app, { path: '/hello.txt', headers: { Range: 'bytes=-500' } });
  assert.equal(longer.statusCode, 206);
  assert.equal(longer.header('Content-Range'), 'bytes 0-19/20');
  assert.equal(longer.text(), 'hello, static world\n');
});

test('an empty file satisfies no range: 416 with bytes */0, never bytes 0--1/0', async () => {
  for (const range of ['bytes=-5', 'bytes=0-', 'bytes=0-0', 'bytes=-0']) {
    const res = await request(app, { path: '/empty.txt', headers: { Range: range } });
    assert.equal(res.statusCode, 416, range);
    assert.equal(res.header('Content-Range'), 'bytes */0', range);
    assert.equal(res.body.length, 0, range);
  }
  const whole = await request(app, { path: '/empty.txt' });
  assert.equal(whole.statusCode, 200);
  assert.equal(whole.header('Content-Length'), '0');
});

/** `ranges` with range-parser's `type`, as its tests write the expected value. */
const bytes = (...ranges: Array<[number, number]>) => ({
  unit: 'bytes',
  ranges: ranges.map(([start, end]) => ({ start, end })),
});

test("parseRange: range-parser's test cases (jshttp/range-parser src/index.spec.ts)", () => {
  assert.equal(parseRange(200, 'malformed'), -2);
  assert.equal(parseRange(200, 'bytes=x-100'), -2, 'invalid start');
  assert.equal(parseRange(200, 'bytes=100-x'), -2, 'invalid end');
  for (const header of ['bytes=--100', 'bytes=100--200', 'bytes=-', 'bytes= - ', 'bytes=100-200-300'])
    assert.equal(parseRange(200, header), -2, header);
  assert.equal(parseRange(200, 'bytes=-100-150'), -2, 'negative start');
  assert.equal(parseRange(200, 'bytes=01a-150'), -2);
  assert.equal(parseRange(200, 'bytes=100-15b0'), -2);
  assert.equal(parseRange(200, 'bytes=500-600'), -1, 'unsatisfiable');
  assert.equal(parseRange(200, 'bytes=500-600,601-700'), -1);
  assert.equal(parseRange(200, 'bytes=500-20'), -1, 'every range invalid');
  assert.equal(parseRange(200, 'bytes=500-999'), -1);
  assert.equal(parseRange(200, 'bytes=500-999,1000-1499'), -1);
  assert.deepEqual(parseRange(1000, 'bytes=0-499'), bytes([0, 499]));
  assert.deepEqual(parseRange(200, 'bytes=0-499'), bytes([0, 199]), 'end capped at size');
  assert.deepEqual(parseRange(1000, 'bytes=40-80'), bytes([40, 80]));
  assert.deepEqual(parseRange(1000, 'bytes=-400'), bytes([600, 999]), 'last n bytes');
  assert.deepEqual(parseRange(1000, 'bytes=400-'), bytes([400, 999]), 'only a start');
  assert.deepEqual(parseRange(1000, 'bytes=0-'), bytes([0, 999]));
  assert.deepEqual(parseRange(1000, 'bytes=0-0'), bytes([0, 0]));
  assert.deepEqual(parseRange(1000, 'bytes=-1'), bytes([999, 999]), 'last byte');
  assert.deepEqual(parseRange(1000, 'bytes=40-80,81-90,-1'), bytes([40, 80], [81, 90], [999, 999]));
  assert.deepEqual(parseRange(200, 'bytes=0-499,1000-,500-999'), bytes([0, 199]), 'some invalid');
  assert.deepEqual(
    parseRange(1000, 'bytes=   40-80 , 81-90 , -1 '),
    bytes([40, 80], [81, 90], [999, 999]),
    'whitespace',
  );
  assert.deepEqual(parseRange(1000, 'items=0-5'), { unit: 'items', ranges: [{ start: 0, end: 5 }] });
  // combine: overlapping and adjacent ranges merged, in the order they were asked.
  assert.deepEqual(
    parseRange(150, 'bytes=0-4,90-99,5-75,100-199,101-102', { combine: true }),
    bytes([0, 75], [90, 149]),
  );
  assert.deepEqual(
    parseRange(150, 'bytes=-1,20-100,0-1,101-120', { combine: true }),
    bytes([149, 149], [20, 120], [0, 1]),
  );
  // jshttp/range-parser#66 (RFC 9110 §14.1.2): a suffix longer than the representation is all of it;
  // a zero suffix and an empty representation stay unsatisfiable.
  assert.deepEqual(parseRange(100, 'bytes=-101'), bytes([0, 99]));
  assert.deepEqual(parseRange(100, 'bytes=-500'), bytes([0, 99]));
  assert.deepEqual(parseRange(100, 'bytes=-100'), bytes([0, 99]));
  assert.equal(parseRange(100, 'bytes=-0'), -1);
  assert.equal(parseRange(0, 'bytes=-5'), -1);
  assert.equal(parseRange(0, 'bytes=0-'), -1);
});

// fresh's test cases (jshttp/fresh test/fresh.js), sent to a file whose Last-Modified is 00:00 or 01:00
// on 1 Jan 2000; in a request, `"file"` stands for the file's own ETag ("other" matches nothing).
// The cases with no ETag or no Last-Modified on the response cannot arise for a file and are left out.
const H00 = 'Sat, 01 Jan 2000 00:00:00 GMT';
const H01 = 'Sat, 01 Jan 2000 01:00:00 GMT';
const freshCases: Array<[string, Record<string, string>, 'at00' | 'at01', 304 | 200]> = [
  ['a non-conditional GET', {}, 'at00', 200],
  ['If-None-Match, ETags match', { 'If-None-Match': '"file"' }, 'at00', 304],
  ['If-None-Match, ETags mismatch', { 'If-None-Match': '"other"' }, 'at00', 200],
  ['If-None-Match, at least one matches', { 'If-None-Match': ' "other" , "file"' }, 'at00', 304],
  ['If-None-Match, weak tag, strong match', { 'If-None-Match': 'W/"file"' }, 'at00', 304],
  ['If-None-Match: *', { 'If-None-Match': '*' }, 'at00', 304],
  ['If-None-Match: * not the only value', { 'If-None-Match': '*, "other"' }, 'at00', 200],
  ['If-Modified-Since, modified since', { 'If-Modified-Since': H00 }, 'at01', 200],
  ['If-Modified-Since, unmodified since', { 'If-Modified-Since': H01 }, 'at00', 304],
  ['If-Modified-Since, invalid date', { 'If-Modified-Since': 'foo' }, 'at00', 200],
  ['both, both match', { 'If-None-Match': '"file"', 'If-Modified-Since': H01 }, 'at00', 304],
  ['both, only the ETag matches', { 'If-None-Match': '"file"', 'If-Modified-Since': H00 }, 'at01', 304],
  ['both, only Last-Modified matches', { 'If-None-Match': '"other"', 'If-Modified-Since': H01 }, 'at00', 200],
  ['both, none match', { 'If-None-Match': '"other"', 'If-Modified-Since': H00 }, 'at01', 200],
  ['Cache-Control: no-cache', { 'Cache-Control': ' no-cache' }, 'at00', 200],
  ['no-cache, ETags match', { 'Cache-Control': ' no-cache', 'If-None-Match': '"file"' }, 'at00', 200],
  ['no-cache, unmodified since', { 'Cache-Control': ' no-cache', 'If-Modified-Since': H01 }, 'at00', 200],
  [
    'no-cache among others',
    { 'Cache-Control': 'max-age=0, no-cache', 'If-None-Match': '"file"' },
    'at00',
    200,
  ],
];

test("conditional GET: fresh's test cases, over a file", async () => {
  for (const [name, headers, file, status] of freshCases) {
    const etag = (await request(app, { path: `/${file}.txt` })).header('ETag')!;
    const sent = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('"file"', etag)]));
    const res = await request(app, { path: `/${file}.txt`, headers: sent });
    assert.equal(res.statusCode, status, name);
    assert.equal(res.body.length, status === 304 ? 0 : 5, name);
  }
});

test('no way out of the root: .., encoded .. (decoded by the server), backslashes, NUL, symlinks', async () => {
  for (const path of [
    '/../secret.txt',
    '/sub/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/sub/%2E%2E/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/..\\secret.txt',
    '/hello.txt%00',
    '/escape.txt',
    '/up/secret.txt',
  ]) {
    const res = await request(app, { path });
    assert.equal(res.statusCode, 404, path);
    assert.doesNotMatch(res.text(), /outside the root/, path);
  }
  assert.equal(await resolveStatic(root, '/up/secret.txt'), null);
  assert.equal(await resolveStatic(root, '/missing'), null);
});

test('other methods and missing files fall through to the wrapped app', async () => {
  assert.equal((await request(app, { path: '/hello.txt', method: 'POST', body: 'x' })).statusCode, 404);
  assert.equal((await request(app, { path: '/nothing-here' })).statusCode, 404);
});
