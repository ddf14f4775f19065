import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimitedLog } from '../../../src/observability/rate-limited.js';

test('at most `lines` per window; the rest are counted in one summary line', () => {
  let now = 0;
  const written: string[] = [];
  const log = new RateLimitedLog((l) => written.push(l), {
    lines: 2,
    windowMs: 1000,
    what: 'refused requests',
    now: () => now,
  });
  for (let i = 0; i < 5; i++) log.log(`line ${i}`);
  assert.deepEqual(written, ['line 0', 'line 1']);
  now = 1000;
  log.log('line 5');
  assert.deepEqual(written, [
    'line 0',
    'line 1',
    '... and 3 more refused requests not logged (at most 2 lines per 1 s)',
    'line 5',
  ]);
  log.flush();
  assert.equal(written.length, 4, 'nothing held back, nothing more written');
});
