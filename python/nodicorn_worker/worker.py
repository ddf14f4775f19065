"""The request loop: frames in, PEP 3333 calls, frames out. One request at a time on the main thread by
default (Gunicorn's sync model, minus its slow-client weakness: Node does all network I/O); with
threads > 1 a reader thread feeds a pool of request threads, requests multiplexed by id."""
import collections
import io
import json
import os
import queue
import select
import socket
import stat
import sys
import threading
import traceback
from time import monotonic

from .protocol import (BODY, CANCEL, CREDIT, END, FAIL, FRAME_HEADER, HEAD, INITIAL_WINDOW, REQUEST, SOURCES, U32,
                       WHOLE, decode_request, encode_head, frame_header)

SENDFILE_BLOCK = 1 << 20
# Frames with more than this still to come are read into a buffer of their own (Connection.read_large).
LARGE_FRAME = 1 << 16
# While a response streams, the socket is looked at for a CANCEL at most this often (seconds): a select()
# per chunk would cost a system call per chunk.
CANCEL_POLL_INTERVAL = 0.005


class FileWrapper:
    """PEP 3333 wsgi.file_wrapper. A wrapper around a real file is sent with os.sendfile by the worker, so
    its bytes never pass through Python; anything else is iterated in blocks."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


class ClientDisconnected(OSError):
    """Raised by write() when the request was cancelled (its client left): the app should stop."""


class Connection:
    """The socket to Node. Reads are done by one thread; writes from any thread, each frame atomically.

    Flow control (protocol.ts): each running request has a window of BODY bytes it may still send. A
    request that has spent it waits for CREDIT, alone: in the single-threaded loop by reading frames
    itself, with threads on a condition the reader thread signals."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(True)
        self.fd = self.sock.fileno()
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.cancelled = set()
        # Requests read while another was running (Node may queue a few behind the one running).
        self.waiting = collections.deque()
        self.next_poll = 0.0
        self.windows = {}
        self.credit = threading.Condition(threading.Lock())
        self.threaded = False
        self.eof = False

    def read_frame(self):
        """The next frame as (type, id, payload memoryview), or None at end of stream."""
        buf = self.buf
        while True:
            have = len(buf)
            if have >= 9:
                length, kind, rid = FRAME_HEADER.unpack_from(buf, 0)
                total = 4 + length
                if have >= total:
                    with memoryview(buf) as view:
                        payload = view[9:total].tobytes()
                    del buf[:total]
                    return kind, rid, memoryview(payload)
                if total - have > LARGE_FRAME:
                    return self.read_large(kind, rid, total)
                want = total - have
            else:
                want = 9 - have
            chunk = self.sock.recv(max(want, 65536))
            if not chunk:
                return None
            if not buf and len(chunk) >= 9:
                length, kind, rid = FRAME_HEADER.unpack_from(chunk, 0)
                if len(chunk) == 4 + length:  # the common case: exactly one whole frame
                    return kind, rid, memoryview(chunk)[9:]
            buf += chunk

    def read_large(self, kind, rid, total):
        """A large frame (a request with its body) is read straight into its own buffer: no growing and
        re-copying of the shared one."""
        frame = bytearray(total)
        have = len(self.buf)
        frame[:have] = self.buf
        self.buf = bytearray()
        view = memoryview(frame)
        while have < total:
            n = self.sock.recv_into(view[have:])
            if n == 0:
                return None
            have += n
        return kind, rid, view[9:]

    def poll_cancel(self, rid):
        """For the single-threaded loop, between body chunks: takes in the frames waiting on the socket
        (CANCELs, and requests queued behind this one) and tells whether `rid` was cancelled. Looks at the
        socket at most every CANCEL_POLL_INTERVAL."""
        now = monotonic()
        if now < self.next_poll:
            return rid in self.cancelled
        self.next_poll = now + CANCEL_POLL_INTERVAL
        while select.select((self.sock,), (), (), 0)[0]:
            got = self.read_frame()
            if got is None:
                self.eof = True
                self.cancelled.add(rid)
                break
            self.take_in(got, rid)
        return rid in self.cancelled

    def take_in(self, got, running):
        """Single-threaded loop, while `running` runs: a frame that is not for now is kept or applied."""
        kind = got[0]
        if kind == CREDIT:
            self.add_credit(got[1], got[2])
        elif kind == CANCEL:
            self.note_cancel(got[1], running)
        else:
            self.waiting.append(got)

    def open_window(self, rid):
        with self.credit:
            self.windows[rid] = INITIAL_WINDOW

    def close_window(self, rid):
        with self.credit:
            self.windows.pop(rid, None)

    def add_credit(self, rid, payload):
        """A CREDIT frame; one for a request that has finished is dropped."""
        n = U32.unpack_from(payload, 0)[0]
        with self.credit:
            if rid in self.windows:
                self.windows[rid] += n
                self.credit.notify_all()

    def wake(self):
        """Threads waiting for credit look again (a CANCEL or the end of the stream came)."""
        with self.credit:
            self.credit.notify_all()

    def take_credit(self, rid, want):
        """Up to `want` bytes of `rid`'s window, waiting for CREDIT while it is empty; 0 once the request
        is cancelled or Node is gone."""
        if not self.threaded:
            windows = self.windows
            while True:
                have = windows.get(rid, 0)
                if have > 0:
                    n = want if want < have else have
                    windows[rid] = have - n
                    return n
                if rid in self.cancelled or self.eof:
                    return 0
                got = self.read_frame()  # this thread is the reader: wait for Node here
                if got is None:
                    self.eof = True
                    return 0
                self.take_in(got, rid)
        with self.credit:
            while True:
                have = self.windows.get(rid, 0)
                if have > 0:
                    n = want if want < have else have
                    self.windows[rid] = have - n
                    return n
                if rid in self.cancelled or self.eof:
                    return 0
                self.credit.wait()

    def note_cancel(self, rid, running):
        """Remembers a CANCEL for the running request or one still waiting. One for a request that has just
        finished (it crossed our END on the way) is dropped, so the set cannot grow."""
        if rid == running or any(w[1] == rid for w in self.waiting):
            self.cancelled.add(rid)

    def send(self, *parts):
        total = sum(len(p) for p in parts)
        with self.lock:
            sent = self.sock.sendmsg(parts)
            if sent < total:
                self.sock.sendall(b"".join(parts)[sent:])

    def send_frame(self, kind, rid, payload=b""):
        self.send(frame_header(kind, rid, len(payload)), payload)

    def sendfile(self, rid, fd, offset, count):
        """Sends `count` bytes of a file as BODY frames, kernel to socket (os.sendfile), no copy in Python.
        Each block within the request's credit; stops early when the request is cancelled."""
        while count > 0:
            block = self.take_credit(rid, min(count, SENDFILE_BLOCK))
            if block == 0:
                return
            with self.lock:
                self.sock.sendall(frame_header(BODY, rid, block))
                left = block
                while left > 0:
                    n = os.sendfile(self.fd, fd, offset, left)
                    if n == 0:
                        raise IOError("file shrank while it was being sent")
                    offset += n
                    left -= n
            count -= block


class Call:
    """One application call: start_response's state machine (PEP 3333) and the response frames."""

    __slots__ = ("conn", "rid", "status", "headers", "head_sent", "sent")

    def __init__(self, conn, rid):
        self.conn = conn
        self.rid = rid
        self.status = None
        self.headers = None
        self.head_sent = False
        self.sent = 0  # body bytes, for post_request's resp.sent

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.head_sent:
                    # PEP 3333: headers already sent, so the error can only propagate.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        if type(status) is not str:
            raise TypeError("status must be a str, got %s" % type(status).__name__)
        if type(headers) is not list:
            raise TypeError("headers must be a list, got %s" % type(headers).__name__)
        self.status = status
        self.headers = headers
        return self.write

    def head_payload(self):
        if self.status is None:
            raise AssertionError("the application returned a body without calling start_response()")
        return encode_head(self.status, self.headers)

    def send_head(self):
        self.conn.send_frame(HEAD, self.rid, self.head_payload())
        self.head_sent = True

    def write(self, data):
        """PEP 3333's write() callable: the bytes go out now, headers first if needed."""
        if self.status is None:
            raise AssertionError("write() called before start_response()")
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("write() takes bytes, got %s" % type(data).__name__)
            data = bytes(data)
        if not data:
            return
        if not self.head_sent:
            self.send_head()
        if not self.send_body(data):
            raise ClientDisconnected("the client went away")

    def send_body(self, data):
        """BODY frames for `data` within the request's credit; False when the request was cancelled."""
        conn = self.conn
        rid = self.rid
        n = len(data)
        got = conn.take_credit(rid, n)
        if got == n:
            self.sent += n
            conn.send_frame(BODY, rid, data)
            return True
        view = memoryview(data)
        while got:
            self.sent += got
            conn.send_frame(BODY, rid, view[:got])
            view = view[got:]
            if not view:
                return True
            got = conn.take_credit(rid, len(view))
        return False

    def respond(self, result, poll_cancel):
        """Sends the body of `result`; returns the frame that completes the response (sent after close())."""
        if type(result) is list and not self.head_sent:
            # Fast path: the whole body is known, so it goes out as one frame with Content-Length.
            body = result[0] if len(result) == 1 else b"".join(result)
            if type(body) is not bytes:
                raise TypeError("response body items must be bytes, got %s" % type(body).__name__)
            head = self.head_payload()
            self.sent = len(body)
            return (frame_header(WHOLE, self.rid, 4 + len(head) + len(body)), U32.pack(len(head)), head, body)
        if type(result) is FileWrapper and self.sendfile(result):
            return (frame_header(END, self.rid, 0),)
        rid = self.rid
        for chunk in result:
            if type(chunk) is not bytes:
                raise TypeError("response body items must be bytes, got %s" % type(chunk).__name__)
            if not chunk:
                continue  # PEP 3333: headers wait for the first non-empty chunk
            if not self.head_sent:
                self.send_head()
            if not self.send_body(chunk) or poll_cancel(rid):
                break
        if not self.head_sent:
            self.send_head()
        return (frame_header(END, rid, 0),)

    def sendfile(self, wrapper):
        try:
            fd = wrapper.filelike.fileno()
            mode = os.fstat(fd).st_mode
        except (AttributeError, OSError, io.UnsupportedOperation):
            return False
        if not stat.S_ISREG(mode):
            return False
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        size = os.fstat(fd).st_size
        self.send_head()
        self.sent = max(0, size - offset)
        self.conn.sendfile(self.rid, fd, offset, self.sent)
        return True


class Stop(Exception):
    """Raised by the SIGTERM handler while the worker waits for work: leave the read loop."""


class Worker:
    def __init__(self, app, conn, threads, multiprocess, hooks=None):
        # SIGTERM (systemd signals the whole control group): finish the request running, then exit.
        # Requests still waiting behind it were never started; Node gives them to another worker.
        self.waiting_for_work = False
        self.stopping = False
        self.app = app
        self.conn = conn
        self.threads = threads
        self.hooks = hooks  # gunicorn.conf.py's pre_request/post_request (hooks.py), or None
        self.sources = None  # --reload: loader.SourceFiles, to report modules imported by requests
        self.base = {
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": threads > 1,
            "wsgi.multiprocess": multiprocess,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
        }

    def handle(self, rid, payload, poll_cancel):
        pairs, body, body_path = decode_request(payload)
        environ = self.base.copy()
        environ.update(pairs)
        stream = io.BytesIO(body) if body_path is None else open(body_path, "rb")
        environ["wsgi.input"] = stream
        call = Call(self.conn, rid)
        conn = self.conn
        conn.open_window(rid)
        hooks = self.hooks
        if hooks is not None:
            req = hooks.before(environ)
        try:
            try:
                result = self.app(environ, call.start_response)
                try:
                    final = call.respond(result, poll_cancel)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            finally:
                stream.close()
        except Exception:
            if rid in conn.cancelled:
                # The client left: whatever the app raised on its way out (ClientDisconnected from write(),
                # say) is no error of the app's; Node dropped the response already.
                conn.send_frame(END, rid)
            else:
                conn.send_frame(FAIL, rid, traceback.format_exc().encode("utf-8", "replace"))
        else:
            conn.send(*final)
        finally:
            conn.close_window(rid)
            conn.cancelled.discard(rid)
        if hooks is not None:
            # After the response went to Node, as Gunicorn runs it after the response was written.
            hooks.after(req, environ, call.status, call.headers, call.sent)
        if self.sources is not None:
            files = self.sources.new_files()
            if files:
                conn.send_frame(SOURCES, 0, json.dumps(files).encode())

    def on_sigterm(self, signum, frame):
        self.stopping = True
        if self.waiting_for_work:
            raise Stop()

    def next_frame(self):
        """The next frame from Node, or Stop when SIGTERM came while waiting for it."""
        self.waiting_for_work = True
        try:
            return self.conn.read_frame()
        except Stop:
            return Stop
        finally:
            self.waiting_for_work = False

    def serve(self):
        if self.threads == 1:
            self.serve_single()
        else:
            self.serve_threaded()

    def run(self, rid, payload, poll_cancel):
        """Runs one request, unless its client left while it waited: then there is nothing to run."""
        cancelled = self.conn.cancelled
        if rid in cancelled:
            cancelled.discard(rid)
            self.conn.send_frame(END, rid)
        else:
            self.handle(rid, payload, poll_cancel)

    def serve_single(self):
        conn = self.conn
        run = self.run
        poll_cancel = conn.poll_cancel
        waiting = conn.waiting
        while not self.stopping:
            got = waiting.popleft() if waiting else self.next_frame()
            if got is Stop or got is None:
                return
            kind, rid, payload = got
            if kind == REQUEST:
                run(rid, payload, poll_cancel)
            elif kind == CANCEL:
                conn.note_cancel(rid, None)
            elif kind == CREDIT:
                conn.add_credit(rid, payload)

    def serve_threaded(self):
        conn = self.conn
        work = queue.SimpleQueue()
        cancelled = conn.cancelled
        active = set()  # ids queued or running, so a late CANCEL for a finished one is not kept

        def is_cancelled(rid):
            return rid in cancelled

        def take_work():
            while True:
                item = work.get()
                if item is None:
                    return
                try:
                    self.run(item[0], item[1], is_cancelled)
                finally:
                    active.discard(item[0])

        conn.threaded = True
        pool = [threading.Thread(target=take_work, daemon=True) for _ in range(self.threads)]
        for t in pool:
            t.start()
        def take(got):
            kind, rid, payload = got
            if kind == CREDIT:
                conn.add_credit(rid, payload)
            elif kind == CANCEL and rid in active:
                cancelled.add(rid)
                conn.wake()

        got = None
        while not self.stopping:
            got = self.next_frame()
            if got is Stop or got is None:
                break
            if got[0] == REQUEST:
                active.add(got[1])
                work.put((got[1], got[2]))
            else:
                take(got)
        for _ in pool:
            work.put(None)
        # Requests still running may need CREDIT (or a CANCEL) to finish: keep reading until they are done.
        # A REQUEST now is one Node sent before it saw us stop; it never started, and Node re-queues it.
        while got is not None and any(t.is_alive() for t in pool):
            if select.select((conn.sock,), (), (), 0.05)[0]:
                got = conn.read_frame()
                if got is not None and got[0] != REQUEST:
                    take(got)
        conn.eof = True
        conn.wake()
        for t in pool:
            t.join()
