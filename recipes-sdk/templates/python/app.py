"""__NAME__: a bo recipe written in Python (componentize-py).

Writes the `greeting` option into parts/<part>/hello.txt. Build it with
`./build.sh` (or `bo recipe build .`), use it with `recipe = /path/to/__NAME__.wasm`.
The world it implements is wit/recipe.wit; `componentize-py -d wit -w recipe
bindings .` writes the bindings out for your editor.
"""

import os

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types


class WitWorld(wit_world.WitWorld):
    def describe(self):
        # What the recipe needs; bo grants only what is declared AND granted by the user.
        return types.Manifest(
            names=["__NAME__"],
            description="Writes a greeting into parts/<part>/hello.txt",
            capabilities=types.Capabilities(writes=[], outside=[], hosts=[], programs=[], env=[]),
            has_update=True,
        )

    def init(self, part, options):
        # Buildout's constructor: the options returned are set on the part.
        parts = host.config_get("buildout", "parts-directory") or ""
        return [("location", os.path.join(parts, part))]

    def install(self, part, options):
        options = dict(options)
        location = options["location"]
        if not options.get("greeting"):
            raise Err("part %s: missing option: greeting" % part)
        os.makedirs(location, exist_ok=True)
        with open(os.path.join(location, "hello.txt"), "w") as f:
            f.write(options["greeting"])
        host.log(types.Level.INFO, "greeted")
        # Paths returned here are removed when the part is uninstalled.
        return [location]

    def update(self, part, options):
        return []

    def uninstall(self, part, options):
        return None
