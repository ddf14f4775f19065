/** Static files: what is served, conditional GET, ranges, and every way out of the root refused. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
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
  assert.deepEqual(parseRange('bytes=0-1,5-6', 20), null);
  assert.deepEqual(parseRange('items=0-1', 20), null);
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
