"""Entry point: `python -m nodicorn_worker '{"module": ..., "attr": ..., ...}'`, started by nodicorn with
the protocol socket on fd 3. Imports the app, says READY (or LOADFAIL with the traceback), then serves."""
import faulthandler
import json
import os
import signal
import sys
import traceback

from .loader import load_app
from .protocol import LOADFAIL, READY
from .worker import Connection, Worker


def main():
    config = json.loads(sys.argv[1])
    # The supervisor decides when workers stop: Ctrl-C in a terminal reaches the whole process group, and
    # a worker must not die under a request it is serving while Node drains.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # On a request timeout Node sends SIGABRT first: this prints every thread's stack to the error log.
    faulthandler.enable(all_threads=True)
    conn = Connection(int(config.get("fd", 3)))
    try:
        app = load_app(config["module"], config["attr"], config.get("chdir", ""), config.get("pythonpath", []))
    except BaseException:
        conn.send_frame(LOADFAIL, 0, traceback.format_exc().encode("utf-8", "replace"))
        sys.exit(3)
    ready = {"pid": os.getpid(), "python": sys.version.split()[0]}
    conn.send_frame(READY, 0, json.dumps(ready).encode())
    worker = Worker(app, conn, int(config.get("threads", 1)), bool(config.get("multiprocess", False)))
    signal.signal(signal.SIGTERM, worker.on_sigterm)
    try:
        worker.serve()
    finally:
        conn.sock.close()


if __name__ == "__main__":
    main()
