import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reasonFor } from '../../../src/http/reason-phrases.js';
import { reasonPhrase } from '../../../src/server/response-writer.js';

test("the server's own answers take their reason phrases from the one RFC 9110 table", () => {
  for (const code of [400, 404, 405, 408, 413, 414, 416, 417, 429, 431, 500, 501, 502, 503, 504, 505])
    assert.equal(reasonPhrase(code), reasonFor(code), String(code));
  assert.equal(reasonPhrase(429), 'Too Many Requests');
  // An unregistered code still gets a phrase a status line can carry.
  assert.equal(reasonPhrase(599), 'Error');
});
