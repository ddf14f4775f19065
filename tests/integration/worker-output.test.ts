/**
 * What Python apps write to stdout/stderr reaches the error log (src/bridge/output-lines.ts) without
 * stalling the master or growing it: output without a newline is cut into capped, marked lines.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LINE_CONTINUES } from '../../src/bridge/output-lines.js';
import { get } from '../helpers/load.js';
import { fixtures } from '../helpers/paths.js';
import { memoryKiB } from '../helpers/processes.js';
import { withNodicorn } from '../helpers/server.js';

const PY = `${fixtures}python`;

test('20 MB of app output without a newline: other requests succeed meanwhile, the master stays small', async (t) => {
  await withNodicorn(['--chdir', PY, 'bodies:application', '-w', '2'], async (server) => {
    assert.equal((await get(server.port, '/')).status, 200);
    const size = 20 * 1024 * 1024;
    const before = memoryKiB(server.process.pid!, 'VmRSS');
    const done = new Promise<void>((resolve) => {
      let tail = '';
      const onData = (chunk: Buffer) => {
        tail = tail.slice(-20) + chunk.toString('latin1');
        if (!tail.includes('\nflood done\n')) return;
        server.process.stderr!.off('data', onData);
        resolve();
      };
      server.process.stderr!.on('data', onData);
    });
    let flooding = true;
    const flood = get(server.port, `/flood?${size}`).finally(() => {
      flooding = false;
    });
    let served = 0;
    while (flooding) {
      const response = await get(server.port, '/');
      assert.equal(response.status, 200);
      served++;
    }
    assert.deepEqual(await flood, { ...(await flood), status: 200, body: 'flooded' });
    const peak = memoryKiB(server.process.pid!, 'VmHWM');
    t.diagnostic(`${served} requests served during the flood; master RSS ${before} KiB, peak ${peak} KiB`);
    assert.ok(peak - before < 100 * 1024, `the master grew by ${peak - before} KiB`);
    // Every byte reached the log, in lines of at most 64 Ki characters. (The log is read as it arrives:
    // waitForLog would search the whole 20 MB again at every read.)
    await done;
    const marked = server.log().split(`${LINE_CONTINUES}\n`).length - 1;
    assert.ok(marked >= size / 65536 - 1, `${marked} marked lines`);
  });
});
