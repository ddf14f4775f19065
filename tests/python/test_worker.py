"""The worker's request loop (worker.py), driven through a socket pair that stands in for Node: frames in,
PEP 3333 calls, frames out. Also the worker process itself (__main__.py): signals, Node going away, load
failures."""
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from nodicorn_worker.protocol import (BODY, CANCEL, CREDIT, END, FAIL, FLAG_BODY_IN_FILE, FRAME_HEADER, HEAD,
                                      INITIAL_WINDOW, LOADFAIL, READY, REQUEST, U32, WHOLE, frame)
from nodicorn_worker.worker import SENDFILE_BLOCK, Call, Connection, Worker

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
WAIT = 10  # seconds: only ever reached when a test is failing


def request(rid, path="/", body=b"", method="GET", body_path=None, **extra):
    """A REQUEST frame, encoded as protocol.ts's encodeRequest does."""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": ""}
    environ.update(extra)
    text = "\0".join(k + "\0" + v for k, v in environ.items()).encode("latin-1")
    flags = 0
    if body_path is not None:
        flags = FLAG_BODY_IN_FILE
        body = body_path.encode("utf-8")
    payload = bytes([flags]) + U32.pack(len(text)) + text + U32.pack(0) + body
    return frame(REQUEST, rid, payload)


def credit(rid, n):
    return frame(CREDIT, rid, U32.pack(n))


def parse_head(payload):
    """A HEAD payload: | header count u32 | `status\\0name\\0value...` | (protocol.ts)."""
    count = U32.unpack_from(payload, 0)[0]
    fields = bytes(payload[4:]).decode("latin-1").split("\0")
    assert len(fields) == 1 + 2 * count, "the header count does not match the fields"
    return fields[0], list(zip(fields[1::2], fields[2::2]))


class Node:
    """Node's end of the socket pair: sends frames, reads the worker's back."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(WAIT)
        self.buf = b""

    def send(self, *frames):
        self.sock.sendall(b"".join(frames))

    def frame(self):
        while True:
            if len(self.buf) >= 9:
                length, kind, rid = FRAME_HEADER.unpack_from(self.buf, 0)
                if len(self.buf) >= 4 + length:
                    payload = self.buf[9:4 + length]
                    self.buf = self.buf[4 + length:]
                    return kind, rid, payload
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return None
            self.buf += chunk

    def response(self, rid, others=None):
        """Frames for `rid` until its END/WHOLE/FAIL -> (status, headers, body, last kind). Frames for other
        requests go to `others` (a list) when given."""
        status, headers, body = None, None, b""
        while True:
            got = self.frame()
            if got is None:
                raise AssertionError("the worker closed the socket")
            kind, fid, payload = got
            if fid != rid:
                if others is None:
                    raise AssertionError("frame %#x for request %d while waiting for %d" % (kind, fid, rid))
                others.append(got)
                continue
            if kind == HEAD:
                if status is not None:
                    raise AssertionError("a second HEAD for request %d" % rid)
                status, headers = parse_head(payload)
            elif kind == BODY:
                body += payload
            elif kind == WHOLE:
                n = U32.unpack_from(payload, 0)[0]
                status, headers = parse_head(payload[4:4 + n])
                return status, headers, payload[4 + n:], WHOLE
            elif kind in (END, FAIL):
                if kind == FAIL:
                    body = payload
                return status, headers, body, kind
            else:
                raise AssertionError("unexpected frame %#x" % kind)

    def body_until_window_spent(self, rid, want):
        """Reads BODY frames for `rid` until `want` bytes came."""
        got = 0
        while got < want:
            kind, fid, payload = self.frame()
            if fid == rid and kind == HEAD:
                continue
            assert fid == rid and kind == BODY, (kind, fid)
            got += len(payload)
        return got


class Harness(unittest.TestCase):
    """A Worker serving `app` in a thread of this process, with Node's end of the pair in self.node."""

    threads = 1

    def start(self, app, threads=None):
        ours, theirs = socket.socketpair()
        self.node = Node(ours)
        self.conn = Connection(os.dup(theirs.fileno()))
        theirs.close()
        self.worker = Worker(app, self.conn, threads or self.threads, False)
        self.errors = []

        def serve():
            try:
                self.worker.serve()
            except BaseException as error:  # noqa: B902 - reported by stop()
                self.errors.append(error)
            finally:
                self.conn.sock.close()

        self.server = threading.Thread(target=serve, daemon=True)
        self.server.start()
        self.addCleanup(self.stop)

    def stop(self):
        """Node ends the stream: the worker's serve() returns."""
        try:
            self.node.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.server.join(WAIT)
        self.assertFalse(self.server.is_alive(), "serve() did not return at the end of the stream")
        self.node.sock.close()
        self.assertEqual(self.errors, [])


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello ", environ["PATH_INFO"].encode("latin-1")]


class RequestLoop(Harness):
    def test_a_list_body_is_one_whole_frame(self):
        self.start(hello)
        self.node.send(request(1, "/a"))
        self.assertEqual(self.node.response(1), ("200 OK", [("Content-Type", "text/plain")], b"hello /a", WHOLE))

    def test_requests_run_in_order_and_the_loop_stops_at_the_end_of_the_stream(self):
        self.start(hello)
        self.node.send(*(request(i, "/%d" % i) for i in range(1, 6)))
        for i in range(1, 6):
            self.assertEqual(self.node.response(i)[2], b"hello /%d" % i)
        self.stop()

    def test_environ_and_input(self):
        seen = {}

        def app(environ, start_response):
            seen.update(environ)
            seen["body"] = environ["wsgi.input"].read()
            start_response("200 OK", [])
            return [b""]

        self.start(app)
        self.node.send(request(7, "/x", b"payload", "POST", CONTENT_LENGTH="7"))
        self.node.response(7)
        self.assertEqual(seen["body"], b"payload")
        self.assertEqual(seen["REQUEST_METHOD"], "POST")
        self.assertEqual(seen["wsgi.version"], (1, 0))
        self.assertFalse(seen["wsgi.multithread"])
        self.assertTrue(seen["wsgi.input_terminated"])

    def test_a_body_in_a_file(self):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(b"from a file")
        self.addCleanup(os.unlink, f.name)

        def app(environ, start_response):
            start_response("200 OK", [])
            return [environ["wsgi.input"].read()]

        self.start(app)
        self.node.send(request(1, "/", method="POST", body_path=f.name))
        self.assertEqual(self.node.response(1)[2], b"from a file")

    def test_a_generator_streams_head_then_body_frames_then_end_and_close_runs(self):
        closed = []

        class Body:
            def __iter__(self):
                yield b""  # PEP 3333: no headers before the first non-empty chunk
                yield b"one"
                yield b"two"

            def close(self):
                closed.append(True)

        def app(environ, start_response):
            start_response("201 Created", [("X-A", "1")])
            return Body()

        self.start(app)
        self.node.send(request(3))
        kinds = []
        while True:
            kind, rid, payload = self.node.frame()
            kinds.append(kind)
            if kind == END:
                break
        self.assertEqual(kinds, [HEAD, BODY, BODY, END])
        self.assertEqual(closed, [True])

    def test_an_empty_body_still_sends_the_head(self):
        def app(environ, start_response):
            start_response("204 No Content", [])
            return iter([])

        self.start(app)
        self.node.send(request(1))
        # An iterable that yields nothing is a complete, empty body: one WHOLE frame, as for a list.
        self.assertEqual(self.node.response(1), ("204 No Content", [], b"", WHOLE))

    def test_an_exception_is_a_fail_frame_with_the_traceback_and_the_worker_goes_on(self):
        def app(environ, start_response):
            if environ["PATH_INFO"] == "/boom":
                raise RuntimeError("kaboom")
            return hello(environ, start_response)

        self.start(app)
        self.node.send(request(1, "/boom"), request(2, "/ok"))
        status, _, body, kind = self.node.response(1)
        self.assertEqual(kind, FAIL)
        self.assertIn(b"RuntimeError: kaboom", body)
        self.assertIn(b"Traceback", body)
        self.assertEqual(self.node.response(2)[2], b"hello /ok")


class SystemCalls(unittest.TestCase):
    """What goes out in one system call: Node wakes up once per write it has to read."""

    def test_the_head_goes_in_the_same_call_as_the_first_body_frame(self):
        near, far = socket.socketpair()
        self.addCleanup(near.close)
        self.addCleanup(far.close)
        conn = Connection(os.dup(near.fileno()))
        self.addCleanup(conn.sock.close)
        calls = []
        real = conn.sock

        class Recorder:
            def sendmsg(self, parts):
                calls.append([bytes(p) for p in parts])
                return real.sendmsg(parts)

            def sendall(self, data):
                return real.sendall(data)

        conn.sock = Recorder()
        conn.windows[7] = 1 << 20
        call = Call(conn, 7)
        call.start_response("200 OK", [("Content-Type", "text/plain")])
        end = call.respond(iter([b"", b"first", b"second"]), lambda rid: False)
        self.assertEqual(len(calls), 2, "head + first body, then the second body")
        kinds = [FRAME_HEADER.unpack(part)[1] for part in calls[0] if len(part) == FRAME_HEADER.size]
        self.assertEqual(kinds, [HEAD, BODY])
        self.assertEqual(calls[0][-1], b"first")
        self.assertEqual(calls[1][-1], b"second")
        self.assertEqual(FRAME_HEADER.unpack(end[0])[1], END)


class StartResponse(Harness):
    def run_app(self, app):
        self.start(app)
        self.node.send(request(1))
        return self.node.response(1)

    def test_no_start_response_is_a_failure(self):
        status, _, body, kind = self.run_app(lambda environ, start_response: [b"x"])
        self.assertEqual(kind, FAIL)
        self.assertIn(b"without calling start_response()", body)

    def test_a_second_call_without_exc_info_is_a_failure(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            start_response("500 Oops", [])
            return [b""]

        self.assertIn(b"a second time without exc_info", self.run_app(app)[2])

    def test_status_and_headers_must_be_str_and_list(self):
        def app(environ, start_response):
            start_response(b"200 OK", [])
            return []

        self.assertIn(b"status must be a str", self.run_app(app)[2])

    def test_exc_info_before_the_head_replaces_the_response(self):
        def app(environ, start_response):
            start_response("200 OK", [("X-First", "1")])
            try:
                raise ValueError("inner")
            except ValueError:
                start_response("500 Internal Server Error", [("X-Second", "2")], sys.exc_info())
            return [b"error page"]

        self.assertEqual(
            self.run_app(app), ("500 Internal Server Error", [("X-Second", "2")], b"error page", WHOLE)
        )

    def test_exc_info_after_the_head_reraises_it(self):
        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"partial")
            try:
                raise ValueError("after the head")
            except ValueError:
                start_response("500 Internal Server Error", [], sys.exc_info())
            return [b"never"]

        status, _, body, kind = self.run_app(app)
        self.assertEqual(kind, FAIL)
        self.assertIn(b"ValueError: after the head", body)


class Write(Harness):
    def test_write_sends_the_head_once_then_body_frames_before_the_iterable(self):
        def app(environ, start_response):
            write = start_response("200 OK", [("X-W", "1")])
            write(b"")  # nothing yet: no head
            write(b"written ")
            write(bytearray(b"bytes "))
            return [b"returned"]

        self.start(app)
        self.node.send(request(1))
        self.assertEqual(self.node.response(1), ("200 OK", [("X-W", "1")], b"written bytes returned", END))

    def test_write_before_start_response_and_of_str_fail(self):
        def app(environ, start_response):
            write = start_response("200 OK", [])
            write("text")
            return []

        self.start(app)
        self.node.send(request(1))
        status, _, body, kind = self.node.response(1)
        self.assertEqual(kind, FAIL)
        self.assertIn(b"write() takes bytes", body)


class FileWrapperTest(Harness):
    def setUp(self):
        fd, self.path = tempfile.mkstemp()
        self.content = bytes(range(256)) * 4 + b"0123456789" * 10  # 1124 bytes
        with os.fdopen(fd, "wb") as f:
            f.write(self.content)
        self.addCleanup(os.unlink, self.path)

    def serve_file(self, headers=(), before=None, wrap=None, read_first=0):
        opened = []

        def app(environ, start_response):
            f = open(self.path, "rb")
            opened.append(f)
            if read_first:
                f.read(read_first)
            write = start_response("200 OK", list(headers))
            if before:
                write(before)
            return environ["wsgi.file_wrapper"](wrap(f) if wrap else f)

        self.start(app)
        self.node.send(request(1))
        result = self.node.response(1)
        self.assertTrue(opened[0].closed, "close() was not passed on to the file")
        return result

    def test_a_whole_file(self):
        status, headers, body, kind = self.serve_file()
        self.assertEqual((status, body, kind), ("200 OK", self.content, END))

    def test_a_declared_content_length_is_not_exceeded(self):
        status, headers, body, kind = self.serve_file(headers=[("Content-Length", "10")])
        self.assertEqual(body, self.content[:10])

    def test_a_declared_content_length_counts_what_write_sent(self):
        _, _, body, _ = self.serve_file(headers=[("Content-Length", "15")], before=b"hello")
        self.assertEqual(body, b"hello" + self.content[:10])

    def test_the_head_goes_once_after_write(self):
        status, headers, body, kind = self.serve_file(before=b"first ")
        self.assertEqual(body, b"first " + self.content)  # Node.response refuses a second HEAD

    def test_a_buffered_file_the_app_has_read_from_starts_at_its_position(self):
        # BufferedReader read ahead (8 KiB): the fd's offset is at the end, tell() is at 100.
        _, _, body, _ = self.serve_file(read_first=100)
        self.assertEqual(body, self.content[100:])

    def test_a_file_like_object_without_a_descriptor_is_iterated(self):
        def in_memory(f):
            with f:
                return io.BytesIO(f.read())

        _, _, body, _ = self.serve_file(wrap=in_memory)
        self.assertEqual(body, self.content)

    def test_sendfile_stops_at_a_cancel_between_blocks_and_takes_credit_per_block(self):
        # Three blocks of a big file; the first spends the window, so the worker waits for CREDIT; a
        # CANCEL instead ends the response after that block.
        size = 3 * SENDFILE_BLOCK
        with open(self.path, "wb") as f:
            f.truncate(size)
        closed = []

        class Wrapped(io.FileIO):
            def close(self):
                closed.append(True)
                super().close()

        def app(environ, start_response):
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](Wrapped(self.path, "rb"))

        self.start(app)
        self.node.send(request(1))
        self.assertEqual(self.node.body_until_window_spent(1, INITIAL_WINDOW), INITIAL_WINDOW)
        self.node.send(frame(CANCEL, 1))
        self.assertEqual(self.node.frame(), (END, 1, b""))
        self.assertEqual(closed, [True])


    def test_sendfile_with_credit_to_spare_still_stops_at_a_cancel_between_blocks(self):
        size = 8 * SENDFILE_BLOCK
        with open(self.path, "wb") as f:
            f.truncate(size)

        def app(environ, start_response):
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](open(self.path, "rb"))

        self.start(app, threads=2)
        self.node.send(request(1))
        self.assertEqual(self.node.frame()[0], HEAD)  # the window is open from here on
        # Credit for the whole file, then the client leaves, while the first block fills the socket.
        self.node.send(credit(1, size), frame(CANCEL, 1))
        status, _, body, kind = self.node.response(1)
        self.assertEqual(kind, END)
        self.assertLess(len(body), size)
        self.assertEqual(len(body) % SENDFILE_BLOCK, 0)

class Cancel(Harness):
    def test_a_cancel_stops_the_iteration_and_close_runs(self):
        closed = threading.Event()
        produced = []

        class Endless:
            def __iter__(self):
                while True:
                    produced.append(1)
                    yield b"x" * 1024

            def close(self):
                closed.set()

        def app(environ, start_response):
            start_response("200 OK", [])
            return Endless()

        self.start(app)
        self.node.send(request(1))
        self.assertEqual(self.node.frame()[0], HEAD)
        self.node.send(frame(CANCEL, 1))
        while True:
            kind, rid, _ = self.node.frame()
            if kind == END:
                break
            self.assertEqual(kind, BODY)
        self.assertTrue(closed.wait(WAIT))

    def test_a_request_cancelled_before_it_started_is_not_run(self):
        ran = []
        gate = threading.Event()

        def app(environ, start_response):
            ran.append(environ["PATH_INFO"])
            start_response("200 OK", [])
            if environ["PATH_INFO"] == "/first":
                def body():
                    gate.wait(WAIT)
                    yield b"o"  # between chunks the loop takes in what waits on the socket
                    yield b"k"
                return body()
            return [b"ok"]

        self.start(app)
        self.node.send(request(1, "/first"), request(2, "/second"), frame(CANCEL, 2))
        gate.set()  # everything is in the socket now
        self.assertEqual(self.node.response(1)[2], b"ok")
        self.assertEqual(self.node.response(2), (None, None, b"", END))
        self.node.send(request(3, "/third"))
        self.assertEqual(self.node.response(3)[2], b"ok")
        self.assertEqual(ran, ["/first", "/third"])

    def test_write_raises_once_cancelled(self):
        raised = []

        def app(environ, start_response):
            write = start_response("200 OK", [])
            try:
                while True:
                    write(b"y" * 65536)
            except OSError as error:
                raised.append(error)
            return []

        self.start(app)
        self.node.send(request(1))
        self.node.body_until_window_spent(1, INITIAL_WINDOW)
        self.node.send(frame(CANCEL, 1))
        self.assertEqual(self.node.frame(), (END, 1, b""))
        self.assertEqual(len(raised), 1)


class Threads(Harness):
    threads = 3

    def test_requests_run_at_once_and_wsgi_multithread_is_true(self):
        barrier = threading.Barrier(3, timeout=WAIT)
        seen = []

        def app(environ, start_response):
            seen.append(environ["wsgi.multithread"])
            barrier.wait()  # passes only if three requests are inside the app together
            start_response("200 OK", [])
            return [environ["PATH_INFO"].encode()]

        self.start(app)
        self.node.send(request(1, "/1"), request(2, "/2"), request(3, "/3"))
        others = []
        bodies = {}
        for rid in (1, 2, 3):
            found = [f for f in others if f[1] == rid]
            if found:
                kind, _, payload = found[0]
                n = U32.unpack_from(payload, 0)[0]
                bodies[rid] = payload[4 + n:]
            else:
                bodies[rid] = self.node.response(rid, others)[2]
        self.assertEqual(bodies, {1: b"/1", 2: b"/2", 3: b"/3"})
        self.assertEqual(seen, [True] * 3)


class FlowControlCases:
    """Each request may send INITIAL_WINDOW body bytes before CREDIT; one that has spent it waits alone."""

    CHUNK = 65536

    def streaming(self, done):
        def app(environ, start_response):
            start_response("200 OK", [])
            if environ["PATH_INFO"] == "/small":
                return [b"small"]

            def body():
                try:
                    for _ in range(INITIAL_WINDOW // self.CHUNK + 4):
                        yield b"z" * self.CHUNK
                finally:
                    done.set()

            return body()

        return app

    def test_a_spent_window_waits_for_credit_then_goes_on(self):
        done = threading.Event()
        self.start(self.streaming(done))
        self.node.send(request(1, "/big"))
        self.assertEqual(self.node.body_until_window_spent(1, INITIAL_WINDOW), INITIAL_WINDOW)
        self.assertFalse(done.is_set())
        self.node.send(credit(1, 4 * self.CHUNK))
        status, _, body, kind = self.node.response(1)
        self.assertEqual((len(body), kind), (4 * self.CHUNK, END))
        self.assertTrue(done.is_set())

    def test_a_cancel_wakes_a_request_waiting_for_credit(self):
        done = threading.Event()
        self.start(self.streaming(done))
        self.node.send(request(1, "/big"))
        self.node.body_until_window_spent(1, INITIAL_WINDOW)
        self.node.send(frame(CANCEL, 1))
        self.assertEqual(self.node.frame(), (END, 1, b""))
        self.assertTrue(done.is_set())

    def test_credit_for_a_finished_request_is_dropped(self):
        self.start(hello)
        self.node.send(request(1), credit(1, 100), credit(99, 5), request(2, "/two"))
        self.node.response(1)
        self.assertEqual(self.node.response(2)[2], b"hello /two")
        self.stop()
        self.assertEqual(self.conn.windows, {})


class ThreadedFlowControl(FlowControlCases, Harness):
    threads = 2

    def test_others_go_on_while_one_waits_for_credit(self):
        done = threading.Event()
        self.start(self.streaming(done))
        self.node.send(request(1, "/big"))
        self.node.body_until_window_spent(1, INITIAL_WINDOW)
        # Request 1 has no credit left; request 2 runs on the other thread meanwhile.
        self.node.send(request(2, "/small"))
        self.assertEqual(self.node.response(2)[2], b"small")
        self.assertFalse(done.is_set())
        self.node.send(credit(1, INITIAL_WINDOW))
        self.assertEqual(len(self.node.response(1)[2]), 4 * self.CHUNK)


class SingleThreadedFlowControl(FlowControlCases, Harness):
    def test_requests_queued_behind_one_waiting_for_credit_are_kept_and_run_after(self):
        done = threading.Event()
        self.start(self.streaming(done))
        self.node.send(request(1, "/big"))
        self.node.body_until_window_spent(1, INITIAL_WINDOW)
        # Read by the waiting request (it is the reader) and kept for later, not lost.
        self.node.send(request(2, "/small"), credit(1, INITIAL_WINDOW))
        self.assertEqual(len(self.node.response(1)[2]), 4 * self.CHUNK)
        self.assertEqual(self.node.response(2)[2], b"small")


FIXTURE_APP = '''
import os, signal

def application(environ, start_response):
    path = environ["PATH_INFO"]
    start_response("200 OK", [])
    if path == "/pid":
        return [str(os.getpid()).encode()]
    if path == "/signal-me":
        # The worker's own process group gets TERM, INT and HUP mid-request, as a group signal would.
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            os.kill(os.getpid(), signum)  # delivered, and its handler run, before kill() returns
        return [b"survived"]
    if path == "/stream":
        def body():
            while True:
                print("streaming")
                yield b"s" * 65536
        return body()
    if path == "/child-signals":
        import subprocess
        out = subprocess.run(["grep", "-E", "^SigIgn", "/proc/self/status"], capture_output=True)
        return [out.stdout]
    return [b"?"]
'''


class WorkerProcess(unittest.TestCase):
    """python -m nodicorn_worker with the protocol socket on a descriptor this test holds the other end of."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()
        with open(os.path.join(self.dir, "procapp.py"), "w") as f:
            f.write(FIXTURE_APP)

    def spawn(self, module="procapp", attr="application"):
        ours, theirs = socket.socketpair()
        config = {"module": module, "attr": attr, "chdir": self.dir, "fd": theirs.fileno()}
        env = dict(os.environ, PYTHONPATH=PACKAGE)
        proc = subprocess.Popen(
            [sys.executable, "-m", "nodicorn_worker", json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(theirs.fileno(),),
            env=env,
        )
        theirs.close()
        self.addCleanup(ours.close)
        self.addCleanup(self.reap, proc)
        return proc, Node(ours)

    def reap(self, proc):
        if proc.poll() is None:
            proc.kill()
        proc.communicate()

    def ready(self, node):
        kind, rid, payload = node.frame()
        self.assertEqual(kind, READY, payload)
        return json.loads(payload)

    def test_term_int_and_hup_do_not_stop_a_worker_mid_request_nor_after(self):
        proc, node = self.spawn()
        self.ready(node)
        node.send(request(1, "/signal-me"))
        self.assertEqual(node.response(1)[2], b"survived")
        node.send(request(2, "/pid"))
        self.assertEqual(node.response(2)[2], str(proc.pid).encode())
        self.assertIsNone(proc.poll())
        node.sock.shutdown(socket.SHUT_WR)  # the end of the socket is the stop signal
        out, err = proc.communicate(timeout=WAIT)
        self.assertEqual((proc.returncode, err), (0, b""))

    def test_programs_the_app_runs_get_the_default_signal_dispositions(self):
        proc, node = self.spawn()
        self.ready(node)
        node.send(request(1, "/child-signals"))
        line = node.response(1)[2].decode()
        ignored = int(line.split()[1], 16)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.assertFalse(ignored & (1 << (signum - 1)), "%s ignored in a child: %s" % (signum, line))

    def test_node_going_away_mid_stream_exits_quietly(self):
        proc, node = self.spawn()
        self.ready(node)
        node.send(request(1, "/stream"))
        self.assertEqual(node.frame()[0], HEAD)
        self.assertEqual(node.frame()[0], BODY)
        # Node dies: its end of the socket and the worker's stdout and stderr pipes close.
        node.sock.close()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(WAIT)
        self.assertEqual((proc.returncode, err), (0, b""))

    def test_a_missing_attribute_is_one_line(self):
        proc, node = self.spawn(attr="nope")
        kind, _, payload = node.frame()
        self.assertEqual((kind, payload), (LOADFAIL, b"Failed to find attribute 'nope' in 'procapp'."))
        self.assertEqual(proc.wait(WAIT), 3)

    def test_a_missing_module_is_one_line(self):
        proc, node = self.spawn(module="no_such_module_here")
        kind, _, payload = node.frame()
        self.assertEqual((kind, payload), (LOADFAIL, b"No module named 'no_such_module_here'."))

    def test_an_app_whose_import_raises_gets_its_traceback(self):
        with open(os.path.join(self.dir, "broken.py"), "w") as f:
            f.write("import no_such_dependency_here\n")
        proc, node = self.spawn(module="broken")
        kind, _, payload = node.frame()
        self.assertEqual(kind, LOADFAIL)
        self.assertIn(b"Traceback", payload)
        self.assertIn(b"No module named 'no_such_dependency_here'", payload)


if __name__ == "__main__":
    unittest.main()
