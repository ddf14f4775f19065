/**
 * What the bench measures: each scenario is one request (what wrk sends, and what the readiness check
 * sends and verifies before anything is measured), the servers that answer it, and the load's shape.
 */
import type { Answer, BenchRequest } from './processes.js';
import {
  type Concurrency,
  ceiling,
  type NodicornBuild,
  nodicornTypeScript,
  type PythonApp,
  pythonModule,
  pythonServers,
  type ServerSpec,
} from './servers.js';

export interface Scenario {
  readonly name: string;
  readonly request: BenchRequest;
  /** Why `answer` is wrong, or null when it is right: run on every server before it is measured. */
  check(answer: Answer): string | null;
  /** The first is nodicorn; ratios are its req/s divided by each other's. */
  readonly servers: readonly [ServerSpec, ...ServerSpec[]];
  /** Connections dribbling a request head one byte per 100 ms while wrk measures (slow-loris clients). */
  readonly slowClients?: number;
  /** Connections that ask for a big answer and read it at 1 KiB/s while wrk measures (slow readers). */
  readonly slowReaders?: SlowReaderLoad;
  /**
   * The scenario that is the same load without the slow clients or readers. Throughput kept is measured
   * against the same server without them in the same round (a paired run); this is the fallback.
   */
  readonly comparedWith?: string;
}

export interface SlowReaderLoad {
  readonly count: number;
  /** What each reader asks for; checked on every server with `check` before anything is measured. */
  readonly request: BenchRequest;
  check(answer: Answer): string | null;
}

const HELLO = 'Hello, WSGI World!';

const seed: PythonApp = { dir: 'examples', module: 'hello', attr: 'application', needs: [] };
const payloads: PythonApp = { dir: 'bench/apps', module: 'payloads', attr: 'application', needs: [] };
const flask: PythonApp = {
  dir: 'bench/apps',
  module: 'flask_json',
  attr: 'app',
  needs: [pythonModule('flask', 'python3-flask')],
};
const django: PythonApp = {
  dir: 'bench/apps',
  module: 'django_view',
  attr: 'application',
  needs: [pythonModule('django', 'python3-django')],
};

const status200 = (a: Answer) => (a.status === 200 ? null : `status ${a.status}, expected 200`);

function bodyIs(expected: string): (a: Answer) => string | null {
  return (a) =>
    status200(a) ??
    (a.body.toString('latin1') === expected
      ? null
      : `body ${JSON.stringify(a.body.toString('latin1').slice(0, 80))}, expected ${JSON.stringify(expected)}`);
}

const jsonHello = (a: Answer): string | null => {
  const bad = status200(a);
  if (bad !== null) return bad;
  try {
    const value = JSON.parse(a.body.toString('utf8')) as { message?: unknown; items?: unknown };
    return value.message === HELLO && Array.isArray(value.items) && value.items.length === 10
      ? null
      : `unexpected JSON ${a.body.toString('utf8').slice(0, 80)}`;
  } catch {
    return `not JSON: ${JSON.stringify(a.body.toString('latin1').slice(0, 80))}`;
  }
};

const sized =
  (bytes: number, fill: string, framing: 'length' | 'streamed') =>
  (a: Answer): string | null => {
    const bad = status200(a);
    if (bad !== null) return bad;
    if (a.body.length !== bytes) return `${a.body.length} body bytes, expected ${bytes}`;
    if (a.body.some((b) => b !== fill.charCodeAt(0))) return `body is not all ${JSON.stringify(fill)}`;
    const length = a.headers['content-length'];
    if (framing === 'streamed' && length !== undefined)
      return `Content-Length ${length}: a generator's answer has none`;
    if (framing === 'length' && length !== String(bytes))
      return `Content-Length ${length}, expected ${bytes}`;
    return null;
  };

const UPLOAD = Buffer.alloc(64 * 1024, 'u');

/** Every scenario; with `at`, nodicorn built from that git ref runs beside nodicorn in each (`--baseline`). */
export function scenarios(c: Concurrency, at?: NodicornBuild): Scenario[] {
  const hello = { method: 'GET', path: '/' } as const;
  const stream1m = sized(1 << 20, 'y', 'streamed');
  const servers = (app: PythonApp) => pythonServers(app, c, at);
  const typeScript: Scenario['servers'] = [
    nodicornTypeScript('dist/examples/hello.js'),
    ...(at === undefined ? [] : [nodicornTypeScript('dist/examples/hello.js', at)]),
    nodicornTypeScript('dist/examples/hello.js', undefined, 2),
    ceiling,
  ];
  // Two front processes beside nodicorn's default, where docs/benchmarks.md models when a second pays.
  const twoFronts = (app: PythonApp) => pythonServers(app, c, at, 2);
  return [
    { name: 'hello', request: hello, check: bodyIs(HELLO), servers: twoFronts(seed) },
    {
      name: 'hello, Connection: close',
      request: { ...hello, headers: { Connection: 'close' } },
      check: bodyIs(HELLO),
      servers: twoFronts(seed),
    },
    {
      name: 'hello, 50 slow clients',
      request: hello,
      check: bodyIs(HELLO),
      servers: servers(seed),
      slowClients: 50,
      comparedWith: 'hello',
    },
    {
      // The same app file answers the readers' 1 MiB and wrk's hello (bench/apps/payloads.py).
      name: 'hello, 50 slow readers of 1 MiB',
      request: hello,
      check: bodyIs(HELLO),
      servers: servers(payloads),
      slowReaders: { count: 50, request: { method: 'GET', path: '/stream' }, check: stream1m },
    },
    { name: 'TypeScript hello', request: hello, check: bodyIs(HELLO), servers: typeScript },
    {
      name: 'TypeScript hello, Connection: close',
      request: { ...hello, headers: { Connection: 'close' } },
      check: bodyIs(HELLO),
      servers: typeScript,
    },
    {
      name: 'Flask JSON',
      request: { method: 'GET', path: '/json' },
      check: jsonHello,
      servers: twoFronts(flask),
    },
    {
      name: 'Django JSON',
      request: { method: 'GET', path: '/json' },
      check: jsonHello,
      servers: servers(django),
    },
    {
      name: '10 KiB response',
      request: { method: 'GET', path: '/10k' },
      check: sized(10240, 'x', 'length'),
      servers: servers(payloads),
    },
    {
      name: '1 MiB streamed response',
      request: { method: 'GET', path: '/stream' },
      check: stream1m,
      servers: servers(payloads),
    },
    {
      name: '64 KiB upload',
      request: {
        method: 'POST',
        path: '/upload',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: UPLOAD,
      },
      check: bodyIs(`received ${UPLOAD.length}`),
      servers: servers(payloads),
    },
  ];
}
