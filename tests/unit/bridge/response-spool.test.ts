/**
 * The response spool as a state machine: whatever the order of the app's chunks and the client's reads,
 * every byte reaches the client once, in order; memory stays within its budgets; and nothing is left
 * held when the response ends or is dropped. Property-based (fast-check, fixed seed) over a fake socket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  ResponseSpool,
  SpoolBudget,
  type SpoolLimits,
  type SpoolSink,
} from '../../../src/bridge/response-spool.js';

/** A client's socket: takes `room` bytes, then says it is full until `drain()`. */
class FakeSink implements SpoolSink {
  readonly received: Buffer[] = [];
  pending = 0;
  ended = false;
  aborted = false;
  #drained: Array<() => void> = [];

  constructor(readonly room: number) {}

  write(chunk: Uint8Array): boolean {
    this.received.push(Buffer.from(chunk));
    this.pending += chunk.byteLength;
    return this.pending < this.room;
  }

  onceDrained(callback: () => void): void {
    this.#drained.push(callback);
  }

  end(): void {
    this.ended = true;
  }

  abort(): void {
    this.aborted = true;
  }

  get unsentBytes(): number {
    return this.pending;
  }

  /** A socket past `room` reads as fuller than the spool lets any socket get. */
  get buffered(): number {
    return this.pending >= this.room ? Number.MAX_SAFE_INTEGER : this.pending;
  }

  /** The client takes everything written so far. */
  drain(): void {
    this.pending = 0;
    for (const callback of this.#drained.splice(0)) callback();
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

function limits(memory: number, disk: number, totalMemory = Number.MAX_SAFE_INTEGER): SpoolLimits {
  return { memory, disk, totalMemory, sendTimeoutMs: 0 };
}

/** A chunk whose bytes say where they belong: byte k of the whole stream is k % 253. */
function chunkAt(offset: number, size: number): Buffer {
  const chunk = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) chunk[i] = (offset + i) % 253;
  return chunk;
}

type Step = { kind: 'push'; size: number } | { kind: 'drain' } | { kind: 'wait' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.integer({ min: 1, max: 150_000 }).map((size) => ({ kind: 'push' as const, size })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'drain' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'wait' as const }) },
);

test('every byte reaches the client once and in order, within the memory budgets', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 200_000 }),
      fc.integer({ min: 0, max: 300_000 }),
      fc.integer({ min: 1, max: 100_000 }),
      async (steps, memory, totalMemory, room) => {
        const sink = new FakeSink(room);
        const budget = new SpoolBudget(limits(memory, 1 << 30, totalMemory));
        let released = 0;
        const spool = new ResponseSpool(sink, budget, () => released++, assert.fail);
        let offset = 0;
        for (const s of steps) {
          if (s.kind === 'push') {
            spool.push(chunkAt(offset, s.size));
            offset += s.size;
          } else if (s.kind === 'drain') sink.drain();
          else await tick();
          assert.ok(budget.memoryInUse <= memory, `memory ${budget.memoryInUse} over ${memory}`);
          assert.ok(budget.memoryInUse <= totalMemory, `memory ${budget.memoryInUse} over the total`);
        }
        spool.end();
        for (let i = 0; i < 10_000 && !sink.ended; i++) {
          sink.drain();
          await tick();
        }
        assert.ok(sink.ended, 'the response ended');
        const all = Buffer.concat(sink.received);
        assert.equal(all.length, offset);
        assert.ok(all.equals(chunkAt(0, offset)), 'bytes out of order or repeated');
        assert.equal(budget.memoryInUse, 0);
        assert.equal(budget.diskInUse, 0);
        assert.equal(spool.held, 0);
      },
    ),
    { seed: 20261204, numRuns: 60 },
  );
});

test('over its memory and disk caps the spool says so, and no longer once the client has read', async () => {
  const sink = new FakeSink(1000);
  const budget = new SpoolBudget(limits(10_000, 20_000));
  let released = 0;
  const spool = new ResponseSpool(sink, budget, () => released++, assert.fail);
  spool.push(chunkAt(0, 1000)); // fills the socket
  spool.push(chunkAt(1000, 10_000)); // memory
  assert.equal(spool.overCap, false);
  spool.push(chunkAt(11_000, 25_000)); // the file
  assert.equal(spool.held, 35_000);
  assert.equal(spool.overCap, true);
  for (let i = 0; i < 1000 && spool.overCap; i++) {
    sink.drain();
    await tick();
  }
  assert.equal(spool.overCap, false);
  assert.ok(released > 0, 'the owner heard that bytes went out');
  spool.discard();
  await tick();
  assert.equal(budget.memoryInUse, 0);
  assert.equal(budget.diskInUse, 0);
});

test('a discarded spool frees what it held and writes nothing more', async () => {
  const sink = new FakeSink(10);
  const budget = new SpoolBudget(limits(100, 1 << 20));
  const spool = new ResponseSpool(sink, budget, () => {}, assert.fail);
  spool.push(chunkAt(0, 10));
  spool.push(chunkAt(10, 50)); // memory
  spool.push(chunkAt(60, 5000)); // file
  const written = sink.received.length;
  spool.discard();
  sink.drain();
  await tick();
  assert.equal(sink.received.length, written);
  assert.equal(sink.ended, false);
  assert.equal(budget.memoryInUse, 0);
  assert.equal(budget.diskInUse, 0);
});

test('a client that takes nothing for --send-timeout is dropped', async () => {
  const sink = new FakeSink(10);
  const budget = new SpoolBudget({ ...limits(100, 1 << 20), sendTimeoutMs: 40 });
  const errors: string[] = [];
  const spool = new ResponseSpool(
    sink,
    budget,
    () => {},
    (message) => errors.push(message),
  );
  spool.push(chunkAt(0, 100));
  assert.equal(budget.waiting, 1);
  for (let i = 0; i < 500 && !sink.aborted; i++) await tick();
  assert.ok(sink.aborted, 'the connection was aborted');
  assert.match(errors[0] ?? '', /--send-timeout/);
  assert.equal(budget.waiting, 0);
  assert.equal(budget.memoryInUse, 0);
});
