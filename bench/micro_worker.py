"""Micro-benchmarks of the Python worker's hot path, fed the REQUEST frame that bench/micro.ts encodes
(on stdin): decoding it, and one whole request through Worker.handle with a socket that discards."""
import sys
import timeit

from nodicorn_worker import protocol, worker

frame = sys.stdin.buffer.read()
payload = memoryview(frame)[9:]


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, WSGI World!"]


class Discard:
    cancelled = set()

    def send(self, *parts):
        pass

    def send_frame(self, kind, rid, payload=b""):
        pass


w = worker.Worker(app, Discard(), 1, True)
for name, stmt in [
    ("decode_request (environ, no body)", lambda: protocol.decode_request(payload)),
    ("Worker.handle (hello app, socket discarded)", lambda: w.handle(1, payload, None)),
    ("encode_head (2 headers)", lambda: protocol.encode_head("200 OK", [("Content-Type", "text/plain"), ("X", "y")])),
]:
    timer = timeit.Timer(stmt)
    n, _ = timer.autorange()
    best = sorted(t / n for t in timer.repeat(5, n))[2]
    print("%7.0f ns  python: %s" % (best * 1e9, name))
