/**
 * The real Nginx and Apache, run in the foreground from a configuration written to a temporary directory
 * (pid file, logs, temporary files and mutexes all there), listening on a free 127.0.0.1 port. Each runs
 * in its own process group, so stopping it stops its workers too; every one started is stopped when the
 * test file ends, with SIGKILL to the group as the last resort.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';

export const NGINX = '/usr/sbin/nginx';
export const APACHE = '/usr/sbin/apache2';
const APACHE_MODULES = '/usr/lib/apache2/modules';

/** As root, the proxies' workers run as Debian's web server user, as the packaged services do. */
export const asRoot = process.getuid?.() === 0;
export const WEB_USER = 'www-data';

/**
 * Why a proxy's tests cannot run here (its binary is missing), or false. On CI (CI=true) a missing binary
 * throws instead: scripts/install-system-deps.sh installs both, so a skip there would hide a broken step.
 */
export function missing(binary: string): string | false {
  if (existsSync(binary)) return false;
  const reason = `${binary} is not installed (scripts/install-system-deps.sh test installs it)`;
  if (process.env.CI === 'true') throw new Error(`on CI the proxy tests must run: ${reason}`);
  return reason;
}

export interface RunningProxy {
  readonly port: number;
  /** The proxy's error log so far (for assertion messages). */
  log(): string;
  stop(): Promise<void>;
}

const running = new Set<RunningProxy>();
after(async () => {
  await Promise.all([...running].map((proxy) => proxy.stop()));
});

/** A port the kernel just handed out; free again once closed. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

async function run(
  name: string,
  command: string,
  args: readonly string[],
  port: number,
  errorLog: string,
): Promise<RunningProxy> {
  let output = '';
  const child: ChildProcess = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = () => {
    const file = existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '';
    return `${output}${file}`;
  };
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  let stopping: Promise<void> | null = null;
  const proxy: RunningProxy = {
    port,
    log,
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) signalGroup('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
        // Workers outlive a master that died: the whole group goes, whatever happened.
        signalGroup('SIGKILL');
        running.delete(proxy);
      })();
      return stopping;
    },
  };
  running.add(proxy);
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await proxy.stop();
      throw new Error(`${name} did not start listening on 127.0.0.1:${port}:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return proxy;
}

/** Nginx with `httpBlocks` (upstream {}, server {} …) in a minimal nginx.conf of its own. */
export async function startNginx(dir: string, port: number, httpBlocks: string): Promise<RunningProxy> {
  const conf = join(dir, 'nginx.conf');
  const errorLog = join(dir, 'nginx-error.log');
  writeFileSync(
    conf,
    [
      asRoot ? `user ${WEB_USER};` : '',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 64; }',
      'http {',
      `  access_log ${join(dir, 'nginx-access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
        (kind) => `  ${kind}_temp_path ${join(dir, `nginx-${kind}`)};`,
      ),
      httpBlocks,
      '}',
      '',
    ].join('\n'),
  );
  const args = ['-p', dir, '-c', conf, '-e', errorLog, '-g', 'daemon off;'];
  const check = spawnSync(NGINX, [...args, '-t'], { encoding: 'utf8', timeout: 10_000 });
  if (check.status !== 0) throw new Error(`nginx -t rejected the configuration:\n${check.stderr}`);
  return run('nginx', NGINX, args, port, errorLog);
}

/** Apache with `vhost` (Define, <VirtualHost> …) in a self-contained httpd.conf of its own. */
export async function startApache(dir: string, port: number, vhost: string): Promise<RunningProxy> {
  const conf = join(dir, 'apache2.conf');
  const errorLog = join(dir, 'apache-error.log');
  const modules = ['mpm_event', 'authz_core', 'headers', 'proxy', 'proxy_http', 'socache_shmcb', 'ssl'];
  writeFileSync(
    conf,
    [
      `ServerRoot ${dir}`,
      'ServerName localhost',
      `Listen 127.0.0.1:${port}`,
      ...modules.map((name) => `LoadModule ${name}_module ${APACHE_MODULES}/mod_${name}.so`),
      asRoot ? `User ${WEB_USER}\nGroup ${WEB_USER}` : '',
      `PidFile ${join(dir, 'apache.pid')}`,
      `DefaultRuntimeDir ${dir}`,
      `Mutex file:${dir} default`,
      `ErrorLog ${errorLog}`,
      'LogLevel warn',
      `CustomLog ${join(dir, 'apache-access.log')} "%h %r %>s"`,
      `SSLSessionCache shmcb:${join(dir, 'ssl-cache')}(65536)`,
      'StartServers 1',
      'ServerLimit 1',
      'ThreadLimit 16',
      'ThreadsPerChild 16',
      'MaxRequestWorkers 16',
      'MinSpareThreads 1',
      'MaxSpareThreads 16',
      vhost,
      '',
    ].join('\n'),
  );
  const check = spawnSync(APACHE, ['-f', conf, '-t'], { encoding: 'utf8', timeout: 10_000 });
  if (check.status !== 0) throw new Error(`apache2 -t rejected the configuration:\n${check.stderr}`);
  return run('apache2', APACHE, ['-f', conf, '-DFOREGROUND'], port, errorLog);
}
