"""Gunicorn config files seen from Python: what gunicorn_conf.py reports, and the hook stand-ins."""
import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr

from nodicorn_worker.gunicorn_conf import arity, describe, load
from nodicorn_worker.hooks import Hooks, Log, Request, Response, apply_headers

CONF = '''
import multiprocessing
from os import path
bind = ["127.0.0.1:8000", ("unix:/tmp/a.sock")]
workers = multiprocessing.cpu_count() * 2 + 1
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
ratio = float("nan")
_private = 1
class Helper:
    pass
def post_request(worker, req, environ=None):
    pass
def pre_request(worker, req):
    req.headers.append(("X-ADDED", req.path))
def post_worker_init(worker, *rest):
    pass
'''


class ConfFile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "gunicorn.conf.py")
        with open(self.path, "w") as f:
            f.write(CONF)

    def test_describe(self):
        names = describe(load(self.path))
        self.assertEqual(names["bind"], {"value": ["127.0.0.1:8000", "unix:/tmp/a.sock"]})
        self.assertEqual(names["workers"], {"value": os.cpu_count() * 2 + 1})
        self.assertEqual(names["secure_scheme_headers"], {"value": {"X-FORWARDED-PROTO": "https"}})
        self.assertEqual(names["ratio"], {"object": "float", "here": False})
        self.assertEqual(names["Helper"], {"callable": "class", "here": True, "arity": 0})
        self.assertNotIn("path", names)  # a module
        self.assertEqual(names["post_request"], {"callable": "function", "here": True, "arity": 3})
        self.assertEqual(names["post_worker_init"]["arity"], -1)
        self.assertNotIn("_private", names)
        self.assertNotIn("multiprocessing", names)

    def test_arity(self):
        self.assertEqual(arity(lambda a, b: None), 2)
        self.assertEqual(arity(lambda a, b=1: None), 2)
        self.assertEqual(arity(lambda *a: None), -1)

    def test_hooks_run_with_stand_ins(self):
        config = {"loglevel": "info", "hooks": {"location": self.path, "cwd": self.dir,
                                                "names": ["pre_request", "post_request", "post_worker_init"]}}
        hooks = Hooks(config, 7)
        self.assertEqual((hooks.worker.pid, hooks.worker.age), (os.getpid(), 7))
        self.assertEqual((hooks.server.pid, hooks.worker.ppid), (os.getppid(), os.getppid()))
        # A worker forked by the fork server (--preload) is told who the master is.
        forked = Hooks(dict(config, master_pid=12345), 8)
        self.assertEqual((forked.server.pid, forked.worker.ppid), (12345, 12345))
        self.assertEqual(hooks.post_request_args, 3)
        environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/p/q?x=1", "QUERY_STRING": "x=1",
                   "SERVER_PROTOCOL": "HTTP/1.0", "HTTP_HOST": "h", "CONTENT_TYPE": "text/plain"}
        req = hooks.before(environ)
        self.assertEqual((req.method, req.path, req.query, req.version), ("GET", "/p/q", "x=1", (1, 0)))
        self.assertEqual(environ["HTTP_X_ADDED"], "/p/q")
        self.assertEqual(environ["HTTP_HOST"], "h")


class StandIns(unittest.TestCase):
    def test_request_headers_and_writing_them_back(self):
        environ = {"HTTP_ACCEPT": "a", "CONTENT_LENGTH": "3", "PATH_INFO": "/"}
        req = Request(environ)
        self.assertEqual(req.headers, [("ACCEPT", "a"), ("CONTENT-LENGTH", "3")])
        apply_headers(environ, [("X-One", "1"), ("x-one", "2"), ("Content-Length", "999")])
        self.assertEqual(environ, {"HTTP_X_ONE": "1,2", "CONTENT_LENGTH": "3", "PATH_INFO": "/"})

    def test_response(self):
        self.assertEqual(Response("404 Not Found", [], 9).status_code, 404)
        self.assertIsNone(Response(None, None, 0).status_code)

    def test_log_levels_and_format(self):
        err = io.StringIO()
        with redirect_stderr(err):
            log = Log("warning")
            log.info("hidden")
            log.warning("shown %s", 1)
            try:
                raise ValueError("boom")
            except ValueError:
                log.exception("failed")
        text = err.getvalue()
        self.assertNotIn("hidden", text)
        self.assertRegex(text, r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000\] \[%d\] \[WARNING\] shown 1\n" % os.getpid())
        self.assertIn("[ERROR] failed\nTraceback", text)
        self.assertIn("ValueError: boom", text)


if __name__ == "__main__":
    unittest.main()
