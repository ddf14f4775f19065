/** The worker's frame socket: a pair made without socketpair(), read into one reused buffer. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { linkedPair } from '../../../src/bridge/frame-link.js';

test('bytes written at the far end arrive in order, each read a view of the same reused buffer', async () => {
  const { link, far } = await linkedPair();
  const memory = new Set<ArrayBufferLike>();
  const got: Buffer[] = [];
  let total = 0;
  const want = 3 * 1024 * 1024;
  const done = new Promise<void>((resolve) => {
    link.read((bytes) => {
      memory.add(bytes.buffer);
      got.push(Buffer.from(bytes)); // valid only during the call
      total += bytes.length;
      if (total === want) resolve();
    });
  });
  const data = Buffer.alloc(want);
  for (let i = 0; i < want; i++) data[i] = (i * 31) % 256;
  far.resume();
  far.write(data);
  await done;
  assert.ok(Buffer.concat(got).equals(data));
  assert.ok(got.length > 1, 'several reads');
  assert.equal(memory.size, 1, 'every read lands in the same buffer');
  link.socket.write('back');
  const [echo] = (await once(far, 'data')) as [Buffer];
  assert.equal(echo.toString(), 'back');
  far.destroy();
  await once(link.socket, 'close');
});

test('bytes that arrive before a reader is set are kept and delivered first; the far end can be a child', async () => {
  const { link, far } = await linkedPair();
  const closed = once(link.socket, 'close');
  // The child writes on fd 3 and exits; the parent's copy of the far end is closed at once, as the
  // spawned worker's is.
  const child = spawn(process.execPath, ['-e', "require('fs').writeSync(3, 'hello from the child')"], {
    stdio: ['ignore', 'ignore', 'inherit', far],
  });
  far.destroy();
  await once(child, 'exit');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const got: string[] = [];
  link.read((bytes) => got.push(bytes.toString()));
  await closed;
  assert.equal(got.join(''), 'hello from the child');
});
