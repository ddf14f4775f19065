/** The pool that response bytes are copied into: copies never share memory while in use, slabs are reused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CopyPool } from '../../../src/server/copy-pool.js';

test('a copy holds the bytes given, and no later copy overwrites one not yet released', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ size: fc.integer({ min: 0, max: 5000 }), releaseNow: fc.boolean() }), {
        maxLength: 200,
      }),
      (steps) => {
        const pool = new CopyPool(16 * 1024, 2, 64);
        const live: Array<{ bytes: Buffer; fill: number; release: () => void }> = [];
        for (const [i, step] of steps.entries()) {
          const fill = i % 251;
          const copy = pool.copy(Buffer.alloc(step.size, fill));
          assert.equal(copy.bytes.length, step.size);
          live.push({ ...copy, fill });
          for (const held of live)
            assert.ok(
              held.bytes.every((b) => b === held.fill),
              'a live copy was overwritten',
            );
          if (step.releaseNow) live.splice(i % live.length, 1)[0]!.release();
        }
      },
    ),
    { seed: 4, numRuns: 200 },
  );
});

test('released slabs are reused, up to the number kept; a second release changes nothing', () => {
  const pool = new CopyPool(16 * 1024, 1, 16);
  const first = [1, 2, 3, 4].map((fill) => pool.copy(Buffer.alloc(4000, fill))); // fills one slab
  const b = pool.copy(Buffer.alloc(4000, 5)); // does not fit beside them: a second slab
  assert.notEqual(b.bytes.buffer, first[0]!.bytes.buffer);
  for (const copy of first) copy.release();
  assert.equal(pool.idle, 1, 'the first slab is free again');
  for (const fill of [6, 7, 8]) pool.copy(Buffer.alloc(4000, fill)); // the second slab is full now
  const c = pool.copy(Buffer.alloc(4000, 9));
  assert.equal(c.bytes.buffer, first[0]!.bytes.buffer, 'the free slab is taken');
  assert.ok(
    b.bytes.every((x) => x === 5),
    'the copy not yet released is intact',
  );
  first[0]!.release(); // again: must not free the slab c lives in
  const d = pool.copy(Buffer.alloc(4000, 10));
  assert.ok(
    c.bytes.every((x) => x === 9),
    'a repeated release let a live copy be overwritten',
  );
  assert.equal(d.bytes.buffer, c.bytes.buffer);
  c.release();
  d.release();
  // The current slab starts over once all its copies are released: the same bytes again.
  const e = pool.copy(Buffer.alloc(100, 11));
  assert.equal(e.bytes.byteOffset, c.bytes.byteOffset);
});

test('small and oversized copies are plain Buffers, and releasing them is harmless', () => {
  const pool = new CopyPool(4096, 1, 16);
  const small = pool.copy(Buffer.from('tiny'));
  const big = pool.copy(Buffer.alloc(2000, 9));
  assert.equal(small.bytes.toString(), 'tiny');
  assert.equal(big.bytes.length, 2000);
  small.release();
  big.release();
  assert.equal(pool.idle, 0);
});
