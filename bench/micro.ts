/**
 * Micro-benchmarks of the hot functions on the request path, one line each (ns per call, median of 5
 * timed batches after a warm-up), so a change to one of them can be measured alone:
 *   npm run bench:micro        (node dist/bench/micro.js [FILTER])
 * The Python side's codec is timed by python/… through the same interpreter the bench uses.
 */
import { spawnSync } from 'node:child_process';
import { decodeHead, encodeFrame, encodeRequest, FrameDecoder, WHOLE } from '../src/bridge/protocol.js';
import { buildEnviron, type ConnectionFacts } from '../src/http/environ.js';
import { applyProxyHeaders, parseProxyTrust } from '../src/http/forwarded.js';
import { checkRequestHead } from '../src/http/request-checks.js';
import { formatAccessLine, GUNICORN_FORMAT } from '../src/observability/access-log.js';
import { PYTHON, repo } from './servers.js';
import { median } from './stats.js';

const rawHeaders = [
  'Host',
  '127.0.0.1:8000',
  'User-Agent',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'Accept',
  'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'Accept-Encoding',
  'gzip, deflate, br',
  'Accept-Language',
  'en-US,en;q=0.9',
  'Cookie',
  'session=0123456789abcdef; csrftoken=abcdef0123456789',
  'Connection',
  'keep-alive',
];
const limits = { requestLine: 4094, fields: 100, fieldSize: 8190, body: 0 };
const facts: ConnectionFacts = {
  remoteAddress: '127.0.0.1',
  remotePort: '54321',
  serverName: '127.0.0.1',
  serverPort: '8000',
  scheme: 'http',
};
const url = '/items/42?page=2&sort=name';
const checked = checkRequestHead('GET', url, '1.1', rawHeaders, limits);
if (!checked.ok) throw new Error('the sample request should pass the checks');
const head = { method: 'GET', rawTarget: url, target: checked.target, protocol: 'HTTP/1.1', rawHeaders };
const environ = buildEnviron(head, facts, { scriptName: '' });
const trust = parseProxyTrust(['127.0.0.1']);
const request = encodeRequest(1, environ, null);
const headPayload = Buffer.from('200 OK\0Content-Type\0text/plain\0Content-Length\x0018', 'latin1');
const whole = encodeFrame(
  WHOLE,
  7,
  Buffer.concat([Buffer.from([0, 0, 0, headPayload.length]), headPayload, Buffer.from('Hello, WSGI World!')]),
);
const three = Buffer.concat([whole, whole, whole]);
const decoder = new FrameDecoder();
const record = {
  environ,
  status: 200,
  bytes: 18,
  responseHeaders: { 'content-type': 'text/plain' },
  micros: 1234,
  received: new Date(),
  pid: 1,
};
let sink = 0;

const cases: Record<string, () => void> = {
  'checkRequestHead (7 headers)': () => {
    sink += checkRequestHead('GET', url, '1.1', rawHeaders, limits).ok ? 1 : 0;
  },
  'buildEnviron (7 headers)': () => {
    sink += Object.keys(buildEnviron(head, facts, { scriptName: '' })).length;
  },
  'applyProxyHeaders (none sent)': () => {
    applyProxyHeaders(environ, trust);
  },
  'encodeRequest (environ, no body)': () => {
    sink += encodeRequest(1, environ, null).length;
  },
  'FrameDecoder.push (3 WHOLE frames in one read)': () => {
    decoder.push(three, (f) => {
      sink += f.type;
    });
  },
  'decodeHead (2 headers)': () => {
    sink += decodeHead(headPayload)?.headers.length ?? 0;
  },
  'formatAccessLine (Gunicorn default format)': () => {
    sink += formatAccessLine(GUNICORN_FORMAT, record).length;
  },
};

function time(fn: () => void): number {
  let n = 1000;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const ns = Number(process.hrtime.bigint() - start);
    if (ns > 50e6) break;
    n *= 4;
  }
  const batches: number[] = [];
  for (let b = 0; b < 5; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    batches.push(Number(process.hrtime.bigint() - start) / n);
  }
  return median(batches);
}

const filter = process.argv[2] ?? '';
for (const [name, fn] of Object.entries(cases)) {
  if (!name.includes(filter)) continue;
  console.log(`${time(fn).toFixed(0).padStart(7)} ns  ${name}`);
}
if ('python'.includes(filter) || filter === '') {
  const run = spawnSync(PYTHON, [`${repo}bench/micro_worker.py`], {
    input: request,
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: `${repo}python` },
  });
  process.stdout.write(run.stdout || run.stderr);
}
if (sink === -1) console.log(sink);
