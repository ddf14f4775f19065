import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, parseCount, parseDuration, parseWrk } from '../../../bench/wrk.js';

const WITH_LATENCY = `Running 5s test @ http://127.0.0.1:8000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  510.33us  12.95ms   85.12%
    Req/Sec    30.61k     1.02k   32.46k    70.00%
  Latency Distribution
     50%    2.01ms
     75%  850.00us
     90%    2.61ms
     99%    1.20s
  152341 requests in 5.00s, 21.79MB read
  Non-2xx or 3xx responses: 12
  Socket errors: connect 0, read 3, write 1, timeout 2
Requests/sec:  30465.38
Transfer/sec:      4.36MB
`;

const PLAIN = `Running 2s test @ http://127.0.0.1:8000/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   320.11us   80.00us   2.00ms   90.00%
    Req/Sec     1.23M     0.00     1.23M   100.00%
  60000 requests in 2.00s, 8.00MB read
Requests/sec:  29990.12
Transfer/sec:      4.00MB
`;

test('parses requests/sec, totals, percentiles in every unit, and errors', () => {
  const r = parseWrk(WITH_LATENCY);
  assert.equal(r.requestsPerSec, 30465.38);
  assert.equal(r.requests, 152341);
  assert.equal(r.p50, 2.01);
  assert.equal(r.p99, 1200);
  assert.equal(r.errors, 12 + 3 + 1 + 2);
});

test('output without --latency or errors', () => {
  const r = parseWrk(PLAIN);
  assert.equal(r.requestsPerSec, 29990.12);
  assert.equal(r.errors, 0);
  assert.ok(Number.isNaN(r.p99));
});

test('units and suffixes', () => {
  assert.equal(parseDuration('850.00us'), 0.85);
  assert.equal(parseDuration('2.5ms'), 2.5);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseCount('1.23k'), 1230);
  assert.equal(parseCount('4.5M'), 4_500_000);
  assert.equal(parseCount('17'), 17);
  assert.throws(() => parseDuration('fast'));
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:8000 Connection refused'));
});

test('median of odd and even counts', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});
