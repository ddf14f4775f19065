/** BodyReader (src/server/wsgi-input.ts, wsgi.input for TypeScript apps): PEP 3333's reads, limits, trailers, tiny chunks. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyReader } from '../../../src/server/wsgi-input.js';

async function* chunks(parts: readonly Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* parts;
}

function body(n: number): Buffer {
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = i % 7 === 6 ? 0x0a : 0x61 + (i % 26);
  return data;
}

test('100,000 one-byte chunks read back exactly, by read() and by readline()', async () => {
  const data = body(100_000);
  const parts = [...data].map((b) => Uint8Array.of(b));
  assert.deepEqual(Buffer.from(await new BodyReader(chunks(parts)).read()), data);
  const reader = new BodyReader(chunks(parts));
  const lines: Buffer[] = [];
  for await (const line of reader) lines.push(Buffer.from(line));
  assert.deepEqual(Buffer.concat(lines), data);
  assert.ok(lines.every((line, i) => i === lines.length - 1 || line.at(-1) === 0x0a));
});

test('small and large chunks mixed, read in odd sizes, arrive in order', async () => {
  const data = body(300_000);
  const parts: Uint8Array[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = [1, 3, 5000, 17, 70_000, 2][i % 6]!;
    parts.push(data.subarray(at, at + size));
    at += size;
  }
  const reader = new BodyReader(chunks(parts));
  const got: Buffer[] = [];
  for (let piece = await reader.read(999); piece.byteLength > 0; piece = await reader.read(999))
    got.push(Buffer.from(piece));
  assert.deepEqual(Buffer.concat(got), data);
});

test('bytes already returned to the app are not overwritten by later chunks', async () => {
  const reader = new BodyReader(chunks([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')]));
  const first = await reader.read(2);
  const rest = await reader.read();
  assert.equal(Buffer.from(first).toString(), 'ab');
  assert.equal(Buffer.from(rest).toString(), 'cdef');
});

const reader = (parts: readonly string[], limit = 0, trailers: readonly string[] = []) =>
  new BodyReader(chunks(parts.map((p) => Buffer.from(p))), limit, () => trailers);
const str = (bytes: Uint8Array) => Buffer.from(bytes).toString();

test('read(size): at most size bytes, across chunks; short at the end, then empty; read(0) is empty', async () => {
  const input = reader(['hel', 'lo wor', 'ld']);
  assert.equal(str(await input.read(0)), '');
  assert.equal(str(await input.read(4)), 'hell');
  assert.equal(str(await input.read(5)), 'o wor');
  assert.equal(str(await input.read(100)), 'ld');
  assert.equal(str(await input.read(100)), '');
  assert.equal(str(await input.read()), '');
});

test('readline: lines across chunk boundaries, size caps a line (the rest comes next), no final newline', async () => {
  const input = reader(['first\nsec', 'ond line\n', '\nlast']);
  assert.equal(str(await input.readline()), 'first\n');
  assert.equal(str(await input.readline(3)), 'sec');
  assert.equal(str(await input.readline(100)), 'ond line\n');
  assert.equal(str(await input.readline()), '\n');
  assert.equal(str(await input.readline()), 'last');
  assert.equal(str(await input.readline()), '');
});

test('readlines(hint) stops once hint bytes were read; iteration yields the remaining lines', async () => {
  const input = reader(['a\nbb\n', 'ccc\ndddd\n', 'e']);
  assert.deepEqual((await input.readlines(4)).map(str), ['a\n', 'bb\n']);
  const rest: string[] = [];
  for await (const line of input) rest.push(str(line));
  assert.deepEqual(rest, ['ccc\n', 'dddd\n', 'e']);
  assert.deepEqual((await reader(['x\ny']).readlines()).map(str), ['x\n', 'y']);
});

test('a request without a body: every read is empty, iteration yields nothing', async () => {
  const input = new BodyReader(null);
  assert.equal((await input.read()).byteLength, 0);
  assert.equal((await input.read(10)).byteLength, 0);
  assert.equal((await input.readline()).byteLength, 0);
  assert.deepEqual(await input.readlines(), []);
  for await (const _ of input) assert.fail('no lines');
});

test('the body limit: up to it reads, past it a 413 HttpError (nothing more is read)', async () => {
  assert.equal(str(await reader(['12345', '67890'], 10).read()), '1234567890');
  const over = reader(['12345', '678901', 'never read'], 10);
  assert.equal(str(await over.read(5)), '12345');
  await assert.rejects(over.read(), (error: { status?: number; message?: string }) => {
    assert.equal(error.status, 413);
    assert.match(error.message ?? '', /larger than 10 bytes/);
    return true;
  });
  assert.equal((await over.read()).byteLength, 0, 'the source was let go');
});

test('trailers: a framing field in them is a 400 at the end of the body; others are fine', async () => {
  await assert.rejects(reader(['body'], 0, ['Content-Length', '4']).read(), (error: { status?: number }) => {
    assert.equal(error.status, 400);
    return true;
  });
  await assert.rejects(
    reader(['a\n'], 0, ['x-ok', '1', 'Host', 'evil']).readlines(),
    /"Host" is not allowed/,
  );
  assert.equal(str(await reader(['body'], 0, ['X-Checksum', 'abc']).read()), 'body');
});
