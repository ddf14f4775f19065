/**
 * --preload against per-worker imports, on the Django test project with -w 4 (Debian's python3-django for
 * /usr/bin/python3):
 *   - memory: the workers' summed PSS (/proc/PID/smaps_rollup: pages shared copy-on-write count once,
 *     split between their sharers) after each worker served requests, and the fork server's own PSS;
 *   - replacement: from SIGKILL of a worker to its replacement being ready (in the pool, taking requests),
 *     read from the server's log line; the median of --rounds.
 *
 *     npm run build && node dist/bench/preload.js [--rounds 7]
 *
 * Each server runs in its own process group and the group is killed at the end, forked workers included.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort } from './processes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 7;

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  log(): string;
  waitFor(pattern: RegExp, from: number): Promise<RegExpExecArray>;
}

async function start(preload: boolean): Promise<Running> {
  const port = await freePort();
  const args = [
    `${root}bin/nodicorn.js`,
    '--python',
    '/usr/bin/python3',
    '--chdir',
    `${root}tests/fixtures/python`,
    'django_app:application',
    '-w',
    '4',
    '-b',
    `127.0.0.1:${port}`,
    ...(preload ? ['--preload'] : []),
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const waitFor = (pattern: RegExp, from: number) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no ${pattern} in:\n${output}`)), 60_000);
      const check = () => {
        const m = pattern.exec(output.slice(from));
        if (m !== null) {
          clearTimeout(deadline);
          resolve(m);
        } else waiters.push(check);
      };
      check();
    });
  await waitFor(/Listening at/, 0);
  return { child, port, log: () => output, waitFor };
}

function stop(server: Running): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => {
      // The group: forked workers are not Node's children.
      try {
        process.kill(-server.child.pid!, 'SIGKILL');
      } catch {}
      resolve();
    });
    process.kill(server.child.pid!, 'SIGTERM');
  });
}

function pss(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** `count` GETs over 8 keep-alive connections: every worker serves some, so Django is warm everywhere. */
async function load(port: number, count: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let left = count;
  const one = () =>
    new Promise<void>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, path: '/info/?q=1', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject),
    );
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) await one();
    }),
  );
  agent.destroy();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function measure(preload: boolean) {
  const server = await start(preload);
  try {
    await load(server.port, 2000);
    const booted = /Booted 4 workers \(pids ([\d, ]+)\)/.exec(server.log())!;
    const workers = booted[1]!.split(', ').map(Number);
    const zygote = /Fork server \(pid: (\d+)\)/.exec(server.log());
    const workersPss = workers.reduce((sum, pid) => sum + pss(pid), 0);
    const zygotePss = zygote === null ? 0 : pss(Number(zygote[1]));
    const times: number[] = [];
    let victim = workers[0]!;
    for (let i = 0; i < rounds; i++) {
      const from = server.log().length;
      const t0 = performance.now();
      process.kill(victim, 'SIGKILL');
      const ready = await server.waitFor(/Booting worker with pid: (\d+)/, from);
      times.push(performance.now() - t0);
      victim = Number(ready[1]);
    }
    return { workersPss, zygotePss, replaceMs: median(times), times };
  } finally {
    await stop(server);
  }
}

const without = await measure(false);
const withPreload = await measure(true);
console.log('Django test project, -w 4, after 2000 requests (PSS from /proc/PID/smaps_rollup)');
console.log(`  workers' summed PSS without --preload: ${mib(without.workersPss)}`);
console.log(
  `  workers' summed PSS with --preload:    ${mib(withPreload.workersPss)} (+ fork server ${mib(withPreload.zygotePss)} = ${mib(withPreload.workersPss + withPreload.zygotePss)})`,
);
console.log(`Worker killed -> replacement ready, median of ${rounds}`);
console.log(
  `  without --preload: ${without.replaceMs.toFixed(1)} ms  (${without.times.map((t) => t.toFixed(0)).join(', ')})`,
);
console.log(
  `  with --preload:    ${withPreload.replaceMs.toFixed(1)} ms  (${withPreload.times.map((t) => t.toFixed(0)).join(', ')})`,
);
