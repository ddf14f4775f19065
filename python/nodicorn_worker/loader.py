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
