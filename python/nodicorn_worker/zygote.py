"""The fork server of --preload: imports the app once, then forks a worker whenever Node asks, so that the
workers share the imported code and data copy-on-write and a replacement starts without an import.

Node spawns one per generation (a SIGHUP starts a new one with the new code) with its control socket on
fd 3 (frames of protocol.py: SPAWN in; READY or LOADFAIL, FORKED, EXITED out). Once the app is imported it
listens on a Unix socket in Node's private directory (config["listen"]). For each SPAWN, Node connects
there and says HELLO with the worker's id and the SPAWN's one-time token; the fork server forks, and the
worker closes the fork server's sockets and runs the normal worker (__main__.run) on that connection, so
Node reads it as it reads a spawned worker's. Node keeps the supervision: the fork server only forks,
and, being the workers' parent, reaps them and reports how each one exited (Node cannot wait for
processes it did not start).

The fork server stops forking when Node closes its control socket, and exits once its last worker has
exited. It ignores the signals a supervisor or a terminal may send to the whole process group (Node is
the one that acts on them); a forked worker gets the default handling back, as a spawned one has it."""
import gc
import hmac
import json
import os
import select
import signal
import socket
import sys
import traceback

from .loader import AppImportError, load_app
from .protocol import EXITED, FORKED, FRAME_HEADER, HELLO, LOADFAIL, READY, SPAWN, U32, frame


# The master's signals (Gunicorn's set): sent to the process group, they must not stop or kill the fork server.
GROUP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGTTIN, signal.SIGTTOU,
                 signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)


def _receive(conn, n):
    """Exactly n bytes from conn, or None if it closes first."""
    data = b""
    while len(data) < n:
        got = conn.recv(n - len(data))
        if not got:
            return None
        data += got
    return data


def _exit_status(status):
    """A waitpid status as Node reports a child's exit: (code, signal name), one of them None."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return None, signal.Signals(number).name
        except ValueError:
            return None, "SIG%d" % number
    return os.WEXITSTATUS(status), None


# Node writes its HELLO as it connects: a connection that says nothing for this long is dropped.
HELLO_TIMEOUT = 2.0
TOKEN_LENGTH = 32


class Zygote:
    def __init__(self, config, control, app, listener):
        self.config = config
        self.control = control
        self.app = app
        self.listener = listener
        self.buf = bytearray()
        self.spawns = {}  # worker id -> its SPAWN, until Node's connection for it arrives
        self.children = {}  # pid -> worker id
        self.open = True
        # SIGCHLD wakes the select() below through this pipe (the handler itself does nothing).
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)

    def send(self, kind, rid, payload=b""):
        try:
            self.control.sendall(frame(kind, rid, payload))
        except OSError:
            pass  # Node is gone: the workers see their own connections close and exit

    def serve(self):
        while self.open or self.children:
            watched = [self.wake_r, self.control, self.listener] if self.open else [self.wake_r]
            try:
                readable = select.select(watched, [], [])[0]
            except InterruptedError:
                readable = []
            # Control first: a connection's SPAWN was written before Node connected.
            if self.control in readable:
                self.read_control()
            if self.open and self.listener in readable:
                self.accept()
            if self.wake_r in readable:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
            self.reap()

    def read_control(self):
        try:
            chunk = self.control.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.open = False  # no more workers from this code: wait for the ones running
            self.listener.close()
            return
        self.buf += chunk
        while len(self.buf) >= 9:
            length, kind, rid = FRAME_HEADER.unpack_from(self.buf, 0)
            if len(self.buf) < 4 + length:
                break
            payload = bytes(self.buf[9:4 + length])
            del self.buf[:4 + length]
            if kind == SPAWN:
                self.spawns[rid] = json.loads(payload.decode("utf-8"))

    def accept(self):
        """Node's connection for a worker: forked for it when its HELLO carries that worker's SPAWN token."""
        try:
            conn = self.listener.accept()[0]
        except OSError:
            return
        try:
            conn.settimeout(HELLO_TIMEOUT)
            header = _receive(conn, FRAME_HEADER.size)
            length, kind, rid = FRAME_HEADER.unpack(header) if header is not None else (0, 0, 0)
            spawn = self.spawns.get(rid)
            if kind == HELLO and length == 5 + TOKEN_LENGTH and spawn is not None:
                token = _receive(conn, TOKEN_LENGTH)
                if token is not None and hmac.compare_digest(token, spawn["token"].encode("ascii")):
                    del self.spawns[rid]
                    conn.settimeout(None)
                    self.fork(rid, spawn, conn)
        except OSError:
            pass
        finally:
            conn.close()  # the worker has its own copy

    def reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            rid = self.children.pop(pid, None)
            if rid is not None:
                code, name = _exit_status(status)
                self.send(EXITED, rid, json.dumps({"code": code, "signal": name}).encode())

    def fork(self, rid, spawn, conn):
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            self.children[pid] = rid
            self.send(FORKED, rid, U32.pack(pid))
            return
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for signum in GROUP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.control.close()
            self.listener.close()
            from .__main__ import run
            from .worker import Connection

            run(self.config, int(spawn.get("age", 0)), Connection(conn.detach()), self.app)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            # Never back into the fork server's loop: the worker ends here.
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)


def main(config):
    for signum in GROUP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    config = dict(config, master_pid=os.getppid())  # hooks' server.pid and worker.ppid in the workers
    control = socket.socket(fileno=int(config.get("fd", 3)))
    control.setblocking(True)
    try:
        app = load_app(config["module"], config["attr"], config.get("chdir", ""), config.get("pythonpath", []))
    except AppImportError as error:
        # The reference names nothing loadable: one line, as a worker says it (__main__.py).
        control.sendall(frame(LOADFAIL, 0, str(error).encode("utf-8", "replace")))
        sys.exit(3)
    except BaseException:
        control.sendall(frame(LOADFAIL, 0, traceback.format_exc().encode("utf-8", "replace")))
        sys.exit(3)
    # What the import made stays out of the collector's passes: a collection in a worker would otherwise
    # write to every object's header and un-share its page (Python 3.7+, as Instagram's pre-fork servers).
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(config["listen"])
    os.chmod(config["listen"], 0o600)
    listener.listen(64)
    control.sendall(frame(READY, 0, json.dumps({"pid": os.getpid(), "python": sys.version.split()[0]}).encode()))
    Zygote(config, control, app, listener).serve()
