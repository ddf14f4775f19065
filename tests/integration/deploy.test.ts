/**
 * docs/deploy.md, run: its Nginx and Apache blocks (read out of the Markdown, placeholders replaced) in
 * front of nodicorn serving examples/echo.py, over TCP and over a Unix socket, with real TLS at the proxy.
 * The client connects from 127.0.0.2 while the proxies reach nodicorn from 127.0.0.1 (or a Unix socket),
 * so REMOTE_ADDR = 127.0.0.2 shows that X-Forwarded-For was applied, not merely ignored.
 *
 * Two nodicorns per transport: one with the default --forwarded-trust (for,proto), behind the usual Nginx
 * server block, where a client's own X-Forwarded-Host and -Prefix must change nothing (issue 11 point 3);
 * and one with `--forwarded-trust for,proto,host,prefix`, behind the blocks that set those headers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { block, docBlocks, substitute } from '../helpers/doc-blocks.js';
import { get } from '../helpers/load.js';
import { examples, repoRoot } from '../helpers/paths.js';
import {
  APACHE,
  asRoot,
  freePort,
  missing,
  NGINX,
  type RunningProxy,
  startApache,
  startNginx,
  WEB_USER,
} from '../helpers/proxies.js';
import { type RunningNodicorn, startNodicorn, withNodicorn } from '../helpers/server.js';
import { makeCertificate } from '../helpers/tls.js';

const CLIENT = '127.0.0.2';
const HOST = 'example.com:8443';
/** What a client may send to pass itself off as someone else; the documented configs must defeat it. */
const SPOOFED = {
  'X-Forwarded-For': '6.6.6.6',
  'X-Forwarded-Proto': 'http',
  'X-Forwarded-Host': 'evil.example',
  'X-Forwarded-Prefix': '/evil',
  Forwarded: 'for=6.6.6.6;proto=http;host=evil.example',
};

type Environ = Record<string, unknown>;

// First, so that on CI a missing proxy throws before anything is made.
const skipNginx = missing(NGINX);
const skipApache = missing(APACHE);
// Under /tmp rather than $TMPDIR: www-data must be able to traverse every directory above the socket.
const dir = mkdtempSync('/tmp/nodicorn-deploy-');
const socketPath = join(dir, 'nodicorn.sock');
let cert: string;
let key: string;
const blocks = docBlocks(`${repoRoot}docs/deploy.md`);
const fullSocketPath = join(dir, 'nodicorn-full.sock');
/** What the documented prefix and Apache configurations run nodicorn with. */
const FULL_TRUST = ['--forwarded-trust', 'for,proto,host,prefix'];
let tcp: RunningNodicorn;
let unix: RunningNodicorn;
let tcpFull: RunningNodicorn;
let unixFull: RunningNodicorn;

before(async () => {
  if (skipNginx && skipApache) return;
  // The proxies' workers (www-data when we are root) open the socket and write temporary files here.
  chmodSync(dir, 0o755);
  ({ cert, key } = makeCertificate('', 'example.com', dir));
  const app = ['--chdir', examples, 'echo:application'];
  [tcp, unix, tcpFull, unixFull] = await Promise.all([
    startNodicorn(app),
    startNodicorn(app, { bind: [`unix:${socketPath}`] }),
    startNodicorn([...FULL_TRUST, ...app]),
    startNodicorn([...FULL_TRUST, ...app], { bind: [`unix:${fullSocketPath}`] }),
  ]);
  // As the documented socket unit makes it: owned by root, group www-data, mode 0660 (nodicorn's own
  // mode too, so only the owner changes).
  for (const path of [socketPath, fullSocketPath]) if (asRoot) chownSync(path, 0, gid(WEB_USER));
});

after(async () => {
  await Promise.all([tcp?.stop(), unix?.stop(), tcpFull?.stop(), unixFull?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function gid(group: string): number {
  return Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
}

const certs = (text: string) =>
  substitute(text, { '/etc/ssl/certs/example.com.pem': cert, '/etc/ssl/private/example.com.key': key });

type Trust = 'default' | 'full';

/** The nodicorn each configuration is documented for: the default trust, or `FULL_TRUST`. */
function upstreamOf(upstream: 'tcp' | 'unix', trust: Trust): { port: number; path: string } {
  if (upstream === 'tcp') return { port: (trust === 'default' ? tcp : tcpFull).port, path: '' };
  return { port: 0, path: trust === 'default' ? socketPath : fullSocketPath };
}

function nginxConfig(upstream: 'tcp' | 'unix', trust: Trust, port: number): string {
  const to = upstreamOf(upstream, trust);
  const backend =
    upstream === 'tcp'
      ? substitute(block(blocks, 'nginx-upstream-tcp'), { '127.0.0.1:8000': `127.0.0.1:${to.port}` })
      : substitute(block(blocks, 'nginx-upstream-unix'), { '/run/nodicorn/nodicorn.sock': to.path });
  const server = substitute(
    certs(block(blocks, trust === 'default' ? 'nginx-server' : 'nginx-server-prefix')),
    {
      'listen 443 ssl': `listen 127.0.0.1:${port} ssl`,
    },
  );
  return `${backend}\n${server}`;
}

function apacheConfig(upstream: 'tcp' | 'unix', port: number): string {
  const to = upstreamOf(upstream, 'full');
  const backend =
    upstream === 'tcp'
      ? substitute(block(blocks, 'apache-backend-tcp'), { '127.0.0.1:8000': `127.0.0.1:${to.port}` })
      : substitute(block(blocks, 'apache-backend-unix'), { '/run/nodicorn/nodicorn.sock': to.path });
  const vhost = substitute(certs(block(blocks, 'apache-vhost')), { '*:443': `*:${port}` });
  return `${backend}\n${vhost}`;
}

/** GET over HTTPS from 127.0.0.2 with the Host the client chose; the echo app's environ. */
function getThrough(port: number, path: string, headers: Record<string, string> = {}): Promise<Environ> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: '127.0.0.1',
        port,
        path,
        localAddress: CLIENT,
        servername: 'example.com',
        rejectUnauthorized: false,
        agent: false,
        headers: { Host: HOST, ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`${path}: status ${res.statusCode}: ${body}`));
          else resolve((JSON.parse(body) as { environ: Environ }).environ);
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${path}: timed out`)));
  });
}

/**
 * What every documented proxy configuration must give the application. `trust`: whether this nodicorn
 * believes X-Forwarded-Host and -Prefix (and the configuration sets them, with the app under /app/).
 */
async function checkProxy(proxy: RunningProxy, trust: Trust): Promise<void> {
  const detail = () =>
    `\nproxy log:\n${proxy.log()}\nnodicorn log:\n${[tcp, unix, tcpFull, unixFull].map((n) => n.log()).join('')}`;

  const env = await getThrough(proxy.port, '/hello?x=1');
  assert.equal(env['wsgi.url_scheme'], 'https', `scheme, from X-Forwarded-Proto${detail()}`);
  assert.equal(env.REMOTE_ADDR, CLIENT, 'the client address, from X-Forwarded-For');
  assert.equal(env.REMOTE_PORT, undefined, 'the proxy’s port is not the client’s');
  assert.equal(env.HTTP_HOST, HOST, 'Host as the client sent it');
  assert.deepEqual([env.SERVER_NAME, env.SERVER_PORT], ['example.com', '8443']);
  assert.deepEqual([env.SCRIPT_NAME, env.PATH_INFO, env.QUERY_STRING], ['', '/hello', 'x=1']);

  // The proxies append to the client's X-Forwarded-For and nodicorn takes the last entry, theirs. A
  // client's X-Forwarded-Host and -Prefix either reach a nodicorn that does not believe them (the usual
  // Nginx config passes them on) or are replaced by the proxy's own.
  const spoofed = await getThrough(proxy.port, '/hello', SPOOFED);
  assert.equal(
    spoofed.HTTP_X_FORWARDED_FOR,
    `6.6.6.6, ${CLIENT}`,
    'the client’s list, then the proxy’s entry',
  );
  assert.equal(spoofed.REMOTE_ADDR, CLIENT, 'a client-made X-Forwarded-For entry is not used');
  assert.equal(spoofed.HTTP_FORWARDED, undefined, 'Forwarded from the client is not passed on');
  assert.equal(spoofed['wsgi.url_scheme'], 'https');
  assert.equal(spoofed.HTTP_HOST, HOST, 'a client-made X-Forwarded-Host is not used');
  assert.deepEqual([spoofed.SERVER_NAME, spoofed.SERVER_PORT], ['example.com', '8443']);
  assert.equal(spoofed.SCRIPT_NAME, '', 'a client-made X-Forwarded-Prefix is not used');
  if (trust === 'default')
    assert.deepEqual(
      [spoofed.HTTP_X_FORWARDED_HOST, spoofed.HTTP_X_FORWARDED_PREFIX],
      [undefined, undefined],
      'headers nodicorn does not believe are not left for the app to believe',
    );
  if (trust === 'default') return;

  const mounted = await getThrough(proxy.port, '/app/hello/world?y=2', SPOOFED);
  assert.deepEqual(
    [mounted.SCRIPT_NAME, mounted.PATH_INFO, mounted.QUERY_STRING],
    ['/app', '/hello/world', 'y=2'],
    'under /app/: the prefix from X-Forwarded-Prefix',
  );
  assert.equal(mounted.REMOTE_ADDR, CLIENT);
  assert.equal(mounted['wsgi.url_scheme'], 'https');
  assert.deepEqual([mounted.HTTP_HOST, mounted.SERVER_NAME], [HOST, 'example.com']);
}

async function withProxy(
  start: (dir: string, port: number) => Promise<RunningProxy>,
  name: string,
  trust: Trust,
): Promise<void> {
  const proxyDir = mkdtempSync(join(dir, `${name}-`));
  chmodSync(proxyDir, 0o755);
  const proxy = await start(proxyDir, await freePort());
  try {
    await checkProxy(proxy, trust);
  } finally {
    await proxy.stop();
  }
}

for (const upstream of ['tcp', 'unix'] as const) {
  const over = upstream === 'tcp' ? 'over TCP' : 'over the Unix socket';
  test(
    `nginx (TLS) → nodicorn ${over}, usual config: a client's X-Forwarded-Host/-Prefix change nothing`,
    { skip: skipNginx },
    () =>
      withProxy(
        (d, port) => startNginx(d, port, nginxConfig(upstream, 'default', port)),
        `nginx-${upstream}`,
        'default',
      ),
  );
  test(
    `nginx (TLS) → nodicorn ${over}, prefix config and --forwarded-trust host,prefix: the proxy's apply`,
    { skip: skipNginx },
    () =>
      withProxy(
        (d, port) => startNginx(d, port, nginxConfig(upstream, 'full', port)),
        `nginx-prefix-${upstream}`,
        'full',
      ),
  );
  test(
    `Apache mod_proxy_http (TLS) → nodicorn ${over}, with the documented config`,
    { skip: skipApache },
    () =>
      withProxy(
        (d, port) => startApache(d, port, apacheConfig(upstream, port)),
        `apache-${upstream}`,
        'full',
      ),
  );
}

test('proxy headers from a peer not in --forwarded-allow-ips are ignored and removed', async () => {
  await withNodicorn(
    ['--forwarded-allow-ips', '10.9.9.9', '--chdir', examples, 'echo:application'],
    async (server) => {
      const env = (JSON.parse((await get(server.port, '/direct', SPOOFED)).body) as { environ: Environ })
        .environ;
      assert.equal(env.REMOTE_ADDR, '127.0.0.1');
      assert.equal(env['wsgi.url_scheme'], 'http');
      assert.equal(env.SCRIPT_NAME, '');
      assert.equal(env.HTTP_HOST, `127.0.0.1:${server.port}`);
      const proxyKeys = Object.keys(env).filter((k) => /^HTTP_(X_FORWARDED_|FORWARDED$)/.test(k));
      assert.deepEqual(proxyKeys, [], 'the app never sees the untrusted proxy headers');
    },
  );
});
