/**
 * The socket Node and one Python worker exchange frames on, and how Node reads it. A spawned worker's
 * socket is read into one buffer that every read reuses (`onread`), so streaming a response allocates
 * nothing per read: a fresh Buffer per read made V8 run a full garbage collection for every 64 MiB
 * streamed (copy-pool.ts says why that matters). Whatever a reader keeps past its call, it copies.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A worker's frame socket: written as a socket, read through `read`. */
export interface FrameLink {
  readonly socket: Socket;
  /** Delivers every read to `onBytes`, in order; the bytes are only valid during the call. */
  read(onBytes: (bytes: Buffer) => void): void;
}

/** A socket read the default way, a fresh Buffer per read (spawn's own pipe, when a pair cannot be made). */
export function plainLink(socket: Socket): FrameLink {
  return { socket, read: (onBytes) => socket.on('data', onBytes) };
}

/**
 * Bytes per read. One buffer serves every link: a read is handed on and consumed before the event loop
 * reads any socket again.
 */
const READ_SIZE = 256 * 1024;
let reads: Buffer | null = null;

/** A socket connecting to `path` whose reads go to the shared buffer, and when it has connected. */
function linkTo(path: string): { link: FrameLink; connected: Promise<void> } {
  let onBytes: ((bytes: Buffer) => void) | null = null;
  let early: Buffer[] = [];
  reads ??= Buffer.allocUnsafeSlow(READ_SIZE);
  const socket = createConnection({
    path,
    onread: {
      buffer: reads,
      callback: (size: number, buffer: Uint8Array) => {
        const bytes = Buffer.from(buffer.buffer, buffer.byteOffset, size);
        if (onBytes === null) early.push(Buffer.from(bytes));
        else onBytes(bytes);
        return true;
      },
    },
  });
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const link: FrameLink = {
    socket,
    read(handler) {
      onBytes = handler;
      for (const bytes of early) handler(bytes);
      early = [];
    },
  };
  return { link, connected };
}

/** A link to the Unix socket at `path` (a --preload fork server's), read into the shared buffer. */
export async function connectLink(path: string): Promise<FrameLink> {
  const { link, connected } = linkTo(path);
  try {
    await connected;
  } catch (error) {
    link.socket.destroy();
    throw error;
  }
  return link;
}

/**
 * A connected pair of Unix stream sockets: `link`, Node's end, read into the shared buffer, and `far`, to
 * give a child as a stdio descriptor (then destroy: the child has its own copy). Node has no
 * socketpair(), so it connects to a one-off listener in a directory only this user can enter.
 */
export async function linkedPair(): Promise<{ link: FrameLink; far: Socket }> {
  const dir = await mkdtemp(join(tmpdir(), 'nodicorn-'));
  const server = createServer({ pauseOnConnect: true });
  try {
    const path = join(dir, 'link');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const link = await connectLink(path);
    return { link, far: await accepted };
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
