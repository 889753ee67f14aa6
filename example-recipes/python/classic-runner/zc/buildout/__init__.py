"""zc.buildout as classic recipes see it inside bo's sandbox (a shim).

Only the API recipes use is here: `UserError`, and the submodules `buildout`
(Buildout, Options), `easy_install` (through bo's `python` interface),
`download` (through `host.download`) and `rmtree`.
"""

WINDOWS = False


class UserError(Exception):
    """Errors made by a user"""

    def __str__(self):
        return " ".join(map(str, self.args))
