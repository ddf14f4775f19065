/**
 * Every bench scenario's app answers correctly on every server, checked exactly as the bench checks it
 * before measuring (startChecked: status, body, framing), and so does what the slow readers ask for. Each
 * server is started once per app and asked every scenario's request for that app. Nothing is timed; every
 * server is stopped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { send } from '../../../bench/processes.js';
import { startChecked } from '../../../bench/run.js';
import { type Scenario, scenarios } from '../../../bench/scenarios.js';
import type { ServerSpec } from '../../../bench/servers.js';

const all = scenarios({ workers: 1, threads: 2 });

/** Scenarios grouped by the server command that answers them (one start per server and app). */
const byServer = new Map<string, { spec: ServerSpec; scenarios: Scenario[] }>();
for (const scenario of all)
  for (const spec of scenario.servers) {
    const key = JSON.stringify(spec.command(0));
    const entry = byServer.get(key) ?? { spec, scenarios: [] };
    entry.scenarios.push(scenario);
    byServer.set(key, entry);
  }

test('every scenario names nodicorn first, and the Python ones every peer and the ceiling', () => {
  for (const s of all) assert.equal(s.servers[0].role, 'nodicorn', s.name);
  const python = all.filter((s) => s.servers.some((x) => x.name.startsWith('gunicorn')));
  assert.ok(python.length >= 8);
  const readers = all.filter((s) => s.slowReaders !== undefined);
  assert.deepEqual(
    readers.map((s) => [s.name, s.request.path, s.slowReaders?.count, s.slowReaders?.request.path]),
    [['hello, 50 slow readers of 1 MiB', '/', 50, '/stream']],
  );
  for (const s of python)
    assert.deepEqual(
      // the --fronts 2 variant, where there is one, is not a peer
      s.servers.filter((x) => x.role !== 'variant').map((x) => x.name.split(' ')[0]),
      ['nodicorn', 'gunicorn', 'gunicorn', 'uwsgi', 'waitress', 'bare'],
      s.name,
    );
});

for (const { spec, scenarios: served } of byServer.values()) {
  const app = served.every((s) => s.request.path === '/')
    ? served[0]!.name
    : served.map((s) => s.name).join(', ');
  test(`${spec.name} answers ${app} correctly`, async () => {
    const lacking = spec.needs.filter((r) => !r.present()).map((r) => `${r.what} (${r.install})`);
    assert.deepEqual(lacking, [], 'scripts/install-system-deps.sh bench installs every server');
    const server = await startChecked(spec, served[0]!);
    try {
      for (const scenario of served.slice(1)) {
        const answer = await send(server.port, scenario.request);
        assert.equal(scenario.check(answer), null, `${scenario.name} on ${spec.name}`);
      }
      for (const scenario of served) {
        const readers = scenario.slowReaders;
        if (readers === undefined) continue;
        const answer = await send(server.port, readers.request);
        assert.equal(readers.check(answer), null, `${scenario.name}, the readers' answer, on ${spec.name}`);
        assert.equal(answer.body.length, 1 << 20);
        assert.notEqual(readers.check({ ...answer, body: answer.body.subarray(1) }), null);
      }
      // The check is a real one: the same answer with one byte more, or another status, is caught.
      const right = await send(server.port, served[0]!.request);
      assert.equal(served[0]!.check(right), null);
      assert.notEqual(
        served[0]!.check({ ...right, body: Buffer.concat([right.body, Buffer.from('!')]) }),
        null,
      );
      assert.notEqual(served[0]!.check({ ...right, status: 500 }), null);
    } finally {
      await server.stop();
    }
  });
}
