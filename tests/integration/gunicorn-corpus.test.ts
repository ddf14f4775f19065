/**
 * Gunicorn's request corpus replayed against nodicorn serving the TypeScript echo app and the Python echo
 * app: every valid request must reach the app exactly as Gunicorn parses it (method, path, query, headers,
 * body), every invalid one must be refused, and the server must keep answering.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadCorpus, replay } from '../helpers/corpus.js';
import { examples, repoRoot } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn } from '../helpers/server.js';

/**
 * Valid entries nodicorn answers differently, each for a stated reason. The test asserts the stated
 * behaviour (`status`, or no answer at all), so a change in either direction is noticed.
 */
const KNOWN_DIFFERENCES: Record<string, { status: number | null; why: string }> = {
  '009': {
    status: 400,
    why: 'Transfer-Encoding with Content-Length is refused (RFC 9112 §6.1 smuggling guard, llhttp)',
  },
  '013': { status: 400, why: 'llhttp refuses whitespace around ";" in chunk extensions' },
  '025_line': {
    status: 501,
    why: 'only the chunked transfer coding is decoded; "gzip,chunked" would reach the app still gzipped',
  },
  '025': {
    status: 501,
    why: 'Transfer-Encoding "gzip" then "chunked" on two lines is the list "gzip, chunked" (RFC 9110 §5.3), as 025_line',
  },
  '029': { status: 501, why: '"identity" then "chunked" on two lines: "identity" is not a transfer coding' },
  '030': { status: 501, why: 'as 029' },
  rfc9112_smuggle_gzip_chunked_01: { status: 501, why: 'only chunked is decoded (see 025_line)' },
  rfc9112_smuggle_te_identity_chunked_01: {
    status: 501,
    why: '"identity" is not a transfer coding (RFC 9112 §7); only chunked is decoded',
  },
  '027': {
    status: 400,
    why: 'llhttp refuses raw bytes above 0x7F in the request target (RFC 3986 wants them percent-encoded)',
  },
  '031': { status: 400, why: 'llhttp accepts only registered HTTP methods, so "-BLARGH" is refused' },
  '099': {
    status: null,
    why: 'the file sends 8,599 of its declared 17,914 body bytes: a server waits for the rest',
  },
  rfc9112_target_authority_connect_01: { status: 405, why: 'CONNECT is refused: nodicorn is not a proxy' },
  rfc9112_target_authority_ipv6_01: { status: 405, why: 'CONNECT is refused: nodicorn is not a proxy' },
};

/** Invalid entries nodicorn serves, each for a stated reason (all others must be refused). */
/**
 * Invalid entries nodicorn serves, each for a stated reason (all others must be refused). None now: 008
 * (a field line of 8,191 bytes against Gunicorn's 8,190), 016 (an invalid authority) and the Host trailer
 * are refused as Gunicorn refuses them (issue 11.15).
 */
const KNOWN_ACCEPTED: Record<string, string> = {};

const corpus = loadCorpus();

for (const [backend, args] of [
  ['TypeScript', [`${repoRoot}dist/examples/echo.js:app`]],
  ['Python', ['--chdir', examples, 'echo:application']],
] as const) {
  describe(`Gunicorn corpus against the ${backend} echo app`, () => {
    let server: RunningNodicorn;
    before(async () => {
      server = await startNodicorn([...args]);
    });
    after(() => server.stop());

    for (const entry of corpus) {
      test(`${entry.kind}/${entry.name}`, async () => {
        const outcome = await replay(server.port, entry);
        const known = KNOWN_DIFFERENCES[entry.name];
        const needsSetting = Object.keys(entry.cfg).length > 0;
        if (entry.kind === 'valid' && known === undefined && !needsSetting) {
          assert.deepEqual(outcome.problems, [], JSON.stringify(outcome));
        } else if (entry.kind === 'valid' && known !== undefined) {
          const expected = known.status === null ? [] : [known.status];
          assert.deepEqual(
            outcome.statuses.slice(0, 1),
            expected,
            `${known.why}: ${JSON.stringify(outcome)}`,
          );
        } else if (needsSetting) {
          // valid or invalid only under a non-default Gunicorn setting: with defaults, either served exactly
          // or refused with a 4xx/5xx
          assert.ok(
            outcome.problems.length === 0 || outcome.statuses.every((s) => s >= 400),
            JSON.stringify(outcome),
          );
        } else if (KNOWN_ACCEPTED[entry.name] !== undefined) {
          // served (200), or dropped unanswered because the client half-closed before the worker answered
          assert.ok(
            outcome.statuses.every((s) => s === 200),
            `${KNOWN_ACCEPTED[entry.name]}: ${JSON.stringify(outcome)}`,
          );
        } else {
          assert.ok(
            outcome.statuses.every((s) => s >= 400 && s < 600),
            `invalid request answered ${JSON.stringify(outcome)}`,
          );
          assert.ok(outcome.closed, 'the connection must be closed');
        }
        const alive = await rawRequest(
          server.port,
          'GET /alive HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
        );
        assert.match(alive.text, /^HTTP\/1\.1 200 OK\r\n/);
      });
    }
  });
}
