/**
 * One Python worker seen from Node (src/bridge/worker-process.ts), with the worker played by the test: a
 * WorkerHost whose frame socket is one end of a Unix socket pair, the test writing the worker's frames on
 * the other end, and real clients on a real node:http server receiving what WorkerProcess makes of them.
 * Covers READY/LOADFAIL/SOURCES, requests and their frames, streamed responses and credit, FAIL, invalid
 * heads, a client that leaves (CANCEL), a worker that exits while serving (502) or after finishing, requests
 * not started handed back, --threads, --timeout (SIGABRT, then 504) and retiring.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { plainLink } from '../../../src/bridge/frame-link.js';
import {
  BODY,
  CANCEL,
  CREDIT,
  END,
  encodeFrame,
  encodeHead,
  FAIL,
  type Frame,
  FrameDecoder,
  HEAD,
  INITIAL_WINDOW,
  LOADFAIL,
  READY,
  REQUEST,
  SOURCES,
  WHOLE,
} from '../../../src/bridge/protocol.js';
import { SpoolBudget } from '../../../src/bridge/response-spool.js';
import {
  type Dispatch,
  SpawnedHost,
  type WorkerEvents,
  type WorkerHost,
  type WorkerHostEvents,
  WorkerProcess,
} from '../../../src/bridge/worker-process.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { Exchange } from '../../../src/server/backend.js';
import { NO_BODY } from '../../../src/server/request-body.js';
import { ResponseWriter } from '../../../src/server/response-writer.js';
import { Progress } from '../../helpers/processes.js';

let log = '';
const logger = createLogger({ write: (line: string) => (log += line) }, 'debug');

/** The test's side of a worker: the frames Node sent it, and a way to send frames back. */
class PlayedWorker implements WorkerHost {
  readonly pid = 4242;
  readonly kills: NodeJS.Signals[] = [];
  readonly received: Frame[] = [];
  /** The worker's end of the socket pair. */
  readonly socket: Socket;
  #nodeSide: Socket;
  #events: WorkerHostEvents | null = null;
  readonly progress = new Progress();
  ended = false;

  constructor(pair: [Socket, Socket]) {
    [this.#nodeSide, this.socket] = pair;
    const decoder = new FrameDecoder();
    this.socket.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (frame) => {
        this.received.push({ ...frame, payload: Buffer.from(frame.payload) });
        this.progress.notify();
      }),
    );
    this.socket.on('end', () => {
      this.ended = true;
      this.progress.notify();
    });
    this.socket.on('error', () => {});
  }

  start(events: WorkerHostEvents): void {
    this.#events = events;
    events.connected(plainLink(this.#nodeSide));
  }

  kill(signal: NodeJS.Signals): void {
    this.kills.push(signal);
    this.progress.notify();
  }

  send(type: number, id: number, payload?: Buffer): void {
    this.socket.write(encodeFrame(type, id, payload));
  }

  whole(id: number, status: string, headers: Array<[string, string]>, body: string): void {
    const head = encodeHead(status, headers);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(head.length);
    this.send(WHOLE, id, Buffer.concat([length, head, Buffer.from(body)]));
  }

  /** The process exits; its socket closes as a dead process's does. */
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    this.#events!.exit(code, signal);
    this.socket.destroy();
  }

  frames(type: number): Frame[] {
    return this.received.filter((frame) => frame.type === type);
  }
}

/** A connected Unix socket pair (as Node makes for a worker's fd 3). */
async function socketPair(path: string): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(path);
  const other = await accepted;
  server.close();
  return [client, other];
}

const dir = mkdtempSync(join(tmpdir(), 'worker-process-'));
let pairs = 0;

/** Requests reaching the HTTP server, waiting to be dispatched by the test. */
const arrivals: Exchange[] = [];
const arrived = new Progress();
const server = http.createServer((req, res) => {
  const environ = { REQUEST_METHOD: req.method!, RAW_URI: req.url!, PATH_INFO: req.url! };
  arrivals.push({ req, environ, writer: new ResponseWriter(req, res, logger), bodyLimit: 0, bodyLength: 0 });
  arrived.notify();
});
let port = 0;
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The response ended cleanly (false: the connection was cut). */
  complete: boolean;
}

/** Sends a GET and resolves with what arrived (status 0: no response); `req` lets the test abort it. */
function get(path: string): { response: Promise<Response>; req: http.ClientRequest } {
  const req = http.get({ host: '127.0.0.1', port, path, agent: false });
  const response = new Promise<Response>((resolve) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      const done = (complete: boolean) => () =>
        resolve({ status: res.statusCode!, headers: res.headers, body, complete });
      res.on('end', done(true));
      res.on('aborted', done(false));
      res.on('error', () => {});
    });
    req.on('error', () => resolve({ status: 0, headers: {}, body: '', complete: false }));
  });
  return { response, req };
}

/** The next request that reached the server, as a Dispatch. */
async function nextDispatch(id: number): Promise<Dispatch> {
  await arrived.until(() => arrivals.length > 0, 'a request');
  return {
    id,
    exchange: arrivals.shift()!,
    body: NO_BODY,
    queued: false,
    queuedAt: performance.now(),
    started: 0,
    timedOut: false,
    discard: false,
    spool: null,
    owed: 0,
    stalledSince: 0,
  };
}

interface Seen {
  ready: number;
  loadFailed: string[];
  sources: string[][];
  idle: number;
  exit: { code: number | null; signal: NodeJS.Signals | null; unstarted: number[] } | null;
}

async function startWorker(options: { threads?: number; timeout?: number } = {}) {
  const played = new PlayedWorker(await socketPair(join(dir, `pair-${++pairs}`)));
  const seen: Seen = { ready: 0, loadFailed: [], sources: [], idle: 0, exit: null };
  const events: WorkerEvents = {
    ready: () => {
      seen.ready++;
      played.progress.notify();
    },
    loadFailed: (_worker, traceback) => {
      seen.loadFailed.push(traceback);
      played.progress.notify();
    },
    sources: (_worker, files) => {
      seen.sources.push([...files]);
      played.progress.notify();
    },
    idle: () => {
      seen.idle++;
      played.progress.notify();
    },
    exit: (_worker, code, signal, unstarted) => {
      seen.exit = { code, signal, unstarted: unstarted.map((d) => d.id) };
      played.progress.notify();
    },
  };
  const worker = new WorkerProcess(
    {
      threads: options.threads ?? 1,
      python: 'python3',
      args: [],
      env: {},
      cwd: dir,
      log: logger,
      timeout: options.timeout ?? 0,
      spool: new SpoolBudget({ memory: 1 << 20, disk: 1 << 24, totalMemory: 1 << 26, sendTimeoutMs: 0 }),
      host: played,
    },
    Number.POSITIVE_INFINITY,
    1,
    events,
  );
  return { worker, played, seen };
}

describe('startup frames', () => {
  test('READY makes the worker ready with the files it imported; SOURCES and LOADFAIL are reported', async () => {
    const { worker, played, seen } = await startWorker();
    assert.equal(worker.state, 'booting');
    played.send(
      READY,
      0,
      Buffer.from(JSON.stringify({ pid: 4242, python: '3.12', files: ['/app/a.py', 7] })),
    );
    await played.progress.until(() => seen.ready === 1, 'ready');
    assert.equal(worker.state, 'ready');
    assert.deepEqual(worker.sources, ['/app/a.py']);
    played.send(SOURCES, 0, Buffer.from('["/app/views.py"]'));
    played.send(SOURCES, 0, Buffer.from('not json'));
    played.send(LOADFAIL, 0, Buffer.from('Traceback: no module named app'));
    await played.progress.until(() => seen.loadFailed.length === 1, 'loadFailed');
    assert.deepEqual(seen.sources, [['/app/views.py'], []]);
    assert.deepEqual(seen.loadFailed, ['Traceback: no module named app']);
    played.exit(0, null);
    await worker.gone;
  });
});

describe('requests', () => {
  test('a request goes out as one REQUEST frame; WHOLE answers with its head, body and Content-Length', async () => {
    const { worker, played, seen } = await startWorker();
    played.send(READY, 0, Buffer.from('{}'));
    const { response } = get('/hello');
    worker.dispatch(await nextDispatch(7));
    await played.progress.until(() => played.frames(REQUEST).length === 1, 'the REQUEST frame');
    const request = played.frames(REQUEST)[0]!;
    assert.equal(request.id, 7);
    assert.match(request.payload.toString('latin1'), /REQUEST_METHOD\0GET\0RAW_URI\0\/hello/);
    played.whole(7, '200 OK', [['Content-Type', 'text/plain']], 'hello');
    const res = await response;
    assert.deepEqual(
      [res.status, res.headers['content-type'], res.headers['content-length'], res.body],
      [200, 'text/plain', '5', 'hello'],
    );
    await played.progress.until(() => seen.idle === 1, 'idle');
    assert.equal(worker.served, 1);
    assert.equal(worker.inFlight.size, 0);
    played.exit(0, null);
    await worker.gone;
    assert.deepEqual(seen.exit, { code: 0, signal: null, unstarted: [] });
  });

  test('HEAD, BODY and END stream the response; credit goes back once half the window was taken', async () => {
    const { worker, played } = await startWorker();
    played.send(READY, 0, Buffer.from('{}'));
    const { response } = get('/stream');
    worker.dispatch(await nextDispatch(1));
    played.send(HEAD, 1, encodeHead('200 OK', [['X-Streamed', 'yes']]));
    const piece = Buffer.alloc(64 * 1024, 0x62);
    const pieces = INITIAL_WINDOW / piece.length / 2;
    for (let i = 0; i < pieces; i++) played.send(BODY, 1, piece);
    await played.progress.until(() => played.frames(CREDIT).length > 0, 'a CREDIT frame');
    const credited = played.frames(CREDIT).reduce((sum, frame) => sum + frame.payload.readUInt32BE(0), 0);
    assert.equal(credited, INITIAL_WINDOW / 2);
    played.send(BODY, 1, Buffer.from('tail'));
    played.send(END, 1);
    const res = await response;
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-streamed'], 'yes');
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.body.length, pieces * piece.length + 4);
    assert.ok(res.body.endsWith('btail'));
    assert.ok(res.complete);
    played.exit(0, null);
    await worker.gone;
  });

  test('FAIL: 500 and the traceback in the log', async () => {
    const { worker, played } = await startWorker();
    const { response } = get('/boom');
    worker.dispatch(await nextDispatch(3));
    log = '';
    played.send(FAIL, 3, Buffer.from('Traceback (most recent call last):\nValueError: boom\n'));
    assert.equal((await response).status, 500);
    assert.match(
      log,
      /\[ERROR\] Error handling request GET \/boom\nTraceback \(most recent call last\):\nValueError: boom\n/,
    );
    played.exit(0, null);
    await worker.gone;
  });

  test('an invalid head: 500, logged, and the frames that follow for it are dropped', async () => {
    const { worker, played, seen } = await startWorker();
    const { response } = get('/bad-head');
    worker.dispatch(await nextDispatch(4));
    log = '';
    played.send(HEAD, 4, encodeHead('200 OK', [['X-Bad', 'a\r\nSet-Cookie: evil=1']]));
    played.send(BODY, 4, Buffer.from('must not arrive'));
    played.send(END, 4);
    const res = await response;
    assert.equal(res.status, 500);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.doesNotMatch(res.body, /must not arrive/);
    assert.match(log, /GET \/bad-head: invalid response from the application/);
    // A head whose fields do not match its count (a NUL inside a field) is refused the same way.
    const second = get('/nul');
    worker.dispatch(await nextDispatch(5));
    const nul = Buffer.from(encodeHead('200 OK', [['X-A', 'b']]));
    nul.writeUInt32BE(2, 0);
    played.send(HEAD, 5, nul);
    played.send(END, 5);
    assert.equal((await second.response).status, 500);
    await played.progress.until(() => seen.idle === 2, 'both finished');
    played.exit(0, null);
    await worker.gone;
  });

  test('a client that leaves: CANCEL goes to the worker; its later frames are dropped', async () => {
    const { worker, played, seen } = await startWorker();
    const { req } = get('/long');
    worker.dispatch(await nextDispatch(9));
    played.send(HEAD, 9, encodeHead('200 OK', []));
    played.send(BODY, 9, Buffer.from('first'));
    await played.progress.until(() => played.frames(REQUEST).length === 1, 'the request');
    req.destroy();
    await played.progress.until(() => played.frames(CANCEL).length === 1, 'CANCEL');
    assert.equal(played.frames(CANCEL)[0]!.id, 9);
    played.send(BODY, 9, Buffer.from('after the client left'));
    played.send(END, 9);
    await played.progress.until(() => seen.idle === 1, 'the request to finish');
    played.exit(0, null);
    await worker.gone;
  });
});

describe('exits', () => {
  test('dying while serving: 502 for the running request, the unstarted ones handed back', async () => {
    const { worker, played, seen } = await startWorker({ threads: 1 });
    const running = get('/running');
    worker.dispatch(await nextDispatch(1));
    const second = get('/waiting');
    const waiting = await nextDispatch(2);
    worker.dispatch(waiting);
    assert.equal(waiting.started, 0, 'with one thread the second request waits');
    log = '';
    played.exit(null, 'SIGKILL');
    const res = await running.response;
    assert.equal(res.status, 502);
    await worker.gone;
    assert.deepEqual(seen.exit, { code: null, signal: 'SIGKILL', unstarted: [2] });
    assert.match(log, /Worker \(pid:4242\) exited \(SIGKILL\) while serving GET \/running/);
    assert.equal(worker.state, 'dead');
    // Handed back, it is the pool's to serve elsewhere; here it gets a 503.
    waiting.exchange.writer.fail(503);
    assert.equal((await second.response).status, 503);
  });

  test('a response completed just before the exit is delivered, not turned into a 502', async () => {
    const { worker, played } = await startWorker();
    const { response } = get('/last');
    worker.dispatch(await nextDispatch(1));
    await played.progress.until(() => played.frames(REQUEST).length === 1, 'the request');
    played.whole(1, '200 OK', [], 'done');
    played.socket.end();
    played.exit(0, null);
    const res = await response;
    assert.deepEqual([res.status, res.body], [200, 'done']);
    await worker.gone;
  });

  test('--threads 2: two requests run at once, a third starts when one finishes', async () => {
    const { worker, played, seen } = await startWorker({ threads: 2 });
    const responses = [get('/1'), get('/2'), get('/3')].map((g) => g.response);
    const dispatches: Dispatch[] = [];
    for (const id of [1, 2, 3]) {
      const dispatch = await nextDispatch(id);
      dispatches.push(dispatch);
      worker.dispatch(dispatch);
    }
    assert.deepEqual(
      dispatches.map((d) => d.started > 0),
      [true, true, false],
    );
    played.whole(2, '200 OK', [], 'two');
    await played.progress.until(() => seen.idle === 1, 'the second request');
    assert.ok(dispatches[2]!.started > 0, 'the third started');
    played.whole(1, '200 OK', [], 'one');
    played.whole(3, '200 OK', [], 'three');
    assert.deepEqual(
      (await Promise.all(responses)).map((r) => r.body),
      ['one', 'two', 'three'],
    );
    played.exit(0, null);
    await worker.gone;
  });

  test('--timeout: a request running too long gets SIGABRT (a stack dump), then 504 once the worker is gone', async () => {
    const { worker, played } = await startWorker({ timeout: 0.1 });
    const { response } = get('/slow');
    log = '';
    worker.dispatch(await nextDispatch(1));
    await played.progress.until(() => played.kills.length > 0, 'the worker to be killed');
    assert.equal(played.kills[0], 'SIGABRT');
    assert.ok(worker.timedOut);
    assert.match(
      log,
      /\[CRITICAL\] WORKER TIMEOUT \(pid:4242\) GET \/slow ran for \d+\.\ds; killing the worker/,
    );
    played.exit(null, 'SIGABRT');
    assert.equal((await response).status, 504);
    await worker.gone;
  });

  test('retire: the socket is ended once nothing is in flight (at once when idle)', async () => {
    const busy = await startWorker();
    const { response } = get('/finishing');
    busy.worker.dispatch(await nextDispatch(1));
    busy.worker.retire();
    assert.equal(busy.worker.state, 'retiring');
    await busy.played.progress.until(() => busy.played.frames(REQUEST).length === 1, 'the request');
    assert.equal(busy.played.ended, false, 'ended while a request was in flight');
    busy.played.whole(1, '200 OK', [], 'finished');
    assert.equal((await response).body, 'finished');
    await busy.played.progress.until(() => busy.played.ended, 'end of stream');
    busy.played.exit(0, null);
    await busy.worker.gone;
    const idle = await startWorker();
    idle.worker.retire();
    await idle.played.progress.until(() => idle.played.ended, 'end of stream');
    idle.played.exit(0, null);
    await idle.worker.gone;
  });
});

describe('SpawnedHost', () => {
  const launchFor = (script: string) => ({
    threads: 1,
    python: process.execPath,
    args: ['-e', script],
    env: process.env,
    cwd: dir,
    log: logger,
    timeout: 0,
    spool: new SpoolBudget({ memory: 1 << 20, disk: 1 << 24, totalMemory: 1 << 26, sendTimeoutMs: 0 }),
  });

  /** Runs `script` as a spawned worker: its exit code, and all it wrote on fd 3 as Node read it. */
  async function runSpawned(script: string, age: number) {
    const host = new SpawnedHost(launchFor(script), age);
    const got: string[] = [];
    let closed: Promise<unknown> = Promise.resolve();
    const code = await new Promise<number | null>((resolve) => {
      host.start({
        connected: (link) => {
          closed = once(link.socket, 'close');
          link.read((bytes) => got.push(bytes.toString()));
        },
        loadFailed: () => {},
        exit: (exitCode) => resolve(exitCode),
      });
    });
    await closed; // everything the child wrote has been read
    return { host, code, text: got.join('') };
  }

  test('the child gets the far end of the linked pair as fd 3; Node reads it through the link', async () => {
    const { host, code, text } = await runSpawned("require('fs').writeSync(3, 'frames from the child')", 1);
    assert.equal(code, 0);
    assert.ok(host.pid > 0);
    assert.equal(text, 'frames from the child');
  });

  test("when the pair cannot be made (no temporary directory), spawn's own pipe carries the frames", async () => {
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = join(dir, 'missing', 'tmp');
    try {
      const { code, text } = await runSpawned("require('fs').writeSync(3, 'over the pipe')", 3);
      assert.equal(code, 0);
      assert.equal(text, 'over the pipe');
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  test('killed before its socket pair is ready, the worker is never started and its exit says so', async () => {
    const host = new SpawnedHost(launchFor('setTimeout(() => {}, 60000)'), 2);
    let connected = false;
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      host.start({
        connected: () => {
          connected = true;
        },
        loadFailed: () => {},
        exit: (code, signal) => resolve([code, signal]),
      });
    });
    host.kill('SIGTERM');
    assert.deepEqual(await exited, [null, 'SIGTERM']);
    assert.equal(host.pid, 0, 'no process was spawned');
    assert.equal(connected, false);
  });
});
