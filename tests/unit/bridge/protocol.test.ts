/** The TypeScript codec against the golden vectors that the Python codec's tests read too. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  decodeHead,
  encodeCredit,
  encodeFrame,
  encodeHead,
  encodeRequest,
  encodeRequestParts,
  type Frame,
  FrameDecoder,
} from '../../../src/bridge/protocol.js';
import { fixtures } from '../../helpers/paths.js';

interface Vectors {
  requests: Array<{
    name: string;
    id: number;
    environ: Record<string, string>;
    body_hex: string | null;
    body_file: string | null;
    frame_hex: string;
  }>;
  heads: Array<{ name: string; status: string; headers: Array<[string, string]>; payload_hex: string }>;
  frames: Array<{ name: string; type: number; id: number; payload_hex: string; frame_hex: string }>;
}
const vectors = JSON.parse(readFileSync(`${fixtures}protocol-vectors.json`, 'utf8')) as Vectors;

for (const v of vectors.requests) {
  test(`REQUEST encodes to the golden bytes: ${v.name}`, () => {
    const body = v.body_file ?? (v.body_hex === null ? null : Buffer.from(v.body_hex, 'hex'));
    assert.equal(encodeRequest(v.id, v.environ, body).toString('hex'), v.frame_hex);
  });
}

for (const v of vectors.heads) {
  test(`HEAD decodes: ${v.name}`, () => {
    assert.deepEqual(decodeHead(Buffer.from(v.payload_hex, 'hex')), { status: v.status, headers: v.headers });
    assert.equal(encodeHead(v.status, v.headers).toString('hex'), v.payload_hex);
  });
}

test('a HEAD whose fields do not pair up (NUL inside a value) is refused', () => {
  assert.equal(decodeHead(Buffer.from('\0\0\0\x01200 OK\0X-A\0b\0c', 'latin1')), null);
});

test('issue 11: a NUL pair smuggled into a value cannot become a header (the count says one header)', () => {
  const smuggled = Buffer.from('\0\0\0\x01200 OK\0X-Echo\0a\0Set-Cookie\0session=evil', 'latin1');
  assert.equal(decodeHead(smuggled), null);
  assert.equal(decodeHead(Buffer.from('\0\0', 'latin1')), null);
  assert.deepEqual(decodeHead(encodeHead('200 OK', [['X-Echo', 'a']])), {
    status: '200 OK',
    headers: [['X-Echo', 'a']],
  });
});

for (const v of vectors.frames) {
  test(`${v.name} frame encodes to the golden bytes`, () => {
    assert.equal(encodeFrame(v.type, v.id, Buffer.from(v.payload_hex, 'hex')).toString('hex'), v.frame_hex);
  });
}

test('encodeCredit makes the golden CREDIT frame', () => {
  const v = vectors.frames.find((f) => f.name === 'CREDIT')!;
  assert.equal(
    encodeCredit(v.id, Buffer.from(v.payload_hex, 'hex').readUInt32BE(0)).toString('hex'),
    v.frame_hex,
  );
});

test('the decoder finds every frame whatever the read boundaries', () => {
  const stream = Buffer.concat(vectors.frames.map((f) => Buffer.from(f.frame_hex, 'hex')));
  const expected = vectors.frames.map((f) => [f.type, f.id, f.payload_hex]);
  for (const step of [1, 2, 3, 7, 9, 64, stream.length]) {
    const decoder = new FrameDecoder();
    const got: Array<[number, number, string]> = [];
    const onFrame = (f: Frame) => got.push([f.type, f.id, f.payload.toString('hex')]);
    for (let at = 0; at < stream.length; at += step) decoder.push(stream.subarray(at, at + step), onFrame);
    assert.deepEqual(got, expected, `read size ${step}`);
  }
});

test('a large frame split across many reads arrives whole', () => {
  const payload = Buffer.alloc(300_000, 7);
  const frame = encodeFrame(0x12, 5, payload);
  const decoder = new FrameDecoder();
  const got: Frame[] = [];
  for (let at = 0; at < frame.length; at += 65536)
    decoder.push(frame.subarray(at, at + 65536), (f) => got.push(f));
  assert.equal(got.length, 1);
  assert.ok(got[0]!.payload.equals(payload));
});

test('frames of every size across random read boundaries: each arrives whole and in order', () => {
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const frames = Array.from({ length: 200 }, (_, i) =>
    encodeFrame(0x12, i + 1, Buffer.alloc([0, 1, 8, 100, 16384, 70000][i % 6]!, i % 251)),
  );
  const stream = Buffer.concat(frames);
  const decoder = new FrameDecoder();
  const got: Array<[number, number]> = [];
  for (let at = 0; at < stream.length; ) {
    const step = 1 + random(90000);
    decoder.push(stream.subarray(at, at + step), (f) => {
      assert.ok(f.payload.every((b) => b === (f.id - 1) % 251));
      got.push([f.id, f.payload.length]);
    });
    at += step;
  }
  assert.deepEqual(
    got,
    frames.map((f, i) => [i + 1, f.length - 9]),
  );
});

test('a large in-memory body is written after the frame head, uncopied; the bytes are the same', () => {
  const body = Buffer.alloc(64 * 1024, 'u');
  const parts = encodeRequestParts(3, { REQUEST_METHOD: 'POST', PATH_INFO: '/' }, body);
  assert.equal(parts.length, 2);
  assert.equal(parts[1], body);
  assert.deepEqual(Buffer.concat(parts), encodeRequest(3, { REQUEST_METHOD: 'POST', PATH_INFO: '/' }, body));
  assert.equal(encodeRequestParts(3, { A: 'b' }, Buffer.alloc(10)).length, 1);
});

test('BODY frames in pieces: a payload cut by reads is handed on as views as it arrives, nothing else changes', () => {
  let seed = 424242;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const frames = Array.from({ length: 120 }, (_, i) =>
    i % 3 === 2
      ? encodeFrame(0x13, i + 1, Buffer.alloc(0))
      : encodeFrame(0x12, i + 1, Buffer.alloc([0, 1, 8, 100, 16384, 70000][i % 6]!, i % 251)),
  );
  const stream = Buffer.concat(frames);
  for (const maxStep of [7, 100, 20000, 90000]) {
    const decoder = new FrameDecoder(new Set([0x12]));
    const got = new Map<number, Buffer[]>();
    const order: number[] = [];
    for (let at = 0; at < stream.length; ) {
      const step = 1 + random(maxStep);
      const read = stream.subarray(at, at + step);
      decoder.push(read, (f) => {
        if (f.type === 0x12 && f.payload.length > 0)
          assert.equal(f.payload.buffer, read.buffer, 'a piece is a view of the read, not a copy');
        if (order.at(-1) !== f.id) order.push(f.id);
        got.set(f.id, [...(got.get(f.id) ?? []), f.payload]);
      });
      at += step;
    }
    assert.deepEqual(
      order,
      frames.map((_, i) => i + 1),
      `frames in order (reads up to ${maxStep})`,
    );
    for (const [i, f] of frames.entries())
      assert.ok(
        Buffer.concat(got.get(i + 1)!).equals(f.subarray(9)),
        `frame ${i + 1} (reads up to ${maxStep})`,
      );
  }
});

test('reads into one reused buffer (frame-link.ts): every frame and piece is right when each read overwrites the last', () => {
  const frames = (maxSize: number) =>
    fc.array(
      fc.record({ type: fc.constantFrom(0x12, 0x13, 0x14), size: fc.integer({ min: 0, max: maxSize }) }),
      {
        minLength: 1,
        maxLength: 30,
      },
    );
  const cases = fc.oneof(
    fc.tuple(frames(40), fc.integer({ min: 1, max: 12 })), // headers cut anywhere
    fc.tuple(frames(70_000), fc.integer({ min: 500, max: 80_000 })),
  );
  fc.assert(
    fc.property(cases, ([specs, readSize]) => {
      const encoded = specs.map((s, i) =>
        encodeFrame(s.type, i + 1, Buffer.alloc(s.size, (i * 7 + 1) % 256)),
      );
      const stream = Buffer.concat(encoded);
      const reused = Buffer.alloc(readSize);
      const decoder = new FrameDecoder(new Set([0x12]));
      const got = new Map<number, Buffer[]>();
      for (let at = 0; at < stream.length; at += readSize) {
        const n = stream.copy(reused, 0, at, at + readSize);
        decoder.push(reused.subarray(0, n), (f) => {
          assert.equal(f.type, specs[f.id - 1]!.type);
          // A consumer copies what it keeps: the payload is only valid during this call.
          const pieces = got.get(f.id) ?? [];
          pieces.push(Buffer.from(f.payload));
          got.set(f.id, pieces);
        });
        reused.fill(0xee); // the next read overwrites it
      }
      assert.deepEqual(
        [...got.keys()],
        encoded.map((_, i) => i + 1),
      );
      for (const [i, f] of encoded.entries())
        assert.ok(Buffer.concat(got.get(i + 1)!).equals(f.subarray(9)), `frame ${i + 1}`);
    }),
    { seed: 14, numRuns: 150 },
  );
});
