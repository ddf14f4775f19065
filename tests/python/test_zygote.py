"""The fork server of --preload on its own, playing Node's part: READY, then SPAWN in; Node connects to the
fork server's socket with the SPAWN's HELLO and the worker forked for it answers READY on that connection,
FORKED comes on the control socket; once it exits (here: Node closes its connection) EXITED with its status;
with the control socket closed and no worker left, the fork server exits. A HELLO without the right token
gets nothing."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

from nodicorn_worker.protocol import EXITED, FORKED, FRAME_HEADER, HELLO, READY, SPAWN, U32, frame

WORKER_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "python")


def read_frame(sock):
    head = b""
    while len(head) < 9:
        chunk = sock.recv(9 - len(head))
        if not chunk:
            return None
        head += chunk
    length, kind, rid = FRAME_HEADER.unpack(head)
    payload = b""
    while len(payload) < length - 5:
        payload += sock.recv(length - 5 - len(payload))
    return kind, rid, payload


class Zygote(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        with open(os.path.join(self.dir, "tinyapp.py"), "w") as f:
            f.write("def application(environ, start_response):\n    return []\n")
        self.listen = os.path.join(self.dir, "g1.sock")
        self.control, theirs = socket.socketpair()
        self.control.settimeout(20)
        config = {"module": "tinyapp", "attr": "application", "chdir": self.dir, "listen": self.listen,
                  "fd": theirs.fileno()}
        env = dict(os.environ, PYTHONPATH=os.path.abspath(WORKER_PATH))
        self.process = subprocess.Popen([sys.executable, "-m", "nodicorn_worker", "--zygote", json.dumps(config)],
                                        pass_fds=(theirs.fileno(),), env=env)
        theirs.close()

    def tearDown(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.control.close()
        shutil.rmtree(self.dir)

    def connect(self, rid, token):
        """Node's side of a worker's connection: connect, then HELLO with the SPAWN's token."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(20)
        conn.connect(self.listen)
        conn.sendall(frame(HELLO, rid, token))
        return conn

    def spawn(self, rid, token):
        self.control.sendall(frame(SPAWN, rid, json.dumps({"age": 1, "token": token.decode()}).encode()))

    def test_spawn_hello_exit(self):
        kind, rid, _ = read_frame(self.control)
        self.assertEqual((kind, rid), (READY, 0))
        self.assertEqual(os.stat(self.listen).st_mode & 0o777, 0o600)
        self.spawn(7, b"ab" * 16)
        conn = self.connect(7, b"ab" * 16)
        kind, rid, payload = read_frame(self.control)
        self.assertEqual((kind, rid), (FORKED, 7))
        pid = U32.unpack(payload)[0]
        kind, rid, payload = read_frame(conn)
        self.assertEqual((kind, rid, json.loads(payload)["pid"]), (READY, 0, pid))
        conn.close()  # a worker exits when Node closes its connection
        kind, rid, payload = read_frame(self.control)
        self.assertEqual((kind, rid, json.loads(payload)), (EXITED, 7, {"code": 0, "signal": None}))
        self.control.shutdown(socket.SHUT_WR)
        self.assertEqual(self.process.wait(20), 0)

    def test_a_hello_without_the_token_gets_no_worker(self):
        read_frame(self.control)
        self.spawn(5, b"ef" * 16)
        for rid, token in ((5, b"00" * 16), (6, b"ef" * 16), (5, b"ef" * 15)):
            conn = self.connect(rid, token)
            try:
                closed = conn.recv(1) == b""
            except ConnectionResetError:  # closed with the HELLO unread
                closed = True
            self.assertTrue(closed, "the fork server closes a connection it has no worker for")
            conn.close()
        conn = self.connect(5, b"ef" * 16)  # the right one still gets its worker
        self.assertEqual(read_frame(self.control)[:2], (FORKED, 5))
        self.assertEqual(read_frame(conn)[:2], (READY, 0))
        conn.close()
        self.assertEqual(read_frame(self.control)[:2], (EXITED, 5))

    def test_killed_worker_reported_with_its_signal(self):
        read_frame(self.control)
        self.spawn(3, b"cd" * 16)
        conn = self.connect(3, b"cd" * 16)
        pid = U32.unpack(read_frame(self.control)[2])[0]
        os.kill(pid, 9)
        kind, rid, payload = read_frame(self.control)
        self.assertEqual((kind, rid, json.loads(payload)), (EXITED, 3, {"code": None, "signal": "SIGKILL"}))
        conn.close()
        self.control.close()
        self.assertEqual(self.process.wait(20), 0)


if __name__ == "__main__":
    unittest.main()
