"""Entry point: `python -m nodicorn_worker [--name=NAME] '{"module": ..., "attr": ..., ...}' AGE`, started by
nodicorn with the protocol socket on fd 3 (NAME only shows in ps; AGE is the worker's sequence number).
Imports the app, says READY (or LOADFAIL with the traceback), then serves; with --reload, READY lists
the app's source files for Node to watch. With hooks from a
gunicorn.conf.py (hooks.py), runs post_fork before the import, post_worker_init after it, worker_exit at
the end and worker_abort on SIGABRT.

`python -m nodicorn_worker [--name=NAME] --zygote '{...}'` is the fork server of --preload (zygote.py)."""
import faulthandler
import json
import os
import signal
import sys
import traceback

from .loader import AppImportError, SourceFiles, load_app
from .protocol import LOADFAIL, READY
from .worker import Connection, Worker

# Node is the supervisor and the end of the protocol socket is a worker's one stop signal. These come to
# the whole process group (systemd's KillMode=control-group, `tini -g`, `kill -- -PGID`, a terminal's
# Ctrl-C or hangup) and must not stop a worker under the request it is serving while Node drains. A
# worker cannot tell such a signal from one sent to it alone, so it ignores both (docs/python-apps.md).
IGNORED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def ignore(signum, frame):
    """A handler that does nothing, rather than SIG_IGN: processes the app starts get the default
    dispositions back at exec, and nothing is raised in the middle of a request."""


def on_abort(hooks):
    """SIGABRT (a request past --timeout) with a worker_abort hook: the stacks, the hook, then exit, as
    Gunicorn's worker does. Without the hook, faulthandler's own handler writes the stacks."""

    def handler(signum, frame):
        faulthandler.dump_traceback(all_threads=True)
        hooks.call("worker_abort", hooks.worker_abort, hooks.worker)
        sys.stderr.flush()
        os._exit(1)

    return handler


def main():
    args = sys.argv[1:]
    if args and args[0].startswith("--name="):
        args.pop(0)
    if args and args[0] == "--zygote":
        from .zygote import main as zygote_main

        zygote_main(json.loads(args[1]))
        return
    config = json.loads(args[0])
    age = int(args[1]) if len(args) > 1 else 0
    fd = int(config.get("fd", 3))
    run(config, age, Connection(fd))


def run(config, age, conn, app=None):
    """The worker: imports the app (unless a fork server did, --preload: then `app`), says READY or LOADFAIL,
    serves until Node closes the connection. Gunicorn's order of hooks either way: post_fork, then
    post_worker_init once the app is there."""
    for signum in IGNORED:
        signal.signal(signum, ignore)
    # On a request timeout Node sends SIGABRT first: this prints every thread's stack to the error log.
    faulthandler.enable(all_threads=True)
    # The socket is this process's alone: a program the app runs must not inherit it (nor, forked, keep a
    # copy), else Node would not see it close when this worker exits.
    os.set_inheritable(conn.fd, False)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=conn.sock.close)
    hooks = None
    try:
        if "hooks" in config:
            from .hooks import Hooks

            hooks = Hooks(config, age)
            hooks.call("post_fork", hooks.post_fork, hooks.server, hooks.worker)
        if app is None:
            app = load_app(config["module"], config["attr"], config.get("chdir", ""), config.get("pythonpath", []))
    except AppImportError as error:
        # The reference names nothing loadable (no such module or attribute): one line, as Gunicorn says it.
        conn.send_frame(LOADFAIL, 0, str(error).encode("utf-8", "replace"))
        sys.exit(3)
    except BaseException:
        # Importing the app raised: the traceback is what the user needs.
        conn.send_frame(LOADFAIL, 0, traceback.format_exc().encode("utf-8", "replace"))
        sys.exit(3)
    per_request = None
    if hooks is not None:
        hooks.worker.wsgi = app
        hooks.call("post_worker_init", hooks.post_worker_init, hooks.worker)
        hooks.worker.booted = True
        if hooks.worker_abort is not None:
            signal.signal(signal.SIGABRT, on_abort(hooks))
        if hooks.pre_request is not None or hooks.post_request is not None:
            per_request = hooks
    ready = {"pid": os.getpid(), "python": sys.version.split()[0]}
    sources = SourceFiles() if config.get("reload") else None
    if sources is not None:
        ready["files"] = sorted(sources.sent)
    conn.send_frame(READY, 0, json.dumps(ready).encode())
    worker = Worker(app, conn, int(config.get("threads", 1)), bool(config.get("multiprocess", False)), per_request)
    worker.sources = sources
    try:
        worker.serve()
    finally:
        conn.sock.close()
        if hooks is not None:
            hooks.worker.alive = False
            hooks.call("worker_exit", hooks.worker_exit, hooks.server, hooks.worker)
    if conn.gone:
        quiet()
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        quiet()  # Node died while this worker was idle: its pipes are gone too


def quiet():
    """Node went away: the stdout and stderr pipes it read went with it. Exit 0 without a word rather than
    with Python's "Exception ignored ... BrokenPipeError" when they are flushed at exit."""
    null = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
        try:
            os.dup2(null, stream.fileno())
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    main()
