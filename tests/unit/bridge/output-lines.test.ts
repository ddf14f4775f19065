/** OutputLines: a worker's stdout or stderr cut into bounded, whole lines for the error log. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LINE_CAP, LINE_CONTINUES, OutputLines } from '../../../src/bridge/output-lines.js';

function collect(cap?: number): { lines: OutputLines; out: string[]; text(): string } {
  const out: string[] = [];
  const lines = new OutputLines((text) => out.push(text), cap);
  return { lines, out, text: () => out.join('') };
}

describe('OutputLines', () => {
  test('emits whole lines only, several at once when a chunk holds several', () => {
    const { lines, out } = collect();
    lines.push(Buffer.from('one\ntw'));
    lines.push(Buffer.from('o\nthree\nfo'));
    assert.deepEqual(out, ['one\n', 'two\nthree\n']);
    lines.flush();
    assert.deepEqual(out, ['one\n', 'two\nthree\n', 'fo\n']);
  });

  test('a multi-byte character split across reads arrives whole', () => {
    const { lines, text } = collect();
    const bytes = Buffer.from('é€😀\n');
    for (let i = 0; i < bytes.length; i++) lines.push(bytes.subarray(i, i + 1));
    assert.equal(text(), 'é€😀\n');
    assert.ok(!text().includes('\uFFFD'));
  });

  test('an incomplete character at the end of the stream is flushed as U+FFFD', () => {
    const { lines, text } = collect();
    lines.push(Buffer.from([0x61, 0xe2, 0x82]));
    lines.flush();
    assert.equal(text(), 'a\uFFFD\n');
  });

  test(`a line past the cap (${LINE_CAP} characters) is emitted in pieces, each marked`, () => {
    const { lines, out } = collect();
    const total = 3 * LINE_CAP + 100;
    for (let sent = 0; sent < total; sent += 1000)
      lines.push(Buffer.alloc(Math.min(1000, total - sent), 0x78));
    assert.deepEqual(
      out.map((piece) => piece.length),
      [1, 2, 3].map(() => LINE_CAP + LINE_CONTINUES.length + 1),
    );
    for (const piece of out) assert.ok(piece.endsWith(`${LINE_CONTINUES}\n`));
    lines.push(Buffer.from('end\n'));
    assert.equal(out.at(-1), `${'x'.repeat(100)}end\n`);
  });

  test('one chunk holding a line longer than the cap is cut too, then lines go on as usual', () => {
    const { lines, out } = collect(10);
    lines.push(Buffer.from(`${'a'.repeat(25)}\nshort\n`));
    assert.equal(
      out.join(''),
      `${'a'.repeat(10)}${LINE_CONTINUES}\n${'a'.repeat(10)}${LINE_CONTINUES}\naaaaa\nshort\n`,
    );
  });

  test('a line of exactly the cap is not marked', () => {
    const { lines, text } = collect(10);
    lines.push(Buffer.from('0123456789\n'));
    assert.equal(text(), '0123456789\n');
  });

  test('the cap never separates the halves of a surrogate pair', () => {
    const { lines, out } = collect(4);
    lines.push(Buffer.from('abc😀d\n'));
    assert.deepEqual(out, [`abc${LINE_CONTINUES}\n😀d\n`]);
  });

  test("a progress bar redrawn with '\\r' stays bounded and reaches the log in pieces", () => {
    const { lines, out } = collect();
    let written = 0;
    for (let i = 0; written < 2 * 1024 * 1024; i++) {
      const frame = Buffer.from(`\r[${'#'.repeat(i % 50).padEnd(50)}] ${i % 100}%`);
      lines.push(frame);
      written += frame.length;
    }
    assert.ok(out.length >= 30, `${out.length} pieces`);
    for (const piece of out) assert.ok(piece.length <= LINE_CAP + LINE_CONTINUES.length + 1);
    assert.ok(out.join('').includes('\r['), "'\\r' is kept as written");
  });

  test('stdout and stderr, one instance each, never mix within a line', () => {
    const log: string[] = [];
    const stdout = new OutputLines((text) => log.push(text));
    const stderr = new OutputLines((text) => log.push(text));
    stdout.push(Buffer.from('out-'));
    stderr.push(Buffer.from('err-'));
    stdout.push(Buffer.from('line\n'));
    stderr.push(Buffer.from('line\n'));
    assert.deepEqual(log, ['out-line\n', 'err-line\n']);
  });

  test('20 MB without a newline in 64 KiB reads comes out whole, in capped pieces', () => {
    const { lines, out } = collect();
    const block = Buffer.alloc(65536, 0x79);
    for (let i = 0; i < 320; i++) lines.push(block);
    lines.flush();
    assert.equal(out.join('').replaceAll(`${LINE_CONTINUES}\n`, '').length, 320 * 65536 + 1);
  });
});
