"""Reads a Gunicorn config file the way Gunicorn does, by executing it as the module `__config__`, and
prints its public names as JSON for nodicorn to map (src/settings/gunicorn-conf.ts):

    python -m nodicorn_worker.gunicorn_conf FILE        (also file:FILE, or python:MODULE)

Each name becomes {"value": V} for plain data (None, bool, int, float, str, and lists, tuples or dicts of
those), {"callable": KIND, "here": BOOL, "arity": N} for functions and classes (here: defined in the file
itself, not imported; arity: how many positional arguments it takes, -1 when any number), or
{"object": TYPE, "here": false} for anything else. Modules and names starting with "_" are left out. The
worker (hooks.py) loads the file again with load() to run its hooks."""
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import sys
import traceback
import types

MODULE_NAME = "__config__"


def load(location):
    """The config module: python:MODULE is imported; anything else is a file path (file: optional)."""
    if location.startswith("python:"):
        return importlib.import_module(location[len("python:"):])
    filename = location[len("file:"):] if location.startswith("file:") else location
    # Gunicorn's way: any extension, executed as __config__ (so hooks pickled or inspected see that name).
    loader = importlib.machinery.SourceFileLoader(MODULE_NAME, filename)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, filename, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


def plain(value, depth=0):
    """The value as JSON data, or raises TypeError."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("not a finite number")
        return value
    if depth < 8 and isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if depth < 8 and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def arity(fn):
    """Positional parameters of `fn`, defaults included (as Gunicorn's util.get_arity counts them); -1 when
    it takes *args or its signature is unknown."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return -1
    count = 0
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            return -1
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def describe(module):
    names = {}
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        if callable(value):
            kind = "class" if inspect.isclass(value) else "function"
            here = getattr(value, "__module__", None) == module.__name__
            names[name] = {"callable": kind, "here": here, "arity": arity(value)}
            continue
        try:
            names[name] = {"value": plain(value)}
        except TypeError:
            names[name] = {"object": type(value).__name__, "here": False}
    return names


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m nodicorn_worker.gunicorn_conf FILE\n")
        sys.exit(2)
    # What the file prints goes to stderr (nodicorn shows it): stdout carries only the JSON.
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        module = load(sys.argv[1])
    except BaseException as error:
        # The traceback from the config file's own frames on: nodicorn's loading frames say nothing.
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_globals.get("__name__") != MODULE_NAME:
            tb = tb.tb_next
        sys.stderr.write("".join(traceback.format_exception(type(error), error, tb)))
        sys.exit(1)
    out.write(json.dumps({"names": describe(module)}))
    out.flush()


if __name__ == "__main__":
    main()
