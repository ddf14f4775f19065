import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizePrefix, parseStatsdAddress } from '../../../src/observability/statsd.js';

test("StatsD addresses: HOST:PORT, HOST (Gunicorn's 8125), [IPv6]:PORT; unix: refused with the reason", () => {
  assert.deepEqual(parseStatsdAddress('localhost:9125'), { host: 'localhost', port: 9125 });
  assert.deepEqual(parseStatsdAddress('statsd.internal'), { host: 'statsd.internal', port: 8125 });
  assert.deepEqual(parseStatsdAddress('[::1]:9000'), { host: '::1', port: 9000 });
  assert.throws(() => parseStatsdAddress('unix:/run/statsd.sock'), /Node has no Unix datagram sockets/);
  assert.throws(() => parseStatsdAddress('host:port'), /expected HOST:PORT/);
  assert.throws(() => parseStatsdAddress('::1:9000'), /expected HOST:PORT/);
  assert.throws(() => parseStatsdAddress(':9000'), /expected HOST:PORT/);
});

test('a prefix ends with exactly one dot, as in Gunicorn', () => {
  assert.equal(normalizePrefix(''), '');
  assert.equal(normalizePrefix('web'), 'web.');
  assert.equal(normalizePrefix('web.'), 'web.');
  assert.equal(normalizePrefix('app.web..'), 'app.web.');
});
