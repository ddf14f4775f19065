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
import time
import traceback
from time import monotonic

from .protocol import (BODY, CANCEL, CREDIT, END, FAIL, FRAME_HEADER, HEAD, INITIAL_WINDOW, REQUEST, SOURCES, U32,
                       WHOLE, decode_request, encode_head, frame_header)
from .rules import InvalidResponse, check_headers, check_status

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
        # Node closed its end (or died): nothing more will come.
        self.eof = False
        # Node cannot be written to any more: frames are dropped, requests stop at their next chunk.
        self.gone = False

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
            try:
                chunk = self.sock.recv(max(want, 65536))
            except OSError:
                chunk = b""  # Node is gone (ECONNRESET): the same as the end of the stream
            if not chunk:
                self.eof = True
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
            try:
                n = self.sock.recv_into(view[have:])
            except OSError:
                n = 0
            if n == 0:
                self.eof = True
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
        while self.buffered() or select.select((self.sock,), (), (), 0)[0]:
            got = self.read_frame()
            if got is None:
                self.eof = True
                self.cancelled.add(rid)
                break
            self.take_in(got, rid)
        return rid in self.cancelled

    def buffered(self):
        """Whether a whole frame is already read, in the buffer (select() cannot see those)."""
        buf = self.buf
        return len(buf) >= 9 and len(buf) >= 4 + U32.unpack_from(buf, 0)[0]

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
        if self.gone:
            return 0
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
        """Writes one frame (its parts back to back). Once Node is gone it is dropped: a worker whose
        master died has nobody to answer, and its requests stop at their next chunk (take_credit is 0)."""
        total = sum(len(p) for p in parts)
        with self.lock:
            if self.gone:
                return
            try:
                sent = self.sock.sendmsg(parts)
                if sent < total:
                    self.sock.sendall(b"".join(parts)[sent:])
            except OSError:
                self.lost()

    def lost(self):
        """Node cannot be written to (EPIPE, ECONNRESET): it died or closed the socket on us."""
        self.gone = True
        self.eof = True
        self.wake()

    def send_frame(self, kind, rid, payload=b""):
        self.send(frame_header(kind, rid, len(payload)), payload)

    def sendfile(self, rid, fd, offset, count, poll_cancel):
        """Sends `count` bytes of a file from `offset` as BODY frames, kernel to socket (os.sendfile), no
        copy in Python. Each block within the request's credit; stops at a cancel between blocks. Returns
        the bytes sent."""
        sent = 0
        while count > 0:
            block = self.take_credit(rid, min(count, SENDFILE_BLOCK))
            if block == 0:
                break
            with self.lock:
                if self.gone:
                    break
                short = False
                try:
                    self.sock.sendall(frame_header(BODY, rid, block))
                    left = block
                    while left > 0:
                        n = os.sendfile(self.fd, fd, offset, left)
                        if n == 0:
                            # The file shrank under us. The frame announced `block` bytes: pad them, so
                            # the stream stays in step for the other requests, and fail this one.
                            self.sock.sendall(bytes(left))
                            short = True
                            break
                        offset += n
                        left -= n
                except OSError:
                    self.lost()
                    break
            if short:
                raise IOError("the file shrank while it was being sent")
            sent += block
            count -= block
            if count > 0 and poll_cancel(rid):
                break
        return sent


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
        # PEP 3333: header errors are raised here, while the app runs; the rules are rules.ts's (rules.py).
        code = check_status(status)
        problem = code if type(code) is str else check_headers(headers)
        if problem is not None:
            raise InvalidResponse(problem)
        self.status = status
        self.headers = headers
        return self.write

    def head_payload(self):
        if self.status is None:
            raise AssertionError("the application returned a body without calling start_response()")
        return encode_head(self.status, self.headers)

    def send_head(self):
        self.conn.send(*self.pending_head())

    def pending_head(self):
        """The HEAD frame's parts if it has not gone out yet (it is then counted as sent), else ()."""
        if self.head_sent:
            return ()
        payload = self.head_payload()
        self.head_sent = True
        return (frame_header(HEAD, self.rid, len(payload)), payload)

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
        if not self.send_body(data):
            raise ClientDisconnected("the client went away")

    def send_body(self, data):
        """BODY frames for `data` within the request's credit; False when the request was cancelled. The
        head, if still to go, goes in the same system call as the first of them (one wakeup for Node)."""
        conn = self.conn
        rid = self.rid
        n = len(data)
        got = conn.take_credit(rid, n)
        if got == n:
            self.sent += n
            conn.send(*self.pending_head(), frame_header(BODY, rid, n), data)
            return True
        head = self.pending_head()
        if head:
            conn.send(*head)
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
        if type(result) is FileWrapper and self.sendfile(result, poll_cancel):
            return (frame_header(END, self.rid, 0),)
        rid = self.rid
        for chunk in result:
            if type(chunk) is not bytes:
                raise TypeError("response body items must be bytes, got %s" % type(chunk).__name__)
            if not chunk:
                continue  # PEP 3333: headers wait for the first non-empty chunk (send_body sends them)
            if not self.send_body(chunk) or poll_cancel(rid):
                break
        if not self.head_sent:
            # No body at all: the head goes out as a WHOLE response, with Content-Length: 0 as in TypeScript.
            head = self.head_payload()
            return (frame_header(WHOLE, rid, 4 + len(head)), U32.pack(len(head)), head)
        return (frame_header(END, rid, 0),)

    def sendfile(self, wrapper, poll_cancel):
        """A FileWrapper around a regular file: its bytes from the file's position, and no more than a
        declared Content-Length, go out with os.sendfile. False when it cannot (then it is iterated)."""
        filelike = wrapper.filelike
        if isinstance(filelike, io.TextIOBase):
            return False  # str, not bytes: iterating it gives the app its TypeError
        try:
            fd = filelike.fileno()
            st = os.fstat(fd)
            # tell(), not lseek(fd): a buffered file the app has read from is ahead of its position.
            offset = filelike.tell()
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False
        if not stat.S_ISREG(st.st_mode):
            return False
        count = max(0, st.st_size - offset)
        declared = self.declared_length()
        if declared is not None:
            # PEP 3333: the server must not send more than the Content-Length the app declared.
            count = min(count, max(0, declared - self.sent))
        if not self.head_sent:
            self.send_head()
        self.sent += self.conn.sendfile(self.rid, fd, offset, count, poll_cancel)
        return True

    def declared_length(self):
        """The Content-Length the app set, or None (none, or not a number: Node refuses that one)."""
        for name, value in self.headers:
            if type(name) is str and name.lower() == "content-length" and type(value) is str:
                value = value.strip()
                return int(value) if value.isascii() and value.isdigit() else None
        return None


def log_close_error(environ, text):
    """An exception from the response's close(), in the error log's line format (stderr goes there)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime())
    sys.stderr.write("[%s] [%d] [ERROR] Error in close() of the response body of %s %s\n%s" % (
        stamp, os.getpid(), environ.get("REQUEST_METHOD"), environ.get("RAW_URI"), text))
    sys.stderr.flush()


class Worker:
    def __init__(self, app, conn, threads, multiprocess, hooks=None):
        # No stop flag and no signal handler: Node is the supervisor, and the end of the socket is the
        # worker's one stop signal (__main__.py ignores TERM, INT and HUP).
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
        close_error = None
        try:
            try:
                result = self.app(environ, call.start_response)
                try:
                    final = call.respond(result, poll_cancel)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        try:
                            close()
                        except Exception:
                            # The response is complete (or failed on its own): it is sent all the same,
                            # and the error logged, as Gunicorn does.
                            close_error = traceback.format_exc()
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
        if close_error is not None:
            log_close_error(environ, close_error)
        if hooks is not None:
            # After the response went to Node, as Gunicorn runs it after the response was written.
            hooks.after(req, environ, call.status, call.headers, call.sent)
        if self.sources is not None:
            files = self.sources.new_files()
            if files:
                conn.send_frame(SOURCES, 0, json.dumps(files).encode())

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
        read_frame = conn.read_frame
        while True:
            got = waiting.popleft() if waiting else read_frame()
            if got is None:
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

        while True:
            got = conn.read_frame()
            if got is None:
                break
            if got[0] == REQUEST:
                active.add(got[1])
                work.put((got[1], got[2]))
            else:
                take(got)
        # End of the stream: Node sends it only once this worker holds no request (retire), or it died.
        # Either way nothing more is coming; threads waiting for credit give up, the pool stops.
        for _ in pool:
            work.put(None)
        conn.wake()
        for t in pool:
            t.join()
