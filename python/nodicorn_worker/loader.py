"""Loads the application like Gunicorn does: MODULE:ATTR, where ATTR may be a call with literal
arguments (`create_app()`, `create_app('prod', debug=False)`), and the current directory on sys.path."""
import ast
import importlib
import os
import sys


class AppImportError(Exception):
    """The application reference does not name a WSGI callable."""


def _parse_attr(text):
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise AppImportError("failed to parse %r as an attribute name or function call" % text)
    if isinstance(node, ast.Name):
        return node.id, None, None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        try:
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        except ValueError:
            raise AppImportError("only literal arguments are allowed in %r" % text)
        return node.func.id, args, kwargs
    raise AppImportError("%r is not an attribute name or a function call" % text)


def load_app(module_name, attr, chdir="", pythonpath=()):
    if chdir:
        os.chdir(chdir)
    for path in reversed(pythonpath):
        sys.path.insert(0, os.path.abspath(path))
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    name, args, kwargs = _parse_attr(attr)
    module = importlib.import_module(module_name)
    try:
        app = getattr(module, name)
    except AttributeError:
        raise AppImportError("failed to find attribute %r in %r" % (name, module_name))
    if args is not None:
        app = app(*args, **kwargs)
    if app is None:
        raise AppImportError("%s:%s returned None, not a WSGI application" % (module_name, attr))
    if not callable(app):
        raise AppImportError("%s:%s is not callable" % (module_name, attr))
    return app
