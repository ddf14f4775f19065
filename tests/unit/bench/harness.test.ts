/** The bench harness's pure parts: options, selection, the wrk Lua script, kept-throughput and the chart. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ratioChart } from '../../../bench/chart.js';
import { summarizeProfile } from '../../../bench/profile-summary.js';
import { headlineTable, type Measurement, summarizeScenario } from '../../../bench/report.js';
import { parseArgs, select, UsageError } from '../../../bench/run.js';
import { scenarios } from '../../../bench/scenarios.js';
import { luaScript, parseWrk, wrkArgs } from '../../../bench/wrk.js';

test('options: defaults, --quick, whole seconds only, unknown flags refused', () => {
  const d = parseArgs([]);
  assert.deepEqual([d.rounds, d.seconds, d.warmup, d.connections, d.workers, d.threads], [3, 3, 1, 64, 2, 1]);
  const q = parseArgs(['--quick', '--workers=4', '--only', 'Flask', '--only', 'hello']);
  assert.deepEqual([q.rounds, q.seconds, q.workers, q.only], [1, 1, 4, ['flask', 'hello']]);
  assert.throws(() => parseArgs(['--duration', '0.5']), UsageError); // wrk takes whole seconds
  assert.throws(() => parseArgs(['--rounds', '0']), UsageError);
  assert.throws(() => parseArgs(['--fast']), /unknown option "--fast"/);
  assert.throws(() => parseArgs(['--connections', '1', '--wrk-threads', '2']), UsageError);
});

test('--only picks scenarios, --server picks servers, nodicorn always stays first', () => {
  const all = scenarios({ workers: 2, threads: 1 });
  const picked = select(all, { only: ['flask'], server: ['uwsgi'] });
  assert.deepEqual(
    picked.map((s) => s.name),
    ['Flask JSON'],
  );
  assert.deepEqual(
    picked[0]!.servers.map((s) => s.role),
    ['nodicorn', 'peer'],
  );
  assert.equal(select(all, { only: [], server: [] }).length, all.length);
});

test('the Lua script for a POST carries the exact body; a GET needs none; headers go as -H', () => {
  assert.equal(luaScript('GET', undefined), null);
  const body = Buffer.concat([Buffer.alloc(3, 'u'), Buffer.from('\n"\\'), Buffer.alloc(2, 0)]);
  const script = luaScript('POST', body)!;
  assert.match(script, /^wrk\.method = "POST"\n/);
  // Decode what Lua would build from the string.rep parts.
  const parts = [...script.matchAll(/string\.rep\("\\(\d+)", (\d+)\)/g)];
  const rebuilt = Buffer.from(parts.flatMap(([, byte, n]) => Array(Number(n)).fill(Number(byte))));
  assert.deepEqual(rebuilt, body);
  assert.deepEqual(
    wrkArgs('http://h/', {
      threads: 1,
      connections: 8,
      seconds: 2,
      headers: ['Connection: close'],
      script: 's.lua',
    }),
    ['-t1', '-c8', '-d2s', '--latency', '-H', 'Connection: close', '-s', 's.lua', 'http://h/'],
  );
});

const report = (rps: number) => `Running 1s test @ http://127.0.0.1:1/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.55ms    5.60ms  72.84ms   96.82%
    Req/Sec    37.11k    10.86k   43.93k    85.00%
  1000 requests in 1.00s, 11.73MB read
Requests/sec:  ${rps}
Transfer/sec:      5.86MB
`;

test('slow-client throughput is kept against the same server in the plain scenario; headline ratios', () => {
  const m = (scenario: string, server: string, rps: number): Measurement => ({
    scenario,
    server,
    round: 1,
    sequence: 0,
    serverCommand: server,
    cwd: '/',
    run: { command: 'wrk', output: '', result: parseWrk(report(rps)) },
    serverCpu: { user: 0.01, system: 0.01 },
    peakRss: 50 * 2 ** 20,
  });
  const servers = [
    { name: 'nodicorn', role: 'nodicorn' },
    { name: 'gunicorn sync', role: 'baseline' },
    { name: 'uwsgi', role: 'peer' },
    { name: 'bare', role: 'ceiling' },
  ] as const;
  const measurements = [
    m('plain', 'nodicorn', 8000),
    m('plain', 'gunicorn sync', 2000),
    m('plain', 'uwsgi', 4000),
    m('plain', 'bare', 10000),
    m('slow', 'nodicorn', 7600),
    m('slow', 'gunicorn sync', 0),
    m('slow', 'uwsgi', 0),
    m('slow', 'bare', 9000),
  ];
  const plain = summarizeScenario({ name: 'plain', servers }, measurements);
  const slow = summarizeScenario({ name: 'slow', servers, comparedWith: 'plain' }, measurements, [plain]);
  assert.deepEqual(
    slow.kept?.map((k) => [k.server, k.kept]),
    [
      ['nodicorn', 0.95],
      ['gunicorn sync', 0],
      ['uwsgi', 0],
      ['bare', 0.9],
    ],
  );
  assert.equal(plain.servers[0]!.peakRssMiB.median, 50);
  const table = headlineTable([plain, slow]);
  assert.match(table, /\| plain \| 8,000 \| 4\.00 \| 2\.00 \| 0\.80 \| {2}\|/);
  assert.match(table, /\| slow \| 7,600 \| – \| – \| 0\.84 \| 95 % \|/);

  const svg = ratioChart([plain, slow], 'title <&>');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /title &lt;&amp;>/);
  // plain: 3 bars; slow: only the ceiling ratio is finite.
  assert.equal(svg.match(/<rect x="[\d.]+" y="\d+" width="[\d.]+" height="14"/g)?.length, 4);
});

test('profile summary: self time per function, inclusive time for nodicorn functions', () => {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
      { id: 2, callFrame: frame('serve', 'file:///x/dist/src/server/http-front.js'), children: [3] },
      { id: 3, callFrame: frame('writev', '') },
      { id: 4, callFrame: frame('(idle)', '') },
    ],
    samples: [3, 3, 3, 2, 4],
    timeDeltas: [100, 100, 100, 100, 600],
  };
  const text = summarizeProfile(profile, 5);
  assert.match(text, /60\.0 % {2}\(idle\)/);
  assert.match(text, /30\.0 % {2}writev/);
  assert.match(text, /inclusive time\n 40\.0 % {2}serve src\/server\/http-front\.js:1/);
});
