"""The `zc` namespace, owned by the runner so that `zc.buildout` is always its shim.

`bo_classic.runtime` extends `__path__` with `<entry>/zc` for every directory on
the recipe's path, so `zc.recipe.egg` and friends load from bo's store.
"""
