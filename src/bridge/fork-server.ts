/**
 * --preload: workers forked by a Python fork server (python/nodicorn_worker/zygote.py) that imported the
 * app once, so they share its memory copy-on-write and a replacement starts in milliseconds, without an
 * import. The supervision and the dispatch stay in Node: the fork server only forks on request and, being
 * the workers' parent, reports each one's pid and exit status.
 *
 *     Node ──spawn──▶ fork server (one per generation: a SIGHUP starts one with the new code)
 *       │  ◀─ READY ── SPAWN id token ─▶ ◀─ FORKED id pid ─ ◀─ EXITED id {code, signal} ─   (its fd 3)
 *       │
 *       └── connects to its socket, HELLO id token ──▶ fork server: fork(), the worker keeps that
 *           connection and speaks the worker protocol (protocol.ts) on it
 *
 * Node makes each worker's connection, so Node reads it as it reads a spawned worker's, into the shared
 * buffer (frame-link.ts). The fork server listens (after READY) in a directory of Node's (mkdtemp, 0700),
 * its socket 0600, all removed at close; it hands a connection to a worker only with the one-time random
 * token of that worker's SPAWN, so no other local process can pose as Node. A worker's exit is the fork
 * server's report (its status, and the pid is not reused before it); if the fork server itself has died,
 * the worker's connection closing is its exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectLink, type FrameLink } from './frame-link.js';
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

const TOKEN_BYTES = 16;

/**
 * The private directory (mkdtemp, 0700) where each generation's fork server listens for Node: a worker's
 * connection is made by Node (so its reads go to the shared buffer, frame-link.ts) and handed by the fork
 * server to the worker it forks for it.
 */
class PreloadDir {
  readonly #dir: string;

  constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), 'nodicorn-preload-')); // mode 0700
  }

  /** Where the fork server of `generation` listens. */
  socketOf(generation: number): string {
    return join(this.#dir, `g${generation}.sock`);
  }

  close(): void {
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

  connected(link: FrameLink): void {
    const socket = link.socket;
    this.#socket = socket;
    // Without a fork server to report the exit, the connection closing is the worker's end.
    socket.on('close', () => {
      if (!this.#server.alive) this.exited(null, null);
    });
    this.#events?.connected(link);
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
  /** Where it listens for Node's connections to its workers, once it has imported the app (READY). */
  readonly #listen: string;
  /** Connections to make once it listens. */
  #waiting: Array<() => void> | null = [];
  readonly #hosts = new Map<number, ForkedHost>();
  readonly #exited: Promise<void>;
  /** Set once the app is imported (READY) or could not be (LOADFAIL: every worker asked for fails). */
  #loadFailure: string | null = null;

  constructor(launch: WorkerLaunch, args: readonly string[], listen: string, generation: number) {
    this.generation = generation;
    this.#listen = listen;
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
    // SPAWN first: when the connection arrives, the fork server knows the token it must carry.
    this.#socket.write(encodeFrame(SPAWN, id, Buffer.from(JSON.stringify({ age, token }))));
    const connect = () => {
      if (this.#hosts.get(id) !== host) return;
      connectLink(this.#listen).then(
        (link) => {
          link.socket.write(encodeFrame(HELLO, id, Buffer.from(token, 'ascii')));
          host.connected(link);
        },
        () => host.orphaned(), // it died before listening, or while Node connected
      );
    };
    if (this.#waiting === null) connect();
    else this.#waiting.push(connect);
  }

  forget(id: number): void {
    this.#hosts.delete(id);
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
    if (type === READY) {
      const waiting = this.#waiting ?? [];
      this.#waiting = null;
      for (const connect of waiting) connect();
      return;
    }
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
  readonly #dir: PreloadDir;
  readonly #servers = new Map<number, ForkServer>();
  /** Every fork server not yet exited, retired ones included. */
  readonly #running = new Set<ForkServer>();
  readonly #config: Record<string, unknown>;
  readonly #name: readonly string[];

  private constructor(
    launch: WorkerLaunch,
    dir: PreloadDir,
    config: Record<string, unknown>,
    name: readonly string[],
  ) {
    this.#launch = launch;
    this.#dir = dir;
    this.#config = config;
    this.#name = name;
  }

  /** `config` is the workers' JSON config; `name` the `--name=` argument, if any. */
  static async open(
    launch: WorkerLaunch,
    config: Record<string, unknown>,
    name: readonly string[],
  ): Promise<ForkServers> {
    return new ForkServers(launch, new PreloadDir(), config, name);
  }

  /** The host of worker `id` of `generation`, forked by that generation's fork server. */
  host(id: number, generation: number, age: number): WorkerHost {
    let server = this.#servers.get(generation);
    if (server === undefined || !server.alive) {
      const listen = this.#dir.socketOf(generation);
      server = new ForkServer(
        this.#launch,
        ['-m', 'nodicorn_worker', ...this.#name, '--zygote', JSON.stringify({ ...this.#config, listen })],
        listen,
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
    this.#dir.close();
  }
}
