/** BodyReader (wsgi.input for TypeScript apps) over bodies that arrive in many tiny chunks. */
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
