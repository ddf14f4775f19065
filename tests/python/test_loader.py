"""Loading apps like Gunicorn: MODULE:ATTR, factories with literal arguments, clear errors."""
import os
import sys
import tempfile
import unittest

from nodicorn_worker.loader import AppImportError, SourceFiles, app_source_files, load_app

APP = '''
def application(environ, start_response):
    return []

def create_app(name="default", debug=False):
    def app(environ, start_response):
        return [name.encode()]
    app.debug = debug
    return app

def none_factory():
    return None

not_callable = 42
'''


class Loader(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        with open(os.path.join(self.dir, "loadme.py"), "w") as f:
            f.write(APP)
        self.cwd = os.getcwd()
        sys.modules.pop("loadme", None)

    def tearDown(self):
        os.chdir(self.cwd)
        sys.modules.pop("loadme", None)

    def load(self, attr):
        return load_app("loadme", attr, chdir=self.dir)

    def test_attribute(self):
        self.assertEqual(self.load("application").__name__, "application")

    def test_factory_call_with_literal_arguments(self):
        app = self.load("create_app('prod', debug=True)")
        self.assertEqual(app({}, None), [b"prod"])
        self.assertTrue(app.debug)

    def test_errors_are_clear(self):
        with self.assertRaisesRegex(AppImportError, r"^Failed to find attribute 'missing' in 'loadme'\.$"):
            self.load("missing")
        with self.assertRaisesRegex(AppImportError, "Only literal arguments"):
            self.load("create_app(os.getcwd())")
        with self.assertRaisesRegex(AppImportError, "returned None"):
            self.load("none_factory()")
        with self.assertRaisesRegex(AppImportError, "is not callable"):
            self.load("not_callable")

    def test_a_missing_module_or_attribute_is_one_line_with_no_chained_exception(self):
        for module, attr, message in (
            ("loadme", "missing", "Failed to find attribute 'missing' in 'loadme'."),
            ("no_such_module_x", "application", "No module named 'no_such_module_x'."),
            ("no_such_pkg_x.app", "application", "No module named 'no_such_pkg_x'."),
            ("loadme.py", "application", "No module named 'loadme.py'. Did you mean 'loadme:application'?"),
        ):
            with self.assertRaises(AppImportError) as caught:
                load_app(module, attr, chdir=self.dir)
            self.assertEqual(str(caught.exception), message)
            self.assertTrue(caught.exception.__suppress_context__)
            self.assertIsNone(caught.exception.__cause__)

    def test_an_import_that_raises_inside_the_app_keeps_its_own_exception(self):
        with open(os.path.join(self.dir, "needs_dep.py"), "w") as f:
            f.write("import no_such_dependency_x\n")
        self.addCleanup(sys.modules.pop, "needs_dep", None)
        with self.assertRaises(ModuleNotFoundError) as caught:
            load_app("needs_dep", "application", chdir=self.dir)
        self.assertEqual(caught.exception.name, "no_such_dependency_x")

    def test_the_app_directory_is_on_sys_path(self):
        self.load("application")
        self.assertIn(self.dir, sys.path)


class AppSourceFiles(unittest.TestCase):
    """--reload watches what the app imported from its own code, not the stdlib or installed packages."""

    def test_app_modules_are_listed_and_installed_ones_are_not(self):
        import json as stdlib_module
        import types

        app_dir = os.path.realpath(tempfile.mkdtemp())
        app_file = os.path.join(app_dir, "app.py")
        venv_file = os.path.join(app_dir, ".venv", "lib", "python3", "site-packages", "flask", "__init__.py")
        for path in (app_file, venv_file):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write("")
        modules = {}
        for name, path in (("app", app_file), ("flask", venv_file), ("gone", os.path.join(app_dir, "gone.py"))):
            module = types.ModuleType(name)
            module.__file__ = path
            modules[name] = module
        modules["json"] = stdlib_module
        modules["sys"] = sys  # a builtin: no __file__
        modules["nodicorn_worker.loader"] = sys.modules["nodicorn_worker.loader"]
        self.assertEqual(app_source_files(modules), [app_file])

    def test_modules_imported_later_are_reported_once(self):
        app_dir = os.path.realpath(tempfile.mkdtemp())
        with open(os.path.join(app_dir, "lazy_views.py"), "w") as f:
            f.write("X = 1\n")
        sys.path.insert(0, app_dir)
        try:
            sources = SourceFiles()
            self.assertIsNone(sources.new_files())  # nothing imported since
            import lazy_views  # noqa: F401  (what a first request does in Django)

            self.assertEqual(sources.new_files(), [os.path.join(app_dir, "lazy_views.py")])
            self.assertIsNone(sources.new_files())
        finally:
            sys.path.remove(app_dir)
            sys.modules.pop("lazy_views", None)


if __name__ == "__main__":
    unittest.main()
