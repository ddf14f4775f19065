/**
 * Request bodies for Python apps (src/server/request-body.ts) through the real server: --body-timeout,
 * what many tiny chunks cost the master, and spooled bodies that leave nothing on disk after a crash.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { get } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { memoryKiB } from '../helpers/processes.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startNodicorn, withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;

/**
 * Sends `head`, then one byte of `body` every `everyMs` until the server answers or closes; resolves with
 * what the server sent and whether it closed the connection.
 */
function trickle(
  port: number,
  head: string,
  body: Buffer,
  everyMs: number,
): Promise<{ text: string; closed: boolean; sent: number }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let sent = 0;
    let text = '';
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(head, 'latin1');
      timer = setInterval(() => {
        if (sent < body.length && socket.writable) socket.write(body.subarray(sent, ++sent));
      }, everyMs);
    });
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('end', () => {
      closed = true;
      socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') closed = true;
    });
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ text, closed, sent });
    });
  });
}

describe('--body-timeout', () => {
  test('a body trickled a byte per 100 ms gets 408 and the connection closes; others are served meanwhile', async () => {
    await withNodicorn(
      ['--chdir', PY, 'bodies:application', '-w', '2', '--body-timeout', '1'],
      async (server) => {
        const slow = trickle(
          server.port,
          'POST /digest HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n',
          Buffer.alloc(1000, 0x61),
          100,
        );
        // A second client, served while the first one trickles.
        const normal = await get(server.port, '/');
        assert.equal(normal.status, 200);
        const result = await slow;
        assert.match(result.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
        assert.match(result.text, /\r\nConnection: close\r\n/i);
        assert.ok(result.closed, 'the server closed the connection');
        assert.ok(result.sent < 1000, `the whole body went through (${result.sent} bytes)`);
        // The server lives on.
        const after = await get(server.port, '/');
        assert.deepEqual([after.status, after.body], [200, 'ok']);
      },
    );
  });

  test('a silent chunked body gets 408 too', async () => {
    await withNodicorn(['--chdir', PY, 'bodies:application', '--body-timeout', '0.5'], async (server) => {
      const result = await rawRequest(
        server.port,
        'POST /digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
        5000,
      );
      assert.match(result.text, /^HTTP\/1\.1 408 /);
      assert.ok(result.closedByServer);
    });
  });
});

describe('received bodies are coalesced', () => {
  test('a chunked body of 100,000 one-byte chunks costs the master little memory and arrives exact', async (t) => {
    await withNodicorn(['--chdir', PY, 'bodies:application', '-w', '1'], async (server) => {
      assert.equal((await get(server.port, '/')).status, 200);
      const n = 100_000;
      const body = Buffer.alloc(n);
      for (let i = 0; i < n; i++) body[i] = i % 251;
      const parts: Buffer[] = [
        Buffer.from(
          'POST /digest HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        ),
      ];
      for (let i = 0; i < n; i++) parts.push(Buffer.from([0x31, 0x0d, 0x0a, body[i]!, 0x0d, 0x0a]));
      parts.push(Buffer.from('0\r\n\r\n'));
      const before = memoryKiB(server.process.pid!, 'VmRSS');
      const result = await rawRequest(server.port, Buffer.concat(parts), 10_000);
      const peak = memoryKiB(server.process.pid!, 'VmHWM');
      const sha = createHash('sha256').update(body).digest('hex');
      assert.match(result.text, /^HTTP\/1\.1 200 /);
      assert.ok(result.text.endsWith(`\r\n\r\n${n} ${sha}`), result.text.slice(-120));
      t.diagnostic(`master RSS ${before} KiB before, peak ${peak} KiB (+${peak - before} KiB)`);
      assert.ok(peak - before < 16 * 1024, `the master grew by ${peak - before} KiB for ${n} chunks`);
    });
  });

  test('spooled bodies (Content-Length and chunked, past --body-memory-limit) arrive exact', async () => {
    await withNodicorn(
      ['--chdir', PY, 'bodies:application', '--body-memory-limit', '1024'],
      async (server) => {
        const body = Buffer.alloc(300_000);
        for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 256;
        const expected = `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
        const sized = await fetch(`${server.url}/digest`, { method: 'POST', body });
        assert.equal(await sized.text(), expected);
        const chunked = await fetch(`${server.url}/digest`, {
          method: 'POST',
          body: new Blob([body]).stream(),
          duplex: 'half',
        } as RequestInit);
        assert.equal(await chunked.text(), expected);
        // At the limit stays in memory, one byte more is spooled: both exact.
        for (const size of [1024, 1025]) {
          const response = await fetch(`${server.url}/digest`, {
            method: 'POST',
            body: body.subarray(0, size),
          });
          assert.equal(
            await response.text(),
            `${size} ${createHash('sha256').update(body.subarray(0, size)).digest('hex')}`,
          );
        }
      },
    );
  });
});

describe('spooled bodies leave nothing on disk', () => {
  test('kill -9 of the master while an app holds a spooled body leaves no nodicorn-* in TMPDIR', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'spool-test-'));
    const server = await startNodicorn(
      ['--chdir', PY, 'bodies:application', '-w', '2', '--body-memory-limit', '1024'],
      { env: { TMPDIR: tmp } },
    );
    const workers = (/Booted 2 workers \(pids (\d+), (\d+)\)/.exec(server.log()) ?? []).slice(1).map(Number);
    try {
      assert.equal(workers.length, 2, server.log());
      const held = fetch(`${server.url}/hold/60`, {
        method: 'POST',
        body: Buffer.alloc(200_000, 0x62),
      }).catch(() => null);
      await server.waitForLog(/holding \d+ 1/);
      server.process.kill('SIGKILL');
      await new Promise((resolve) => server.process.once('exit', resolve));
      assert.deepEqual(
        readdirSync(tmp).filter((name) => name.startsWith('nodicorn-')),
        [],
      );
      await held;
    } finally {
      for (const pid of workers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await server.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('at start, spool directories of nodicorn processes that no longer exist are removed', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'spool-test-'));
    const dead = spawnSync('true').pid;
    mkdirSync(join(tmp, `nodicorn-${dead}-abc`));
    writeFileSync(join(tmp, `nodicorn-${dead}-abc`, 'body'), 'left by a crash');
    const live = `nodicorn-${process.pid}-def`;
    mkdirSync(join(tmp, live));
    mkdirSync(join(tmp, 'unrelated'));
    const server = await startNodicorn(['--chdir', PY, 'bodies:application', '-w', '1'], {
      env: { TMPDIR: tmp },
    });
    try {
      assert.deepEqual(readdirSync(tmp).sort(), [live, 'unrelated']);
      assert.match(server.log(), new RegExp(`Removed a stale request body: nodicorn-${dead}-abc`));
    } finally {
      await server.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
