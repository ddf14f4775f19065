/**
 * multipart/form-data (src/toolkit/multipart.ts, RFC 7578) read from wsgi.input: fields and files exact
 * whatever the chunking, and each limit (body, parts, field size) and each malformation a 4xx, not a hang.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BodyReader } from '../../../src/server/wsgi-input.js';
import { BadRequest, ContentTooLarge } from '../../../src/toolkit/http-errors.js';
import { readMultipart } from '../../../src/toolkit/multipart.js';
import { DEFAULT_LIMITS, type RequestLimits } from '../../../src/toolkit/request.js';

const BOUNDARY = '----nodicornBoundary7MA4YWxkTrZu0gW';
const TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

type Part =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly filename: string; readonly type?: string; readonly data: Buffer };

function encode(parts: readonly Part[], boundary = BOUNDARY): Buffer {
  const out: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if ('filename' in part)
      head += `; filename="${part.filename}"\r\nContent-Type: ${part.type ?? 'application/octet-stream'}`;
    out.push(
      Buffer.from(`${head}\r\n\r\n`),
      'data' in part ? part.data : Buffer.from(part.value),
      Buffer.from('\r\n'),
    );
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

/** wsgi.input over `body` cut into pieces of `size` bytes (the client's packets). */
function input(body: Buffer, size = body.length || 1): BodyReader {
  return new BodyReader(
    (async function* () {
      for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
    })(),
  );
}

const read = (body: Buffer, limits: RequestLimits = {}, size?: number, type = TYPE) =>
  readMultipart(input(body, size), type, { ...DEFAULT_LIMITS, ...limits });

/** Bytes that contain the boundary's neighbours: CR, LF, dashes, NULs. */
function binary(n: number): Buffer {
  const data = Buffer.alloc(n);
  for (let i = 0; i < n; i++) data[i] = [0x0d, 0x0a, 0x2d, 0x00, (i * 13) % 256][i % 5]!;
  return data;
}

describe('readMultipart', () => {
  test('fields in order (repeats kept), files by field, binary data exact', async () => {
    const pdf = binary(100_000);
    const form = await read(
      encode([
        { name: 'title', value: 'café ☕' },
        { name: 'tag', value: 'a' },
        { name: 'tag', value: 'b' },
        { name: 'doc', filename: 'report.pdf', type: 'application/pdf', data: pdf },
        { name: 'doc', filename: 'empty.txt', type: 'text/plain', data: Buffer.alloc(0) },
        { name: 'note', filename: 'n.txt', type: 'text/plain', data: Buffer.from('hello') },
      ]),
    );
    assert.deepEqual(
      [...form.fields],
      [
        ['title', 'café ☕'],
        ['tag', 'a'],
        ['tag', 'b'],
      ],
    );
    const docs = form.files.get('doc')!;
    assert.deepEqual(
      docs.map((f) => [f.field, f.filename, f.type, f.data.byteLength]),
      [
        ['doc', 'report.pdf', 'application/pdf', 100_000],
        ['doc', 'empty.txt', 'text/plain', 0],
      ],
    );
    assert.ok(Buffer.from(docs[0]!.data).equals(pdf));
    assert.equal(Buffer.from(form.files.get('note')![0]!.data).toString(), 'hello');
  });

  test('the same form read in 1-, 7- and 4096-byte pieces gives the same result', async () => {
    const body = encode([
      { name: 'a', value: 'x'.repeat(5000) },
      { name: 'f', filename: 'b.bin', data: binary(20_000) },
    ]);
    for (const size of [1, 7, 4096]) {
      const form = await read(body, {}, size);
      assert.equal(form.fields.get('a'), 'x'.repeat(5000), `pieces of ${size}`);
      assert.ok(Buffer.from(form.files.get('f')![0]!.data).equals(binary(20_000)), `pieces of ${size}`);
    }
  });

  test('a file name keeps only its last path segment', async () => {
    const form = await read(
      encode([{ name: 'f', filename: 'C:\\Users\\me\\..\\secret.txt', data: Buffer.from('1') }]),
    );
    assert.equal(form.files.get('f')![0]!.filename, 'secret.txt');
    const unix = await read(encode([{ name: 'f', filename: '../../etc/passwd', data: Buffer.from('1') }]));
    assert.equal(unix.files.get('f')![0]!.filename, 'passwd');
  });

  test('an empty form (only the closing boundary)', async () => {
    const form = await read(encode([]));
    assert.deepEqual([...form.fields], []);
    assert.equal(form.files.size, 0);
  });

  test('limits: 413 past the body size, the number of parts, a field size', async () => {
    const body = encode([
      { name: 'a', value: '1' },
      { name: 'b', value: '2' },
      { name: 'c', value: 'x'.repeat(100) },
    ]);
    await assert.rejects(read(body, { maxBodySize: body.length - 1 }), (error) => {
      assert.ok(error instanceof ContentTooLarge);
      assert.match(error.message, /larger than/);
      return true;
    });
    await read(body, { maxBodySize: body.length });
    await assert.rejects(read(body, { maxFormParts: 2 }), (error) => {
      assert.ok(error instanceof ContentTooLarge);
      assert.match(error.message, /more than 2 parts/);
      return true;
    });
    await read(body, { maxFormParts: 3 });
    await assert.rejects(read(body, { maxFieldSize: 99 }), (error) => {
      assert.ok(error instanceof ContentTooLarge);
      assert.match(error.message, /"c" is over 99 bytes/);
      return true;
    });
    await read(body, { maxFieldSize: 100 });
    // A file is bounded by the body limit, read in pieces.
    const file = encode([{ name: 'f', filename: 'big', data: binary(200_000) }]);
    await assert.rejects(read(file, { maxBodySize: 100_000 }, 4096), ContentTooLarge);
  });

  test('malformed: 400 for a Content-Type without a boundary, a truncated body, a foreign boundary', async () => {
    const body = encode([{ name: 'a', value: '1' }]);
    await assert.rejects(read(body, {}, undefined, 'multipart/form-data'), (error) => {
      assert.ok(error instanceof BadRequest);
      assert.match(error.message, /malformed multipart Content-Type/);
      return true;
    });
    await assert.rejects(read(body.subarray(0, body.length - 10)), (error) => {
      assert.ok(error instanceof BadRequest);
      assert.match(error.message, /malformed multipart body/);
      return true;
    });
    await assert.rejects(read(encode([{ name: 'a', value: '1' }], 'other')), BadRequest);
  });
});
