import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineRelay } from '../../../src/fronts/line-relay.js';

function sink() {
  const writes: string[] = [];
  return { writes, write: (text: string) => writes.push(text) };
}

test('only whole lines are written, however the pipe splits them', () => {
  const out = sink();
  const relay = new LineRelay(out);
  relay.push(Buffer.from('first li'));
  assert.deepEqual(out.writes, []);
  relay.push(Buffer.from('ne\nsecond line\nthi'));
  relay.push(Buffer.from('rd'));
  relay.push(Buffer.from(' line\n'));
  assert.deepEqual(out.writes, ['first line\nsecond line\n', 'third line\n']);
});

test('two relays into one sink never interleave inside a line', () => {
  const out = sink();
  const a = new LineRelay(out);
  const b = new LineRelay(out);
  a.push(Buffer.from('[a] one '));
  b.push(Buffer.from('[b] one '));
  b.push(Buffer.from('done\n[b] two '));
  a.push(Buffer.from('done\n'));
  b.push(Buffer.from('done\n'));
  const lines = out.writes
    .join('')
    .split('\n')
    .filter((l) => l !== '');
  assert.deepEqual(lines.sort(), ['[a] one done', '[b] one done', '[b] two done']);
});

test('a UTF-8 character split between chunks arrives whole', () => {
  const out = sink();
  const relay = new LineRelay(out);
  const text = Buffer.from('café ☕\n');
  relay.push(text.subarray(0, 4));
  relay.push(text.subarray(4, 7));
  relay.push(text.subarray(7));
  assert.deepEqual(out.writes, ['café ☕\n']);
});

test('a line past the limit is written in pieces; what is left at the end gets its newline', () => {
  const out = sink();
  const relay = new LineRelay(out, 8);
  relay.push(Buffer.from('0123'));
  relay.push(Buffer.from('456789'));
  assert.deepEqual(out.writes, ['0123456789']);
  relay.push(Buffer.from('tail'));
  relay.end();
  assert.deepEqual(out.writes, ['0123456789', 'tail\n']);
  relay.end();
  assert.equal(out.writes.length, 2);
});
