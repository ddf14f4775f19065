"""Slow readers for the bench (bench/slow-clients.ts runs this): COUNT connections that each send one
complete request for PATH and then read the answer at BYTES_PER_SECOND, held open (a connection that the
server closes, or whose answer ends, is opened again).

Each socket is set up as a client on a real network would be: a small receive buffer (SO_RCVBUF) and a
1460-byte MSS (TCP_MAXSEG) advertised to the server. Node cannot set either. Without them, on loopback the
server's kernel sizes its send buffer from the 64 KiB loopback MSS (up to 4 MiB), so a 1 MiB answer
disappears into kernel buffers and nothing waits for the slow reader.

    python3 slow_readers.py PORT COUNT PATH BYTES_PER_SECOND TICK_MS

Prints one JSON line once every connection is open and its request sent ({"ready": true}), then one per
tick with what was read so far: {"consumed": bytes, "ticks": n, "closed": connections the server closed}.
Exits when its stdin closes (the bench ended, however it ended) or on SIGTERM.
"""

import json
import selectors
import signal
import socket
import sys
import time

RCVBUF = 4096
MSS = 1460


def main():
    port, count, path, rate, tick_ms = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        sys.argv[3],
        int(sys.argv[4]),
        int(sys.argv[5]),
    )
    per_tick = max(1, round(rate * tick_ms / 1000))
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode("latin-1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
        s.connect(("127.0.0.1", port))
        s.sendall(request)
        s.setblocking(False)
        return s

    sockets = [open_one() for _ in range(count)]
    consumed = ticks = closed = 0
    out = sys.stdout
    out.write('{"ready": true}\n')
    out.flush()
    stdin = selectors.DefaultSelector()
    stdin.register(sys.stdin, selectors.EVENT_READ)
    next_tick = time.monotonic()
    while True:
        next_tick += tick_ms / 1000
        if stdin.select(max(0.0, next_tick - time.monotonic())) and not sys.stdin.buffer.read1(4096):
            return
        ticks += 1
        for i, s in enumerate(sockets):
            try:
                data = s.recv(per_tick)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            consumed += len(data)
            if not data:  # closed by the server, or the whole answer read: open another
                s.close()
                closed += 1
                try:
                    sockets[i] = open_one()
                except OSError:
                    sockets[i] = socket.socket()  # the server is gone; reading it fails at once
        out.write(json.dumps({"consumed": consumed, "ticks": ticks, "closed": closed}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
