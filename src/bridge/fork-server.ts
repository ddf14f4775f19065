/**
 * --preload: workers forked by a Python fork server (python/nodicorn_worker/zygote.py) that imported the
 * app once, so they share its memory copy-on-write and a replacement starts in milliseconds, without an
 * import. The supervision and the dispatch stay in Node: the fork server only forks on request and, being
 * the workers' parent, reports each one's pid and exit status; each worker connects to Node on its own.
 *
 *     Node ──spawn──▶ fork server (one per generation: a SIGHUP starts one with the new code)
 *       │  ◀─ READY ── SPAWN id ─▶ ◀─ FORKED id pid ─ ◀─ EXITED id {code, signal} ─   (its fd 3)
 *       │                 │ fork()
 *       └◀── private Unix socket ◀── worker: HELLO id pid token, then the worker protocol (protocol.ts)
 *
 * The socket is in a directory of its own (mkdtemp, 0700), itself 0600, and removed at close; a worker is
 * accepted only with the one-time random token Node put in its SPAWN, so no other local process can pose
 * as one. A worker's exit is the fork server's report (its status, and the pid is not reused before it);
 * if the fork server itself has died, the worker's connection closing is its exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plainLink } from './frame-link.js';
import {
  EXITED,
  encodeFrame,
  FORKED,
  type Frame,
  FrameDecoder,
  HELLO,
  LOADFAIL,
  READY,
  SPAWN,
} from './protocol.js';
import {
  forwardOutput,
  type WorkerHost,
  type WorkerHostEvents,
  type WorkerLaunch,
} from './worker-process.js';

/** A worker that has not said HELLO this long after connecting is dropped. */
const HELLO_TIMEOUT_MS = 10_000;
const TOKEN_BYTES = 16;

interface Expected {
  readonly token: Buffer;
  hello(socket: Socket, pid: number, head: Buffer): void;
}

/** Node's private Unix socket that forked workers connect to. */
class WorkerListener {
  readonly path: string;
  readonly #dir: string;
  readonly #server: Server;
  readonly #expected = new Map<number, Expected>();
  readonly #pending = new Set<Socket>();

  private constructor(dir: string, server: Server) {
    this.#dir = dir;
    this.path = join(dir, 'workers.sock');
    this.#server = server;
  }

  static async open(): Promise<WorkerListener> {
    const dir = mkdtempSync(join(tmpdir(), 'nodicorn-preload-')); // mode 0700
    const listener = new WorkerListener(dir, createServer());
    listener.#server.on('connection', (socket) => listener.#accept(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        listener.#server.once('error', reject);
        listener.#server.listen(listener.path, resolve);
      });
      chmodSync(listener.path, 0o600);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return listener;
  }

  /** Waits for worker `id`, which must present `token`. */
  expect(id: number, token: Buffer, hello: Expected['hello']): void {
    this.#expected.set(id, { token, hello });
  }

  forget(id: number): void {
    this.#expected.delete(id);
  }

  #accept(socket: Socket): void {
    this.#pending.add(socket);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    const chunks: Buffer[] = [];
    let length = 0;
    const done = () => {
      clearTimeout(timer);
      this.#pending.delete(socket);
      socket.off('data', onData);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length < 4) return;
      const data = Buffer.concat(chunks, length);
      const total = 4 + data.readUInt32BE(0);
      if (total > 64) {
        done();
        socket.destroy();
        return;
      }
      if (length < total) return;
      done();
      let hello: Frame | null = null;
      new FrameDecoder().push(data.subarray(0, total), (frame) => {
        hello = frame;
      });
      const frame = hello as Frame | null;
      const expected = frame === null ? undefined : this.#expected.get(frame.id);
      if (
        frame === null ||
        frame.type !== HELLO ||
        frame.payload.length !== 4 + TOKEN_BYTES * 2 ||
        expected === undefined ||
        !timingSafeEqual(frame.payload.subarray(4), expected.token)
      ) {
        socket.destroy();
        return;
      }
      this.#expected.delete(frame.id);
      expected.hello(socket, frame.payload.readUInt32BE(0), data.subarray(total));
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('close', done);
  }

  close(): void {
    this.#server.close();
    for (const socket of this.#pending) socket.destroy();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A worker forked by a fork server: Node's side of it. */
class ForkedHost implements WorkerHost {
  pid = 0;
  readonly #server: ForkServer;
  readonly #id: number;
  readonly #age: number;
  #events: WorkerHostEvents | null = null;
  #socket: Socket | null = null;
  #exited = false;
  #pendingSignal: NodeJS.Signals | null = null;

  constructor(server: ForkServer, id: number, age: number) {
    this.#server = server;
    this.#id = id;
    this.#age = age;
  }

  start(events: WorkerHostEvents): void {
    this.#events = events;
    this.#server.fork(this, this.#id, this.#age);
  }

  connected(socket: Socket, pid: number, head: Buffer): void {
    this.#known(pid);
    this.#socket = socket;
    // Without a fork server to report the exit, the connection closing is the worker's end.
    socket.on('close', () => {
      if (!this.#server.alive) this.exited(null, null);
    });
    this.#events?.connected(plainLink(socket), head);
  }

  forked(pid: number): void {
    this.#known(pid);
  }

  #known(pid: number): void {
    if (this.pid !== 0) return;
    this.pid = pid;
    if (this.#pendingSignal !== null) this.kill(this.#pendingSignal);
  }

  loadFailed(traceback: string): void {
    this.#events?.loadFailed(traceback);
  }

  /** The fork server died: a worker that never connected is gone; a connected one ends with its socket. */
  orphaned(): void {
    if (this.#socket === null || this.#socket.destroyed) {
      this.kill('SIGKILL');
      this.exited(null, null);
    }
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#server.forget(this.#id);
    this.#events?.exit(code, signal);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#exited) return;
    if (this.pid === 0) {
      // Not forked yet (its fork server may still be importing): the signal goes out once the pid is known.
      this.#pendingSignal = signal;
      return;
    }
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone: the exit report is on its way
    }
  }
}

/** One fork server process: one generation's code, imported once. */
class ForkServer {
  readonly generation: number;
  alive = true;
  readonly #child: ChildProcess;
  readonly #socket: Socket;
  readonly #listener: WorkerListener;
  readonly #hosts = new Map<number, ForkedHost>();
  readonly #exited: Promise<void>;
  /** Set once the app is imported (READY) or could not be (LOADFAIL: every worker asked for fails). */
  #loadFailure: string | null = null;

  constructor(launch: WorkerLaunch, args: readonly string[], listener: WorkerListener, generation: number) {
    this.generation = generation;
    this.#listener = listener;
    this.#child = spawn(launch.python, args, {
      cwd: launch.cwd,
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    // The forked workers inherit these: their output reaches the error log through the fork server's pipes.
    forwardOutput(this.#child, launch.log);
    this.#child.on('error', (error) => launch.log.error(`cannot start ${launch.python}: ${error.message}`));
    this.#socket = this.#child.stdio[3] as Socket;
    const decoder = new FrameDecoder();
    this.#socket.on('data', (chunk: Buffer) => decoder.push(chunk, this.#onFrame));
    this.#socket.on('error', () => {});
    this.#exited = new Promise((resolve) =>
      this.#child.once('exit', () => {
        this.alive = false;
        this.#socket.destroy();
        for (const host of [...this.#hosts.values()]) {
          if (this.#loadFailure === null) host.orphaned();
          else host.exited(3, null);
        }
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  get exited(): Promise<void> {
    return this.#exited;
  }

  host(id: number, age: number): ForkedHost {
    return new ForkedHost(this, id, age);
  }

  fork(host: ForkedHost, id: number, age: number): void {
    this.#hosts.set(id, host);
    if (this.#loadFailure !== null) {
      this.#fail(host, this.#loadFailure);
      return;
    }
    if (!this.alive) {
      queueMicrotask(() => host.orphaned());
      return;
    }
    const token = randomBytes(TOKEN_BYTES).toString('hex');
    this.#listener.expect(id, Buffer.from(token, 'ascii'), (socket, pid, head) =>
      host.connected(socket, pid, head),
    );
    this.#socket.write(encodeFrame(SPAWN, id, Buffer.from(JSON.stringify({ age, token }))));
  }

  forget(id: number): void {
    this.#hosts.delete(id);
    this.#listener.forget(id);
  }

  /** No more workers from this one: it exits once its workers have. */
  retire(): void {
    this.#socket.end();
  }

  kill(): void {
    if (this.alive) this.#child.kill('SIGKILL');
  }

  #fail(host: ForkedHost, traceback: string): void {
    queueMicrotask(() => {
      host.loadFailed(traceback);
      host.exited(3, null);
    });
  }

  #onFrame = (frame: Frame): void => {
    const { type, id, payload } = frame;
    if (type === LOADFAIL && id === 0) {
      this.#loadFailure = payload.toString('utf8');
      for (const host of [...this.#hosts.values()]) this.#fail(host, this.#loadFailure);
      return;
    }
    if (type === READY) return;
    const host = this.#hosts.get(id);
    if (host === undefined) return;
    if (type === FORKED) host.forked(payload.readUInt32BE(0));
    else if (type === EXITED) {
      const status = JSON.parse(payload.toString('utf8')) as { code: number | null; signal: string | null };
      host.exited(status.code, status.signal as NodeJS.Signals | null);
    }
  };
}

/**
 * The fork servers of a --preload backend, one per generation: workers of a generation are forked by its
 * fork server, started on the first worker asked for. Older ones are retired once a newer generation
 * serves in full (a failed reload keeps forking the old code from the old one).
 */
export class ForkServers {
  readonly #launch: WorkerLaunch;
  readonly #listener: WorkerListener;
  readonly #servers = new Map<number, ForkServer>();
  /** Every fork server not yet exited, retired ones included. */
  readonly #running = new Set<ForkServer>();
  readonly #config: Record<string, unknown>;
  readonly #name: readonly string[];

  private constructor(
    launch: WorkerLaunch,
    listener: WorkerListener,
    config: Record<string, unknown>,
    name: readonly string[],
  ) {
    this.#launch = launch;
    this.#listener = listener;
    this.#config = config;
    this.#name = name;
  }

  /** `config` is the workers' JSON config; `name` the `--name=` argument, if any. */
  static async open(
    launch: WorkerLaunch,
    config: Record<string, unknown>,
    name: readonly string[],
  ): Promise<ForkServers> {
    return new ForkServers(launch, await WorkerListener.open(), config, name);
  }

  /** The host of worker `id` of `generation`, forked by that generation's fork server. */
  host(id: number, generation: number, age: number): WorkerHost {
    let server = this.#servers.get(generation);
    if (server === undefined || !server.alive) {
      server = new ForkServer(
        this.#launch,
        [
          '-m',
          'nodicorn_worker',
          ...this.#name,
          '--zygote',
          JSON.stringify({ ...this.#config, listen: this.#listener.path }),
        ],
        this.#listener,
        generation,
      );
      const started = server;
      this.#running.add(started);
      void started.exited.then(() => {
        this.#running.delete(started);
        if (this.#servers.get(generation) === started) this.#servers.delete(generation);
      });
      this.#servers.set(generation, server);
      this.#launch.log.info(
        `Fork server (pid: ${server.pid}) importing the app for generation ${generation}`,
      );
    }
    return server.host(id, age);
  }

  /** Fork servers of generations before `generation` fork no more. */
  retireBelow(generation: number): void {
    for (const [g, server] of this.#servers) {
      if (g >= generation) continue;
      server.retire();
      this.#servers.delete(g);
    }
  }

  /** Once every worker has exited: the fork servers exit (killed past `ms`), the socket is removed. */
  async close(ms = 2000): Promise<void> {
    const servers = [...this.#running];
    this.#servers.clear();
    for (const server of servers) server.retire();
    const force = setTimeout(() => {
      for (const server of servers) server.kill();
    }, ms);
    await Promise.all(servers.map((server) => server.exited));
    clearTimeout(force);
    this.#listener.close();
  }
}
