/** HTTPS with --certfile/--keyfile, and client certificates with --ca-certs/--cert-reqs. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { withNodicorn } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

const { cert, key } = makeCertificate();

function getJson(
  port: number,
  extra: https.RequestOptions = {},
): Promise<{ environ: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: '/tls', rejectUnauthorized: false, agent: false, ...extra },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(JSON.parse(body) as { environ: Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

test('HTTPS: the app sees wsgi.url_scheme https', async () => {
  await withNodicorn(
    ['--certfile', cert, '--keyfile', key, `${repoRoot}dist/examples/echo.js:app`],
    async (server) => {
      assert.match(server.log(), /Listening at: https:\/\/127\.0\.0\.1:\d+/);
      const { environ } = await getJson(server.port);
      assert.equal(environ['wsgi.url_scheme'], 'https');
      assert.equal(environ.PATH_INFO, '/tls');
    },
  );
});

test('--cert-reqs 2: a client without a certificate is refused, one with a trusted certificate served', async () => {
  await withNodicorn(
    [
      '--certfile',
      cert,
      '--keyfile',
      key,
      '--ca-certs',
      cert,
      '--cert-reqs',
      '2',
      `${repoRoot}dist/examples/echo.js:app`,
    ],
    async (server) => {
      await assert.rejects(getJson(server.port));
      const { environ } = await getJson(server.port, { cert: readFileSync(cert), key: readFileSync(key) });
      assert.equal(environ['wsgi.url_scheme'], 'https');
    },
  );
});
