/**
 * The bench's wrk parser and its median/min/max helper, on outputs captured from wrk 4.1.0 (Debian) against
 * small node:http servers: one answering every third request 404, one dropping every 50th connection, one
 * slower than wrk's --timeout. Nothing here is timed and nothing runs wrk.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cpuPerRequest, type Measurement, ratioLine, summarizeScenario } from '../../../bench/report.js';
import { median, summarize } from '../../../bench/stats.js';
import { parseBytes, parseCount, parseDuration, parseWrk, type WrkRun } from '../../../bench/wrk.js';

// wrk -t1 -c64 -d2s --latency (a hello server)
const HELLO_LATENCY = `Running 2s test @ http://127.0.0.1:19101/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.55ms    5.60ms  72.84ms   96.82%
    Req/Sec    37.11k    10.86k   43.93k    85.00%
  Latency Distribution
     50%    1.51ms
     75%    1.69ms
     90%    2.66ms
     99%   35.91ms
  73669 requests in 2.00s, 11.73MB read
Requests/sec:  36766.81
Transfer/sec:      5.86MB
`;

// wrk -t2 -c16 -d2s (no --latency)
const HELLO_PLAIN = `Running 2s test @ http://127.0.0.1:19101/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   459.10us  506.86us   9.89ms   95.69%
    Req/Sec    20.26k     3.42k   23.67k    88.10%
  84611 requests in 2.10s, 13.48MB read
Requests/sec:  40256.08
Transfer/sec:      6.41MB
`;

// every third answer a 404
const NON_2XX = `Running 2s test @ http://127.0.0.1:19102/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   397.44us    1.28ms  26.84ms   96.15%
    Req/Sec    38.71k    12.56k   46.37k    85.00%
  Latency Distribution
     50%  146.00us
     75%  275.00us
     90%  462.00us
     99%    4.33ms
  76843 requests in 2.00s, 9.43MB read
  Non-2xx or 3xx responses: 25614
Requests/sec:  38409.79
Transfer/sec:      4.71MB
`;

// every 50th connection destroyed
const READ_ERRORS = `Running 2s test @ http://127.0.0.1:19103/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   429.33us    1.00ms  22.79ms   95.45%
    Req/Sec    29.37k    10.85k   37.58k    80.00%
  Latency Distribution
     50%  197.00us
     75%  331.00us
     90%  732.00us
     99%    3.97ms
  58240 requests in 2.00s, 6.89MB read
  Socket errors: connect 0, read 1188, write 0, timeout 0
Requests/sec:  29076.59
Transfer/sec:      3.44MB
`;

// wrk -t1 -c8 -d4s --timeout 2s --latency against answers taking 1.1 s or 2.5 s (wrk pads "s" with a space)
const SLOW_TIMEOUTS = `Running 4s test @ http://127.0.0.1:19104/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.11s     6.70ms   1.12s    50.00%
    Req/Sec     5.86      2.85    10.00     71.43%
  Latency Distribution
     50%    1.11s 
     75%    1.11s 
     90%    1.12s 
     99%    1.12s 
  19 requests in 4.02s, 2.30KB read
  Socket errors: connect 0, read 0, write 0, timeout 3
Requests/sec:      4.73
Transfer/sec:     586.53B
`;

const REFUSED = 'unable to connect to 127.0.0.1:19199 Connection refused\n';

const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} is not ${expected}`);

test('a --latency report: totals, thread stats, every percentile, no errors', () => {
  const r = parseWrk(HELLO_LATENCY);
  assert.equal(r.threads, 1);
  assert.equal(r.connections, 64);
  assert.equal(r.requests, 73669);
  assert.equal(r.seconds, 2);
  assert.equal(r.requestsPerSec, 36766.81);
  close(r.bytesRead, 11.73 * 1024 * 1024);
  close(r.transferPerSec, 5.86 * 1024 * 1024);
  assert.deepEqual(r.latency, { avg: 2.55, stdev: 5.6, max: 72.84 });
  assert.deepEqual(r.threadRequestsPerSec, { avg: 37110, stdev: 10860, max: 43930 });
  assert.deepEqual(r.percentiles, { '50': 1.51, '75': 1.69, '90': 2.66, '99': 35.91 });
  assert.equal(r.p50, 1.51);
  assert.equal(r.p99, 35.91);
  assert.equal(r.non2xx, 0);
  assert.deepEqual(r.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 });
  assert.equal(r.errors, 0);
});

test('a report without --latency: microsecond stats, no percentiles', () => {
  const r = parseWrk(HELLO_PLAIN);
  assert.equal(r.threads, 2);
  assert.equal(r.connections, 16);
  assert.equal(r.requests, 84611);
  assert.equal(r.seconds, 2.1);
  assert.equal(r.requestsPerSec, 40256.08);
  close(r.latency.avg, 0.4591);
  close(r.latency.stdev, 0.50686);
  assert.equal(r.latency.max, 9.89);
  assert.deepEqual(r.percentiles, {});
  assert.ok(Number.isNaN(r.p50));
  assert.ok(Number.isNaN(r.p99));
  assert.equal(r.errors, 0);
});

test('"Non-2xx or 3xx responses" counts as errors, apart from socket errors', () => {
  const r = parseWrk(NON_2XX);
  assert.equal(r.non2xx, 25614);
  assert.deepEqual(r.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 });
  assert.equal(r.errors, 25614);
  close(r.p50, 0.146);
  assert.equal(r.p99, 4.33);
});

test('"Socket errors" are read field by field', () => {
  const r = parseWrk(READ_ERRORS);
  assert.equal(r.non2xx, 0);
  assert.deepEqual(r.socketErrors, { connect: 0, read: 1188, write: 0, timeout: 0 });
  assert.equal(r.errors, 1188);
  assert.equal(r.requestsPerSec, 29076.59);
});

test('seconds, plain counts, kilobytes and bytes, timeouts', () => {
  const r = parseWrk(SLOW_TIMEOUTS);
  assert.deepEqual(r.latency, { avg: 1110, stdev: 6.7, max: 1120 });
  assert.deepEqual(r.threadRequestsPerSec, { avg: 5.86, stdev: 2.85, max: 10 });
  assert.deepEqual(r.percentiles, { '50': 1110, '75': 1110, '90': 1120, '99': 1120 });
  assert.equal(r.requests, 19);
  assert.equal(r.seconds, 4.02);
  close(r.bytesRead, 2.3 * 1024);
  close(r.transferPerSec, 586.53);
  assert.deepEqual(r.socketErrors, { connect: 0, read: 0, write: 0, timeout: 3 });
  assert.equal(r.errors, 3);
});

test('output that is not a report is refused, with the output in the message', () => {
  assert.throws(() => parseWrk(REFUSED), /unable to connect/);
  assert.throws(() => parseWrk(HELLO_LATENCY.replace(/^Requests\/sec:.*$/m, '')), /Requests\/sec/);
});

test('units: us/ms/s/m durations, k/M/G counts, B/KB/MB/GB sizes', () => {
  close(parseDuration('850.00us'), 0.85);
  assert.equal(parseDuration('2.5ms'), 2.5);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('1.50m'), 90_000);
  assert.equal(parseDuration(' 1.11s '), 1110);
  assert.equal(parseCount('17'), 17);
  assert.equal(parseCount('1.23k'), 1230);
  assert.equal(parseCount('4.5M'), 4_500_000);
  assert.equal(parseCount('2G'), 2e9);
  assert.equal(parseBytes('586.53B'), 586.53);
  assert.equal(parseBytes('2KB'), 2048);
  assert.equal(parseBytes('1.5MB'), 1.5 * 1024 * 1024);
  assert.equal(parseBytes('1GB'), 1024 ** 3);
  assert.throws(() => parseDuration('fast'), /not a wrk duration/);
  assert.throws(() => parseDuration('12'), /not a wrk duration/);
  assert.throws(() => parseCount('1.2x'), /not a wrk count/);
  assert.throws(() => parseBytes('12'), /not a wrk size/);
});

test('median of odd and even counts, unsorted, without reordering the input', () => {
  const values = [30, 10, 20];
  assert.equal(median(values), 20);
  assert.deepEqual(values, [30, 10, 20]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), /no values/);
});

test('summarize: median, min, max and count, NaN left out', () => {
  assert.deepEqual(summarize([5, 1, 9, 3]), { median: 4, min: 1, max: 9, n: 4 });
  assert.deepEqual(summarize([2, Number.NaN, 8, 5]), { median: 5, min: 2, max: 8, n: 3 });
  const none = summarize([Number.NaN]);
  assert.equal(none.n, 0);
  assert.ok(Number.isNaN(none.median));
});

test('scenario summary: medians per server, ratio of medians and per-round ratios', () => {
  const run = (output: string): WrkRun => ({ command: 'wrk', output, result: parseWrk(output) });
  const withRps = (rps: number) => HELLO_LATENCY.replace('36766.81', String(rps));
  // Each run completed 73669 requests (the captured report); CPU seconds chosen per server.
  const m = (server: string, round: number, rps: number, cpu = 0.73669): Measurement => ({
    scenario: 's',
    server,
    round,
    sequence: 0,
    serverCommand: server,
    cwd: '/',
    run: run(withRps(rps)),
    serverCpu: { user: cpu * 0.75, system: cpu * 0.25 },
  });
  const measurements = [
    m('a', 1, 900, 1.47338),
    m('b', 1, 1000),
    m('b', 2, 1250),
    m('a', 2, 1000, 1.47338),
    m('a', 3, 800, 2.21007),
    m('b', 3, 1000, 1.47338),
  ];
  const s = summarizeScenario(
    {
      name: 's',
      servers: [
        { name: 'a', role: 'nodicorn' },
        { name: 'b', role: 'baseline' },
      ],
    },
    measurements,
  );
  assert.deepEqual(s.servers[0]!.requestsPerSec, { median: 900, min: 800, max: 1000, n: 3 });
  assert.deepEqual(s.servers[1]!.requestsPerSec, { median: 1000, min: 1000, max: 1250, n: 3 });
  assert.equal(s.ratios[0]!.ratio, 0.9);
  assert.deepEqual(s.ratios[0]!.perRound, { median: 0.8, min: 0.8, max: 0.9, n: 3 });
  close(s.servers[0]!.cpuPerRequest.median, 20);
  close(s.servers[0]!.cpuPerRequest.max, 30);
  close(s.servers[1]!.cpuPerRequest.median, 10);
  close(s.ratios[0]!.cpuRatio, 2);
  close(cpuPerRequest(measurements[1]!), 10);
  assert.equal(ratioLine(s.ratios[0]!), 'a / b: 0.90 (per round 0.80–0.90); server CPU per request ×2.00');
});
