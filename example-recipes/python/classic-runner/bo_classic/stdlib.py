"""The whole pure-Python standard library, importable at run time.

componentize-py snapshots the interpreter after importing the app (wizer): a
module imported then is in the component, but the stdlib directory is gone at
run time, so any other `import` fails. Importing every module at build time
would add ~17 MB of heap; instead `collect()` (called last, at build time)
stores the zlib-compressed source of every stdlib module not yet imported
(~2.5 MB), and `StdlibFinder` compiles one when it is first imported.
"""

import importlib.machinery
import importlib.util
import os
import sys
import zlib

# Not useful to a recipe, or big and GUI/test-only.
SKIP_TOP = {"test", "idlelib", "tkinter", "turtle", "turtledemo", "pydoc_data", "ensurepip",
            "lib2to3", "__phello__", "antigravity", "this", "site-packages",
            "__pycache__", "lib-dynload", "venv"}
SKIP_ANY = {"test", "tests", "idle_test", "__pycache__"}

_TABLE = {}  # module name -> (file name, is package, compressed source)


def collect(root=None):
    """Records every stdlib module under `root` not already in sys.modules.

    At build time componentize-py mounts the stdlib at /python (os.__file__ is
    a frozen module's nominal path), so the root is the sys.path entry that
    holds the stdlib's sources.
    """
    if root is None:
        candidates = [os.path.dirname(os.__file__)] + sys.path
        root = next((p for p in candidates if os.path.isfile(os.path.join(p, "tarfile.py"))), None)
        if root is None:
            raise RuntimeError("the standard library's sources were not found on sys.path")
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        parts = [] if rel == "." else rel.split(os.sep)
        if parts and (parts[0] in SKIP_TOP or SKIP_ANY.intersection(parts)
                      or not all(p.isidentifier() for p in parts)
                      or "__init__.py" not in filenames):
            dirnames[:] = []
            continue
        dirnames.sort()
        for filename in sorted(filenames):
            stem, ext = os.path.splitext(filename)
            if ext != ".py" or not stem.isidentifier():
                continue
            if not parts and stem in SKIP_TOP:
                continue
            is_pkg = stem == "__init__"
            name = ".".join(parts if is_pkg else parts + [stem])
            if not name or name in sys.modules or name in _TABLE:
                continue
            path = os.path.join(dirpath, filename)
            with open(path, "rb") as f:
                _TABLE[name] = (path, is_pkg, zlib.compress(f.read(), 9))
    return _TABLE


def size():
    return sum(len(entry[2]) for entry in _TABLE.values())


class StdlibLoader:
    @staticmethod
    def create_module(spec):
        return None

    @staticmethod
    def get_source(name):
        return importlib.util.decode_source(zlib.decompress(_TABLE[name][2]))

    @staticmethod
    def is_package(name):
        return _TABLE[name][1]

    @staticmethod
    def get_code(name):
        path, _, data = _TABLE[name]
        return compile(zlib.decompress(data), path, "exec", dont_inherit=True)

    @classmethod
    def exec_module(cls, module):
        exec(cls.get_code(module.__spec__.name), module.__dict__)


class StdlibFinder:
    @staticmethod
    def find_spec(fullname, path=None, target=None):
        entry = _TABLE.get(fullname)
        if entry is None:
            return None
        filename, is_pkg, _ = entry
        spec = importlib.machinery.ModuleSpec(fullname, StdlibLoader, origin=filename, is_package=is_pkg)
        spec.has_location = True
        if is_pkg:
            spec.submodule_search_locations = [os.path.dirname(filename)]
        return spec

    @staticmethod
    def invalidate_caches():
        pass


def install():
    """Puts the finder before the path finder, so the stdlib wins as usual."""
    if StdlibFinder in sys.meta_path:
        return
    for i, finder in enumerate(sys.meta_path):
        if finder is importlib.machinery.PathFinder:
            sys.meta_path.insert(i, StdlibFinder)
            return
    sys.meta_path.append(StdlibFinder)
