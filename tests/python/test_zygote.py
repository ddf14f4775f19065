"""The fork server of --preload on its own, playing Node's part: SPAWN in, FORKED out, the forked worker
connects with its HELLO and READY, and once it exits (here: Node closes its connection) EXITED with its
status; with the control socket closed and no worker left, the fork server exits."""
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
        self.listen = os.path.join(self.dir, "workers.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.listen)
        self.server.listen(4)
        self.server.settimeout(20)
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
        self.server.close()
        shutil.rmtree(self.dir)

    def test_spawn_hello_exit(self):
        kind, rid, _ = read_frame(self.control)
        self.assertEqual((kind, rid), (READY, 0))
        self.control.sendall(frame(SPAWN, 7, json.dumps({"age": 1, "token": "ab" * 16}).encode()))
        kind, rid, payload = read_frame(self.control)
        self.assertEqual((kind, rid), (FORKED, 7))
        pid = U32.unpack(payload)[0]
        conn, _ = self.server.accept()
        conn.settimeout(20)
        kind, rid, payload = read_frame(conn)
        self.assertEqual((kind, rid, payload), (HELLO, 7, U32.pack(pid) + b"ab" * 16))
        kind, rid, payload = read_frame(conn)
        self.assertEqual((kind, rid, json.loads(payload)["pid"]), (READY, 0, pid))
        conn.close()  # a worker exits when Node closes its connection
        kind, rid, payload = read_frame(self.control)
        self.assertEqual((kind, rid, json.loads(payload)), (EXITED, 7, {"code": 0, "signal": None}))
        self.control.shutdown(socket.SHUT_WR)
        self.assertEqual(self.process.wait(20), 0)

    def test_killed_worker_reported_with_its_signal(self):
        read_frame(self.control)
        self.control.sendall(frame(SPAWN, 3, json.dumps({"age": 1, "token": "cd" * 16}).encode()))
        pid = U32.unpack(read_frame(self.control)[2])[0]
        conn, _ = self.server.accept()
        os.kill(pid, 9)
        kind, rid, payload = read_frame(self.control)
        self.assertEqual((kind, rid, json.loads(payload)), (EXITED, 3, {"code": None, "signal": "SIGKILL"}))
        conn.close()
        self.control.close()
        self.assertEqual(self.process.wait(20), 0)


if __name__ == "__main__":
    unittest.main()
