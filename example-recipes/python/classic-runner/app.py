"""bo.classic-runner: runs an unmodified classic zc.buildout recipe inside WASI.

The host names the recipe and its distributions in BO_CLASSIC_* environment
variables (see bo_classic/runtime.py); each export is one fresh instance.
zc.buildout, pkg_resources, subprocess and logging are shims over bo's host
and python interfaces (zc/, pkg_resources/, bo_classic/).
"""

import os

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

import bo_classic.hostio  # noqa: F401  (imported at build time: in the snapshot)
import pkg_resources  # noqa: F401
import zc.buildout
import zc.buildout.buildout  # noqa: F401
import zc.buildout.download  # noqa: F401
import zc.buildout.easy_install  # noqa: F401
import zc.buildout.rmtree  # noqa: F401
from bo_classic import runtime, stdlib


def _call(function, *args):
    try:
        return function(*args)
    except Err:
        raise
    except (Exception, SystemExit) as e:
        raise Err(runtime.describe_error(e))


def _init(part, options):
    if os.environ.get("BO_CLASSIC_EXTENSION"):
        return runtime.extension(part)
    before = list(options)
    buildout, part_options, recipe = runtime.make_recipe(part, options)
    return runtime.changed_options(before, part_options)


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return types.Manifest(
            names=["bo.classic-runner"],
            description="Runs a classic zc.buildout recipe (Python) in the sandbox",
            capabilities=types.Capabilities(writes=[], outside=[], hosts=[], programs=[], env=[]),
            has_update=True,
        )

    def init(self, part, options):
        return _call(_init, part, options)

    def install(self, part, options):
        return _call(runtime.install, part, options)

    def update(self, part, options):
        return _call(runtime.update, part, options)

    def uninstall(self, part, options):
        return _call(runtime.uninstall, part, options)


# Last: everything imported so far is in the snapshot; the rest of the stdlib is
# kept compressed and compiled on first import.
stdlib.collect()
stdlib.install()
