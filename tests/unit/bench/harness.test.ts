/** The bench harness's pure parts: options, selection, the wrk Lua script, kept-throughput and the chart. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ratioChart } from '../../../bench/chart.js';
import { summarizeProfile } from '../../../bench/profile-summary.js';
import { headlineTable, type Measurement, scenarioTable, summarizeScenario } from '../../../bench/report.js';
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

test('--only and --server take comma lists; "gunicorn-sync" is "gunicorn sync"; --servers; --baseline REF', () => {
  const o = parseArgs([
    '--only',
    'hello,Stream',
    '--servers=nodicorn,gunicorn-sync',
    '--server',
    'bare_node',
  ]);
  assert.deepEqual(o.only, ['hello', 'stream']);
  assert.deepEqual(o.server, ['nodicorn', 'gunicorn sync', 'bare node']);
  assert.equal(o.baseline, '');
  assert.equal(parseArgs(['--baseline', 'main~2']).baseline, 'main~2');
  assert.equal(parseArgs(['--baseline=v0.1.0']).baseline, 'v0.1.0');
  assert.throws(() => parseArgs(['--baseline']), /--baseline needs a value/);
  assert.throws(() => parseArgs(['--baseline', '--quick']), UsageError);
  assert.throws(() => parseArgs(['--only', ',']), UsageError);

  const all = scenarios({ workers: 2, threads: 1 });
  const picked = select(all, o);
  assert.ok(picked.some((s) => s.name === '1 MiB streamed response'));
  assert.ok(picked.some((s) => s.name === 'hello, 50 slow readers of 1 MiB'));
  assert.ok(!picked.some((s) => s.name === 'Flask JSON'));
  assert.deepEqual(
    picked.find((s) => s.name === 'hello')!.servers.map((s) => s.name),
    ['nodicorn -w 2', 'nodicorn -w 2 --fronts 2', 'gunicorn sync -w 2', 'bare node:http'],
  );
});

test('two front processes run beside the default where the model of fronts is measured', () => {
  const all = scenarios({ workers: 2, threads: 1 });
  for (const s of all) {
    const variants = s.servers.filter((spec) => spec.role === 'variant');
    const measured = [
      'hello',
      'hello, Connection: close',
      'TypeScript hello',
      'TypeScript hello, Connection: close',
      'Flask JSON',
    ].includes(s.name);
    assert.equal(variants.length, measured ? 1 : 0, s.name);
    if (!measured) continue;
    const [nodicorn] = s.servers;
    assert.deepEqual(variants[0]!.command(8000).args, [
      ...nodicorn.command(8000).args.slice(0, -4),
      '--fronts',
      '2',
      ...nodicorn.command(8000).args.slice(-4),
    ]);
  }
});

test('--baseline: nodicorn@REF runs next to nodicorn from its own tree, with the same app and flags', () => {
  const at = { ref: 'main', sha: 'a'.repeat(40), dir: '/cache/aaa/' };
  const all = scenarios({ workers: 2, threads: 1 }, at);
  assert.equal(all.length, scenarios({ workers: 2, threads: 1 }).length);
  for (const s of all) {
    const [first, second] = s.servers;
    assert.equal(first.role, 'nodicorn', s.name);
    assert.equal(second?.role, 'reference', s.name);
    assert.match(second!.name, /^nodicorn@main /);
    const mine = first.command(8000);
    const theirs = second!.command(8000);
    assert.equal(theirs.args[0], '/cache/aaa/bin/nodicorn.js');
    assert.equal(theirs.cwd, mine.cwd); // app paths resolve in this tree: the same app file
    if (s.name.startsWith('TypeScript hello'))
      assert.equal(theirs.args[1], '/cache/aaa/dist/examples/hello.js:app');
    else assert.deepEqual(theirs.args.slice(1), mine.args.slice(1));
  }
  // --server never drops it (nor nodicorn)
  const picked = select(all, { only: ['flask'], server: ['uwsgi'] });
  assert.deepEqual(
    picked[0]!.servers.map((s) => s.role),
    ['nodicorn', 'reference', 'peer'],
  );
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
    { name: 'gunicorn gthread', role: 'peer' },
    { name: 'uwsgi', role: 'peer' },
    { name: 'bare', role: 'ceiling' },
  ] as const;
  const measurements = [
    m('plain', 'nodicorn', 8000),
    m('plain', 'gunicorn sync', 2000),
    m('plain', 'gunicorn gthread', 2500),
    m('slow', 'gunicorn gthread', 0),
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
      ['gunicorn gthread', 0],
      ['uwsgi', 0],
      ['bare', 0.9],
    ],
  );
  assert.equal(plain.servers[0]!.peakRssMiB.median, 50);
  const table = headlineTable([plain, slow]);
  // the better Gunicorn is the one with more req/s (gthread here), named; CPU per request beside
  assert.match(
    table,
    /\| plain \| 8,000 \| 3\.20 \(gthread\) \| 2\.00 \| 0\.80 \| [\d,]+ \/ [\d,]+ \/ [\d,]+ \| {2}\|/,
  );
  assert.match(
    table,
    /\| slow \| 7,600 \| – \(sync\) \| – \| 0\.84 \| [\d,]+ \/ [\d,–]+ \/ [\d,–]+ \| 95 % \|/,
  );

  const svg = ratioChart([plain, slow], 'title <&>');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /title &lt;&amp;>/);
  // plain: 3 bars; slow: only the ceiling ratio is finite.
  assert.equal(svg.match(/<rect x="[\d.]+" y="\d+" width="[\d.]+" height="14"/g)?.length, 4);
});

test('kept under slow clients is paired round by round when each run has one without them', () => {
  const m = (server: string, round: number, plain: number, loaded: number): Measurement => ({
    scenario: 'readers',
    server,
    round,
    sequence: 0,
    serverCommand: server,
    cwd: '/',
    plain: { command: 'wrk', output: '', result: parseWrk(report(plain)) },
    run: { command: 'wrk', output: '', result: parseWrk(report(loaded)) },
    serverCpu: { user: 0.01, system: 0.01 },
  });
  const servers = [
    { name: 'nodicorn', role: 'nodicorn' },
    { name: 'nodicorn@main', role: 'reference' },
    { name: 'gunicorn sync', role: 'baseline' },
  ] as const;
  const measurements = [
    m('nodicorn', 1, 10000, 9000),
    m('nodicorn@main', 1, 10000, 5000),
    m('gunicorn sync', 1, 4000, 0),
    m('nodicorn', 2, 5000, 5000),
    m('nodicorn@main', 2, 8000, 2000),
    m('gunicorn sync', 2, 3000, 0),
    m('nodicorn', 3, 8000, 7600),
    m('nodicorn@main', 3, 9000, 4500),
    m('gunicorn sync', 3, 0, 0), // nothing to divide by: left out
  ];
  // a comparedWith scenario is ignored when the runs are paired
  const s = summarizeScenario({ name: 'readers', servers, comparedWith: 'nowhere' }, measurements);
  assert.equal(s.keptAgainst, 'paired');
  assert.deepEqual(
    s.kept?.map((k) => [k.server, k.kept, k.perRound?.min, k.perRound?.max, k.perRound?.n]),
    [
      ['nodicorn', 0.95, 0.9, 1, 3],
      ['nodicorn@main', 0.5, 0.25, 0.5, 3],
      ['gunicorn sync', 0, 0, 0, 2],
    ],
  );
  assert.match(
    scenarioTable(s),
    /nodicorn 95 % \(per round 90–100 %\), nodicorn@main 50 % \(per round 25–50 %\)/,
  );
  // the headline puts nodicorn@main beside nodicorn
  const table = headlineTable([s]);
  assert.match(
    table,
    /^\| scenario \| nodicorn req\/s \| nodicorn@main req\/s \| ÷ nodicorn@main \(per round\) \|/,
  );
  assert.match(table, /\| readers \| 7,600 \| 4,500 \| 1\.69 \(1\.69–2\.50\) \| – \(sync\) \|/);
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
