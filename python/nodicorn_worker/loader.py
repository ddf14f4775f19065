"""Loads the application like Gunicorn does: MODULE:ATTR, where ATTR may be a call with literal
arguments (`create_app()`, `create_app('prod', debug=False)`), and the current directory on sys.path."""
import ast
import importlib
import os
import sys


class AppImportError(Exception):
    """The application reference does not name a WSGI callable: no such module or attribute, or not a
    callable. Reported in one line, as Gunicorn does; an exception raised by the app's own code while it
    is imported (or by its factory) propagates with its traceback instead."""


def _parse_attr(text):
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise AppImportError("Failed to parse %r as an attribute name or function call." % text) from None
    if isinstance(node, ast.Name):
        return node.id, None, None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        try:
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except ValueError:
            raise AppImportError("Only literal arguments are allowed in %r." % text) from None
        return node.func.id, args, kwargs
    raise AppImportError("%r is not an attribute name or a function call." % text)


def load_app(module_name, attr, chdir="", pythonpath=()):
    if chdir:
        os.chdir(chdir)
    for path in reversed(pythonpath):
        sys.path.insert(0, os.path.abspath(path))
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    name, args, kwargs = _parse_attr(attr)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if not _names(error.name, module_name):
            raise  # the app's module exists and its own import failed: the traceback tells where
        hint = ""
        if module_name.endswith(".py"):
            hint = " Did you mean '%s:%s'?" % (module_name[:-3].replace("/", "."), attr)
        raise AppImportError("No module named %r.%s" % (error.name, hint)) from None
    try:
        app = getattr(module, name)
    except AttributeError:
        raise AppImportError("Failed to find attribute %r in %r." % (name, module_name)) from None
    if args is not None:
        app = app(*args, **kwargs)
    if app is None:
        raise AppImportError("%s:%s returned None, not a WSGI application." % (module_name, attr))
    if not callable(app):
        raise AppImportError("%s:%s is not callable." % (module_name, attr))
    return app


def _names(missing, module_name):
    """Whether the module found missing is the one named (or a package on its way: `pkg` of `pkg.app`)."""
    return missing is not None and (module_name == missing or module_name.startswith(missing + "."))


def _installed_dirs():
    """The interpreter's own code: the stdlib and every site-packages directory (venv and base)."""
    import site
    import sysconfig

    dirs = set()
    for scheme_vars in (None, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=scheme_vars) if scheme_vars else sysconfig.get_paths()
        for key in ("stdlib", "platstdlib", "purelib", "platlib"):
            if paths.get(key):
                dirs.add(paths[key])
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # old virtualenv's site module
        pass
    # The worker package itself is nodicorn's, not the app's.
    dirs.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs if d)


_THIRD_PARTY = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def app_source_files(modules=None):
    """The files of the imported modules that are the app's own, for --reload to watch.

    Werkzeug watches every imported module outside the base interpreter, venv site-packages included;
    Gunicorn watches every imported module. Here the stdlib and site-packages/dist-packages are left out
    too: they change only when packages are installed (restart for that), and a virtualenv's hundreds of
    package directories would cost as many watches. What remains is the app's directory, --pythonpath,
    anything the app put on sys.path and editable installs: code being edited.
    """
    skip = _installed_dirs()
    files = set()
    for module in list((sys.modules if modules is None else modules).values()):
        name = getattr(module, "__file__", None)
        if not isinstance(name, str) or not os.path.isfile(name):
            continue  # builtins, frozen and namespace packages, zip imports
        path = os.path.realpath(name)
        if path.startswith(skip) or any(part in path for part in _THIRD_PARTY):
            continue
        files.add(path)
    return sorted(files)


class SourceFiles:
    """--reload: the app's source files Node has been told about (READY's `files`, then SOURCES frames)."""

    def __init__(self):
        self.modules = len(sys.modules)
        self.sent = set(app_source_files())

    def new_files(self):
        """Files of modules imported since the last call; None at the cost of one len() when none were."""
        count = len(sys.modules)
        if count == self.modules:
            return None
        self.modules = count
        files = [f for f in app_source_files() if f not in self.sent]
        self.sent.update(files)
        return files
