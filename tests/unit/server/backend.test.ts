import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import type { Backend } from '../../../src/server/backend.js';
import { InProcessBackend } from '../../../src/server/inprocess-backend.js';
import { resolveSettings } from '../../../src/settings/resolve.js';
import { PythonBackend } from '../../../src/supervisor/python-backend.js';

const log = createLogger({ write: () => true }, 'critical');

test('backends declare their capabilities: the Python pool has supervision and /metrics series, an in-process app neither', async () => {
  const inProcess: Backend = new InProcessBackend((_environ, startResponse) => {
    startResponse('204 No Content', []);
    return [];
  }, log);
  assert.equal(inProcess.supervision, undefined);
  assert.equal(inProcess.attachMetrics, undefined);

  const python: Backend = new PythonBackend({
    app: { kind: 'python', module: 'app', attr: 'application' },
    settings: resolveSettings([], {}).settings,
    log,
    cwd: process.cwd(),
  });
  // Not started: a pool with no worker yet, seen through the interface alone (no cast to PythonBackend).
  assert.deepEqual(python.supervision?.workerPids, []);
  for (const signal of ['reload', 'addWorker', 'removeWorker'] as const)
    assert.equal(typeof python.supervision?.[signal], 'function', signal);
  const metrics = new Metrics();
  assert.doesNotMatch(await metrics.render(), /nodicorn_queue_depth/);
  python.attachMetrics?.(metrics);
  assert.match(await metrics.render(), /^nodicorn_queue_depth 0$/m);
});
