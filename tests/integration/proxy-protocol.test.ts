/**
 * `--proxy-protocol`: raw sockets send PROXY v1 and v2 headers, then requests; the echo apps report the
 * REMOTE_ADDR they saw. Connections without a valid header, or from peers outside --proxy-allow-from, are
 * closed before any request reaches the application.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { V2_SIGNATURE } from '../../src/http/proxy-protocol.js';
import { examples, repoRoot } from '../helpers/paths.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type RunningNodicorn, startNodicorn, withNodicorn } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

const TS_ECHO = `${repoRoot}dist/examples/echo.js:app`;
const GET = 'GET /who HTTP/1.1\r\nHost: app.example\r\n\r\n';

/** v2 PROXY header (ver 2, cmd `command`) over INET or INET6 with the given address block and TLVs. */
function v2(command: number, family: number, block: number[], tlvs: number[] = []): Buffer {
  const tail = [...block, ...tlvs];
  return Buffer.from([
    ...V2_SIGNATURE,
    0x20 | command,
    (family << 4) | 1,
    tail.length >> 8,
    tail.length & 0xff,
    ...tail,
  ]);
}
const INET = [203, 0, 113, 7, 192, 0, 2, 1, 0xdc, 0x04, 0x01, 0xbb];
const INET6 = [
  ...[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7],
  ...[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  0x30,
  0x39,
  0x01,
  0xbb,
];

/** The environs in a raw reply (one JSON body per response). */
function environs(text: string): Record<string, string>[] {
  return [...text.matchAll(/\r\n\r\n(\{.*?\})(?=HTTP\/1\.1|$)/gs)].map(
    (m) => (JSON.parse(m[1]!) as { environ: Record<string, string> }).environ,
  );
}

async function environOver(port: number, header: string | Buffer, request = GET) {
  const payload = Buffer.concat([
    typeof header === 'string' ? Buffer.from(header, 'latin1') : header,
    Buffer.from(request, 'latin1'),
  ]);
  const reply = await rawRequest(port, payload, 1000, '127.0.0.1', false, (t) => t.endsWith('}'));
  const [env] = environs(reply.text);
  assert.ok(env !== undefined, `no response in ${JSON.stringify(reply.text.slice(0, 200))}`);
  return env;
}

/** Sends `payload` and expects the connection closed with not one byte of response. */
async function assertClosedSilently(port: number, payload: string | Buffer, idleMs = 3000) {
  const reply = await rawRequest(port, payload, idleMs);
  assert.equal(reply.text, '', 'no response at all');
  assert.ok(reply.closedByServer, 'the server closed the connection');
}

describe('PROXY protocol in front of a TypeScript app', () => {
  let server: RunningNodicorn;
  before(async () => {
    server = await startNodicorn([
      '--proxy-protocol',
      '--header-timeout',
      '1',
      '--log-level',
      'debug',
      TS_ECHO,
    ]);
  });
  after(() => server.stop());

  test('v1 TCP4: the header source becomes REMOTE_ADDR/REMOTE_PORT; SERVER_NAME stays the Host', async () => {
    const env = await environOver(server.port, 'PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\n');
    assert.equal(env.REMOTE_ADDR, '203.0.113.7');
    assert.equal(env.REMOTE_PORT, '56324');
    assert.equal(env.SERVER_NAME, 'app.example');
    assert.equal(env['wsgi.url_scheme'], 'http');
    // Gunicorn's keys: the proxy side of the relayed connection.
    assert.deepEqual([env.PROXY_PROTOCOL, env.PROXY_ADDR, env.PROXY_PORT], ['TCP4', '192.0.2.1', '443']);
  });

  test('v1 TCP6 and v2 INET / INET6', async () => {
    const six = await environOver(server.port, 'PROXY TCP6 2001:db8::7 2001:db8::1 1234 443\r\n');
    assert.equal(six.REMOTE_ADDR, '2001:db8::7');
    const four = await environOver(server.port, v2(1, 1, INET));
    assert.deepEqual([four.REMOTE_ADDR, four.REMOTE_PORT], ['203.0.113.7', '56324']);
    const v6 = await environOver(server.port, v2(1, 2, INET6));
    assert.deepEqual([v6.REMOTE_ADDR, v6.REMOTE_PORT], ['2001:db8::7', '12345']);
    assert.deepEqual([v6.PROXY_PROTOCOL, v6.PROXY_ADDR, v6.PROXY_PORT], ['TCP6', '2001:db8::1', '443']);
  });

  test('v1 UNKNOWN and v2 LOCAL keep the real peer', async () => {
    for (const header of ['PROXY UNKNOWN\r\n', v2(0, 0, [])]) {
      const env = await environOver(server.port, header);
      assert.equal(env.REMOTE_ADDR, '127.0.0.1');
      assert.ok(!('PROXY_ADDR' in env) && !('PROXY_PROTOCOL' in env), 'no PROXY_* keys without addresses');
    }
  });

  test('v2 PP2_TYPE_SSL with the client-SSL flag: the client spoke HTTPS to the proxy', async () => {
    const ssl = [0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0];
    assert.equal((await environOver(server.port, v2(1, 1, INET, ssl)))['wsgi.url_scheme'], 'https');
  });

  test('one header serves every request of a keep-alive connection', async () => {
    const header = 'PROXY TCP4 198.51.100.2 192.0.2.1 40000 80\r\n';
    const reply = await rawRequest(server.port, header + GET + GET, 1000, '127.0.0.1', false, (t) =>
      /\}HTTP\/1\.1[\s\S]*\}$/.test(t),
    );
    assert.deepEqual(
      environs(reply.text).map((e) => e.REMOTE_ADDR),
      ['198.51.100.2', '198.51.100.2'],
    );
  });

  test('a header that arrives in pieces is still read', async () => {
    const env = await new Promise<Record<string, string>>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (text.endsWith('}')) {
          socket.destroy();
          resolve(environs(text)[0]!);
        }
      });
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
      const header = v2(1, 1, INET);
      socket.write(header.subarray(0, 5));
      setTimeout(() => socket.write(header.subarray(5, 14)), 50);
      setTimeout(() => socket.write(Buffer.concat([header.subarray(14), Buffer.from(GET)])), 100);
    });
    assert.equal(env.REMOTE_ADDR, '203.0.113.7');
  });

  test('no header, a malformed one, a truncated one: closed without a response', async () => {
    await assertClosedSilently(server.port, GET);
    await assertClosedSilently(server.port, 'PROXY TCP4 203.0.113.7 192.0.2.1 99999 443\r\n' + GET);
    await assertClosedSilently(server.port, Buffer.concat([v2(1, 1, INET).subarray(0, 20)]));
    await assertClosedSilently(server.port, 'PROXY TCP4 203.0.113.7');
    await server.waitForLog('no complete PROXY header in time');
    await server.waitForLog('does not start with a PROXY protocol header');
    await server.waitForLog('bad port in PROXY v1 line');
  });

  test('--forwarded-allow-ips is checked against the PROXY source, so a relayed client cannot spoof', async () => {
    const spoof = 'GET /who HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n';
    const untrusted = await environOver(server.port, 'PROXY TCP4 203.0.113.7 192.0.2.1 1 80\r\n', spoof);
    assert.equal(untrusted.REMOTE_ADDR, '203.0.113.7');
    assert.equal(untrusted.HTTP_X_FORWARDED_FOR, undefined);
    const trusted = await environOver(server.port, 'PROXY TCP4 127.0.0.1 192.0.2.1 1 80\r\n', spoof);
    assert.equal(trusted.REMOTE_ADDR, '10.9.9.9');
  });
});

test('a peer outside --proxy-allow-from is closed before anything is read', async () => {
  await withNodicorn(
    ['--proxy-protocol', '--proxy-allow-from', '10.0.0.0/8', '--log-level', 'debug', TS_ECHO],
    async (server) => {
      await assertClosedSilently(server.port, 'PROXY TCP4 203.0.113.7 192.0.2.1 1 80\r\n' + GET, 1000);
      await server.waitForLog('not in --proxy-allow-from');
    },
  );
});

test('SIGTERM closes a connection still waiting for its PROXY header; the server exits at once', async () => {
  // Both timeouts far beyond stop()'s 10 s: were the waiting connection kept, the server would be killed.
  const args = ['--proxy-protocol', '--header-timeout', '120', '--graceful-timeout', '120', TS_ECHO];
  const server = await startNodicorn(args);
  const waiting = connect(server.port, '127.0.0.1');
  try {
    const closed = new Promise<void>((resolve) => waiting.once('close', () => resolve()));
    waiting.on('error', () => {});
    await new Promise<void>((resolve) => waiting.once('connect', () => resolve()));
    waiting.write('PROXY TCP4 203.0.113.7');
    // A served connection opened after it: the waiting one was accepted before (one listen queue).
    assert.equal((await environOver(server.port, v2(1, 1, INET))).REMOTE_ADDR, '203.0.113.7');
    assert.equal(await server.stop('SIGTERM', 10_000), 0);
    await closed;
  } finally {
    waiting.destroy();
    await server.stop();
  }
});

test('a Python app sees the PROXY source as REMOTE_ADDR', async () => {
  await withNodicorn(['--proxy-protocol', '--chdir', examples, 'echo:application'], async (server) => {
    const env = await environOver(server.port, v2(1, 1, INET));
    assert.deepEqual([env.REMOTE_ADDR, env.REMOTE_PORT], ['203.0.113.7', '56324']);
    assert.deepEqual([env.PROXY_PROTOCOL, env.PROXY_ADDR, env.PROXY_PORT], ['TCP4', '192.0.2.1', '443']);
    const v1 = await environOver(server.port, 'PROXY TCP6 2001:db8::9 2001:db8::1 7 443\r\n');
    assert.equal(v1.REMOTE_ADDR, '2001:db8::9');
  });
});

describe('PROXY protocol before TLS (HTTP/1.1 and HTTP/2)', () => {
  const { cert, key } = makeCertificate('nodicorn-proxy-tls-');
  let server: RunningNodicorn;
  before(async () => {
    server = await startNodicorn([
      '--proxy-protocol',
      '--certfile',
      cert,
      '--keyfile',
      key,
      '--http2',
      TS_ECHO,
    ]);
  });
  after(() => server.stop());

  /** A TCP connection that sends `header`, then TLS on top of it offering `alpn`. */
  function proxiedTls(header: string | Buffer, alpn: string[]): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const raw = connect(server.port, '127.0.0.1', () => {
        raw.write(header);
        const secure = tls.connect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: alpn }, () =>
          resolve(secure),
        );
        secure.on('error', reject);
      });
      raw.on('error', reject);
    });
  }

  test('HTTP/1.1 over TLS: REMOTE_ADDR from the header, wsgi.url_scheme https', async () => {
    const secure = await proxiedTls('PROXY TCP4 203.0.113.8 192.0.2.1 5555 443\r\n', ['http/1.1']);
    const text = await new Promise<string>((resolve) => {
      let out = '';
      secure.on('data', (c: Buffer) => {
        out += c.toString('latin1');
        if (out.endsWith('}')) resolve(out);
      });
      secure.setTimeout(5000, () => resolve(out));
      secure.write(GET);
    });
    secure.destroy();
    const [env] = environs(text);
    assert.equal(env?.REMOTE_ADDR, '203.0.113.8');
    assert.equal(env?.['wsgi.url_scheme'], 'https');
  });

  test('HTTP/2 over TLS: REMOTE_ADDR from the header', async () => {
    const secure = await proxiedTls(v2(1, 1, INET), ['h2']);
    const session = http2.connect('https://app.example', { createConnection: () => secure });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': '/h2' });
        let out = '';
        stream.on('data', (c: Buffer) => (out += c.toString()));
        stream.on('end', () => resolve(out));
        stream.on('error', reject);
      });
      const env = (JSON.parse(body) as { environ: Record<string, string> }).environ;
      assert.equal(env.SERVER_PROTOCOL, 'HTTP/2');
      assert.equal(env.REMOTE_ADDR, '203.0.113.7');
    } finally {
      session.destroy();
    }
  });
});
