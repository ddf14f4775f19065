"""Entry point: `python -m nodicorn_worker [--name=NAME] '{"module": ..., "attr": ..., ...}' AGE`, started by
nodicorn with the protocol socket on fd 3 (NAME only shows in ps; AGE is the worker's sequence number).
Imports the app, says READY (or LOADFAIL with the traceback), then serves; with --reload, READY lists
the app's source files for Node to watch. With hooks from a
gunicorn.conf.py (hooks.py), runs post_fork before the import, post_worker_init after it, worker_exit at
the end and worker_abort on SIGABRT."""
import faulthandler
import json
import os
import signal
import sys
import traceback

from .loader import SourceFiles, load_app
from .protocol import LOADFAIL, READY
from .worker import Connection, Worker


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
    config = json.loads(args[0])
    age = int(args[1]) if len(args) > 1 else 0
    # The supervisor decides when workers stop: Ctrl-C in a terminal reaches the whole process group, and
    # a worker must not die under a request it is serving while Node drains.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # On a request timeout Node sends SIGABRT first: this prints every thread's stack to the error log.
    faulthandler.enable(all_threads=True)
    conn = Connection(int(config.get("fd", 3)))
    hooks = None
    try:
        if "hooks" in config:
            from .hooks import Hooks

            hooks = Hooks(config, age)
            hooks.call("post_fork", hooks.post_fork, hooks.server, hooks.worker)
        app = load_app(config["module"], config["attr"], config.get("chdir", ""), config.get("pythonpath", []))
    except BaseException:
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
    signal.signal(signal.SIGTERM, worker.on_sigterm)
    try:
        worker.serve()
    finally:
        conn.sock.close()
        if hooks is not None:
            hooks.worker.alive = False
            hooks.call("worker_exit", hooks.worker_exit, hooks.server, hooks.worker)


if __name__ == "__main__":
    main()
