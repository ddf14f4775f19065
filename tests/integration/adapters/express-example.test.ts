/**
 * examples/express-with-flask.ts as a user runs it (`node dist/examples/express-with-flask.js`): its own
 * route, a Flask route under /py, then SIGTERM, after which neither it nor a Flask worker is left.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { DEBIAN_PYTHON, requirePythonModules } from '../../helpers/debian-python.js';
import { repoRoot } from '../../helpers/paths.js';

let child: ChildProcess;
let base = '';
let pids: number[] = [];
let output = '';

before(async () => {
  requirePythonModules('flask');
  child = spawn(process.execPath, [`${repoRoot}dist/examples/express-with-flask.js`], {
    cwd: repoRoot,
    env: { ...process.env, PORT: '0', NODICORN_PYTHON: DEBIAN_PYTHON },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not start:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /Listening at: (http:\/\/\S+) \(Flask workers: ([\d, ]+)\)/.exec(output);
      if (ready === null) return;
      clearTimeout(timer);
      base = ready[1]!;
      pids = ready[2]!.split(', ').map(Number);
      resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the example exited (${code}):\n${output}`)));
  });
});

after(() => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('Express answers its route, Flask its own under /py, and SIGTERM stops every process', async () => {
  assert.equal(pids.length, 2);
  assert.ok(pids.every(alive));
  const own = await fetch(`${base}/`);
  assert.equal(await own.text(), 'Hello from Express; Flask is under /py\n');
  const flask = await fetch(`${base}/py/where?x=1`);
  assert.deepEqual(await flask.json(), {
    script_root: '/py',
    path: '/where',
    url: `${base}/py/where?x=1`,
  });
  assert.equal(await (await fetch(`${base}/py/`)).text(), 'Hello from Flask');

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.deepEqual(pids.filter(alive), []);
});
