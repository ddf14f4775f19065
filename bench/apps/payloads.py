"""The bench's plain-WSGI scenarios, one app for every server: the seed's hello answer, a 10 KiB answer, a
1 MiB streamed answer (a generator: no Content-Length, so servers chunk it; also what the slow readers ask
for while wrk asks for hello) and an upload read to its end. The ceiling (bare-node.ts) answers the same
paths with the same bytes."""

HELLO = b"Hello, WSGI World!"

TEN_KIB = b"x" * 10240
STREAM_CHUNK = b"y" * 16384
STREAM_CHUNKS = 64  # 1 MiB in all


def stream():
    for _ in range(STREAM_CHUNKS):
        yield STREAM_CHUNK


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [HELLO]
    if path == "/10k":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10240")])
        return [TEN_KIB]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return stream()
    if path == "/upload":
        stream_in = environ["wsgi.input"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        received = 0
        while received < length:
            block = stream_in.read(min(65536, length - received))
            if not block:
                break
            received += len(block)
        body = b"received %d" % received
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]
