"""Gunicorn's worker-side hooks from a gunicorn.conf.py, run in this worker as Gunicorn runs them in its own:

    post_fork(server, worker)                    before the app is imported
    post_worker_init(worker)                     once it is imported, before the first request
    pre_request(worker, req)                     before each request; req.headers changes reach the environ
    post_request(worker, req, environ, resp)     after each response was sent (2 or 3 arguments work too)
    worker_exit(server, worker)                  as the worker stops
    worker_abort(worker)                         when it is killed for --timeout (SIGABRT)

`worker`, `server`, `req` and `resp` are small stand-ins for Gunicorn's objects, with the attributes hooks
use (worker.pid, worker.age, worker.log, req.method, req.path, req.headers, resp.status, ...). A hook that
raises is logged with its traceback; the worker carries on."""
import os
import sys
import time
import traceback

from .gunicorn_conf import arity, load

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class Log:
    """worker.log and server.log: Gunicorn's logger methods, writing its error-log line format to stderr,
    which Node puts in the error log."""

    def __init__(self, level):
        self.threshold = LEVELS.get(level, 20)

    def log(self, level, msg, *args, **kwargs):
        if isinstance(level, int):
            level = next((name for name, n in LEVELS.items() if n >= level), "critical")
        if LEVELS.get(level, 50) < self.threshold:
            return
        text = msg % args if args else str(msg)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime())
        line = "[%s] [%d] [%s] %s\n" % (stamp, os.getpid(), level.upper(), text)
        if kwargs.get("exc_info"):
            line += traceback.format_exc()
        sys.stderr.write(line)

    def debug(self, msg, *args, **kwargs):
        self.log("debug", msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        self.log("info", msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        self.log("warning", msg, *args, **kwargs)

    warn = warning

    def error(self, msg, *args, **kwargs):
        self.log("error", msg, *args, **kwargs)

    def critical(self, msg, *args, **kwargs):
        self.log("critical", msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        self.log("error", msg, *args, exc_info=True)


class Server:
    """Gunicorn's Arbiter as hooks see it; here the server is the Node process."""

    def __init__(self, log, pid):
        self.pid = pid
        self.log = log


class WorkerInfo:
    """Gunicorn's Worker as hooks see it."""

    def __init__(self, age, log, ppid):
        self.pid = os.getpid()
        self.ppid = ppid
        self.age = age
        self.log = log
        self.alive = True
        self.booted = False
        self.wsgi = None


def request_headers(environ):
    """Gunicorn's req.headers: (NAME, value) pairs, names in capitals."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-"), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            headers.append((key.replace("_", "-"), value))
    return headers


class Request:
    """Gunicorn's Request as hooks see it, taken from the environ."""

    __slots__ = ("method", "uri", "path", "query", "fragment", "version", "scheme", "headers", "remote_addr")

    def __init__(self, environ):
        self.method = environ.get("REQUEST_METHOD", "")
        self.uri = environ.get("RAW_URI", "")
        self.path = self.uri.split("?", 1)[0]
        self.query = environ.get("QUERY_STRING", "")
        self.fragment = ""
        protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        self.version = (int(protocol[5]), int(protocol[7])) if len(protocol) == 8 else (1, 1)
        self.scheme = environ.get("wsgi.url_scheme", "http")
        self.remote_addr = environ.get("REMOTE_ADDR", "")
        self.headers = request_headers(environ)


def apply_headers(environ, headers):
    """Writes req.headers back into the environ's HTTP_* keys (duplicates joined with ',', PEP 3333 and
    RFC 9110 §5.3). CONTENT_TYPE and CONTENT_LENGTH are left alone: they describe the body Node received."""
    for key in [k for k in environ if k.startswith("HTTP_")]:
        del environ[key]
    for name, value in headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            continue
        environ[key] = environ[key] + "," + value if key in environ else value


class Response:
    """Gunicorn's Response as post_request sees it."""

    __slots__ = ("status", "status_code", "headers", "sent")

    def __init__(self, status, headers, sent):
        self.status = status
        try:
            self.status_code = int(status.split(None, 1)[0]) if status else None
        except ValueError:
            self.status_code = None
        self.headers = headers or []
        self.sent = sent


class Hooks:
    """The hooks named by Node, loaded from the config file."""

    def __init__(self, config, age):
        self.log = Log(config.get("loglevel", "info"))
        # The master is Node: the worker's parent, or under --preload the fork server's (zygote.py says which).
        master = config.get("master_pid") or os.getppid()
        self.server = Server(self.log, master)
        self.worker = WorkerInfo(age, self.log, master)
        hooks = config["hooks"]
        cwd = os.getcwd()
        # Gunicorn reads the file in the directory it was started from, before --chdir.
        os.chdir(hooks["cwd"])
        if hooks["cwd"] not in sys.path:
            sys.path.insert(0, hooks["cwd"])
        try:
            module = load(hooks["location"])
        finally:
            os.chdir(cwd)
        found = {name: getattr(module, name) for name in hooks["names"]}
        self.post_fork = found.get("post_fork")
        self.post_worker_init = found.get("post_worker_init")
        self.pre_request = found.get("pre_request")
        self.post_request = found.get("post_request")
        self.worker_exit = found.get("worker_exit")
        self.worker_abort = found.get("worker_abort")
        # Gunicorn accepts post_request(worker, req), (worker, req, environ) and the full four.
        n = arity(self.post_request) if self.post_request is not None else 4
        self.post_request_args = 4 if n == -1 else max(2, min(n, 4))

    def call(self, name, fn, *args):
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            self.log.exception("Exception in %s hook", name)

    def before(self, environ):
        """pre_request: returns the req it saw, for post_request."""
        req = Request(environ)
        if self.pre_request is not None:
            seen = list(req.headers)
            self.call("pre_request", self.pre_request, self.worker, req)
            if req.headers != seen:
                apply_headers(environ, req.headers)
        return req

    def after(self, req, environ, status, headers, sent):
        fn = self.post_request
        if fn is None:
            return
        resp = Response(status, headers, sent)
        try:
            fn(*(self.worker, req, environ, resp)[: self.post_request_args])
        except Exception:
            self.log.exception("Exception in post_request hook")
