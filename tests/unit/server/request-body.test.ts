/**
 * Receiving request bodies before any worker sees them (src/server/request-body.ts): in memory or spooled
 * past the memory limit, exact whatever the chunking; 413, 408, 400 for what a client does wrong; and the
 * spool files: the nameless kind, the named fallback, and what a dead process left.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import {
  NO_BODY,
  openSpool,
  type ReceivedBody,
  receiveBody,
  removeStaleSpools,
} from '../../../src/server/request-body.js';
import type { ServerRequest } from '../../../src/server/response-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('openSpool', () => {
  test('the nameless file leaves no name in the directory and is readable through its /proc path', async () => {
    const spool = await openSpool(true, dir);
    await spool.append(Buffer.from('hello '));
    await spool.append(Buffer.from('world'));
    assert.match(spool.path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.equal(readFileSync(spool.path, 'utf8'), 'hello world');
    assert.deepEqual(readdirSync(dir), []);
    await spool.dispose();
  });

  test('the named fallback: 0600 in a private 0700 nodicorn-<pid>-… directory, removed by dispose', async () => {
    const spool = await openSpool(false, dir);
    await spool.append(Buffer.from('abc'));
    await spool.append(Buffer.alloc(70_000, 0x64));
    const home = dirname(spool.path);
    assert.equal(dirname(home), dir);
    assert.match(basename(home), new RegExp(`^nodicorn-${process.pid}-`));
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(statSync(spool.path).mode & 0o777, 0o600);
    const data = readFileSync(spool.path);
    assert.equal(data.length, 70_003);
    assert.equal(data.subarray(0, 4).toString(), 'abcd');
    await spool.dispose();
    await spool.dispose();
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('removeStaleSpools', () => {
  test('removes what processes that no longer exist left, keeps the rest', async () => {
    const dead = spawnSync('true').pid;
    mkdirSync(join(dir, `nodicorn-${dead}-a`));
    mkdirSync(join(dir, `nodicorn-${process.pid}-b`));
    mkdirSync(join(dir, 'nodicorn-body-c'));
    assert.deepEqual(await removeStaleSpools(dir), [`nodicorn-${dead}-a`]);
    assert.deepEqual(readdirSync(dir).sort(), [`nodicorn-${process.pid}-b`, 'nodicorn-body-c']);
    rmSync(join(dir, `nodicorn-${process.pid}-b`), { recursive: true });
    rmSync(join(dir, 'nodicorn-body-c'), { recursive: true });
  });
});

/** A request whose body the test sends: a real stream (pause and resume work), trailers settable. */
function fakeRequest(trailers: string[] = []) {
  const stream = new PassThrough();
  return Object.assign(stream, { rawTrailers: trailers }) as unknown as ServerRequest & PassThrough;
}

/** Sends `body` in pieces of `size` bytes, then ends it. */
function send(req: PassThrough, body: Buffer, size: number): void {
  for (let at = 0; at < body.length; at += size) req.write(body.subarray(at, at + size));
  req.end();
}

function pattern(n: number): Buffer {
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = (i * 7 + (i >> 8)) % 256;
  return data;
}

/** The bytes of a received body, and the body disposed of. */
async function bytesOf(body: ReceivedBody): Promise<Buffer> {
  if (body.kind === 'memory') return body.data ?? Buffer.alloc(0);
  const data = readFileSync(body.path);
  assert.equal(data.length, body.length);
  await body.dispose();
  return data;
}

const status = (expected: number, message?: RegExp) => (error: { status?: number; message?: string }) => {
  assert.equal(error.status, expected);
  if (message !== undefined) assert.match(error.message ?? '', message);
  return true;
};

describe('receiveBody', () => {
  test('no body: NO_BODY at once, the stream untouched', async () => {
    assert.equal(await receiveBody(fakeRequest(), 0, 100, 100), NO_BODY);
  });

  test('a Content-Length body in memory: exact, however many chunks it came in', async () => {
    const body = pattern(100_000);
    const req = fakeRequest();
    const received = receiveBody(req, body.length, 0, 1024 * 1024);
    send(req, body, 10);
    const got = await received;
    assert.equal(got.kind, 'memory');
    assert.ok((await bytesOf(got)).equals(body));
  });

  test('Content-Length bodies share pooled memory: a body is never overwritten before its release, then reused', async () => {
    const receive = async (fill: number) => {
      const req = fakeRequest();
      const received = receiveBody(req, 64 * 1024, 0, 1024 * 1024);
      send(req, Buffer.alloc(64 * 1024, fill), 5000);
      const got = await received;
      assert.equal(got.kind, 'memory');
      return got as { data: Buffer; release?: () => void };
    };
    const held = [];
    for (let fill = 1; fill <= 40; fill++) held.push(await receive(fill));
    for (const [i, body] of held.entries())
      assert.ok(
        body.data.every((b) => b === i + 1),
        `body ${i + 1} intact while held`,
      );
    assert.ok(held.every((body) => typeof body.release === 'function'));
    for (const body of held) body.release!();
    const again = await receive(99);
    assert.ok(
      held.some((body) => body.data.buffer === again.data.buffer),
      'released memory is used again',
    );
    again.release!();
  });

  test('a chunked body in memory: exact, from many small chunks', async () => {
    const body = pattern(150_000);
    const req = fakeRequest();
    const received = receiveBody(req, -1, 0, 1024 * 1024);
    send(req, body, 1000);
    const got = await received;
    assert.equal(got.kind, 'memory');
    assert.ok((await bytesOf(got)).equals(body));
  });

  test('past the memory limit a chunked body goes to a file; at the limit it stays in memory', async () => {
    for (const [size, kind] of [
      [4096, 'memory'],
      [4097, 'file'],
      [300_000, 'file'],
    ] as const) {
      const body = pattern(size);
      const req = fakeRequest();
      const received = receiveBody(req, -1, 0, 4096);
      send(req, body, 777);
      const got = await received;
      assert.equal(got.kind, kind, `${size} bytes`);
      assert.ok((await bytesOf(got)).equals(body), `${size} bytes`);
    }
  });

  test('a declared length past the memory limit is spooled from its first byte, to a nameless file', async () => {
    const body = pattern(200_000);
    const req = fakeRequest();
    const received = receiveBody(req, body.length, 0, 1000);
    send(req, body, 65_536);
    const got = await received;
    assert.equal(got.kind, 'file');
    assert.match((got as { path: string }).path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.ok((await bytesOf(got)).equals(body));
  });

  test('past the body limit: 413, in memory and while spooling; 0 means no limit', async () => {
    for (const memoryLimit of [1024 * 1024, 100]) {
      const req = fakeRequest();
      const received = receiveBody(req, -1, 1000, memoryLimit);
      send(req, pattern(1001), 100);
      await assert.rejects(received, status(413, /larger than 1000 bytes/));
    }
    const req = fakeRequest();
    const received = receiveBody(req, -1, 0, 1024 * 1024);
    send(req, pattern(500_000), 65_536);
    assert.equal((await bytesOf(await received)).length, 500_000);
  });

  test('a client that sends nothing within the body timeout: 408', async () => {
    const req = fakeRequest();
    const received = receiveBody(req, 10, 0, 1024, 0.05);
    req.write('abc');
    await assert.rejects(received, status(408, /slower than 64 KiB per 0.05 s/));
  });

  test('a framing field in the trailers: 400; other trailers pass', async () => {
    const bad = fakeRequest(['Transfer-Encoding', 'chunked']);
    const refused = receiveBody(bad, -1, 0, 1024);
    send(bad, Buffer.from('abc'), 1);
    await assert.rejects(refused, status(400, /"Transfer-Encoding" is not allowed in a trailer/));
    const good = fakeRequest(['X-Digest', 'abc']);
    const accepted = receiveBody(good, -1, 0, 1024);
    send(good, Buffer.from('abc'), 1);
    assert.equal((await bytesOf(await accepted)).toString(), 'abc');
  });

  test('a client that leaves mid-body: 400; a stream error: that error', async () => {
    const left = fakeRequest();
    const aborted = receiveBody(left, 1000, 0, 100);
    left.write(pattern(500));
    left.emit('aborted');
    await assert.rejects(aborted, status(400, /closed the connection/));
    const broken = fakeRequest();
    const failed = receiveBody(broken, -1, 0, 1024);
    broken.destroy(new Error('socket broke'));
    await assert.rejects(failed, /socket broke/);
  });
});
