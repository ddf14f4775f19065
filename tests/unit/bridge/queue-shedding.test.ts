import assert from 'node:assert/strict';
import { test } from 'node:test';
import { queueFull, shedExpired, waitedTooLong } from '../../../src/bridge/queue-shedding.js';
import type { Dispatch } from '../../../src/bridge/worker-process.js';

const at = (queuedAt: number, id = queuedAt) => ({ id, queuedAt }) as unknown as Dispatch;

test('--max-queue: full at N waiting; 0 means no limit', () => {
  assert.equal(queueFull(1, 2), false);
  assert.equal(queueFull(2, 2), true);
  assert.equal(queueFull(1_000_000, 0), false);
});

test('--queue-timeout: expired requests leave the queue, the rest keep their order', () => {
  assert.equal(waitedTooLong(at(0), 499, 500), false);
  assert.equal(waitedTooLong(at(0), 500, 500), true);
  assert.equal(waitedTooLong(at(0), 1e9, 0), false);
  // A request re-queued from a dead worker comes back at the front with its first queuing time.
  const queue = [at(0, 1), at(100, 2), at(50, 3), at(900, 4)];
  const shed: number[] = [];
  shedExpired(queue, 1000, 500, (d) => shed.push(d.id));
  assert.deepEqual(shed, [1, 2, 3]);
  assert.deepEqual(
    queue.map((d) => d.id),
    [4],
  );
  shedExpired(queue, 1000, 0, (d) => shed.push(d.id));
  assert.equal(queue.length, 1);
});
