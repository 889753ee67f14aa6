"""collective.recipe.template for bo, in Python (componentize-py).

Renders a template into `output`: the template is `inline`, or the file `input`
(relative to the buildout directory), or `input = inline:...`. Inside it,
`${section:option}` is replaced by the configuration's value and `${option}` by the
part's own option, as in the original recipe. `mode` (octal) sets the output's
permissions; `overwrite = false` keeps an existing output. Update rewrites the output
only when the result changed.
"""

import os
import re

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types

TRUE_VALUES = ("y", "yes", "1", "true")
TOKEN = re.compile(r"\$\{[^}]*\}")
VALID = re.compile(r"^\$\{[-a-zA-Z0-9 ._]*:[-a-zA-Z0-9 ._]+\}$")


def fail(message):
    raise Err(message)


def render(part, options):
    """The template's text with every `${...}` substituted (Buildout's `_sub`)."""
    sources = [k for k in ("input", "inline", "url") if k in options]
    if not sources:
        fail("No input file, inline template, or URL specified.")
    if "output" not in options:
        fail("No output file specified.")
    if len(sources) > 1:
        fail("Too many input sources.")
    if "url" in options:
        fail("url templates are not supported; download the template and use input")
    if "inline" in options:
        source = options["inline"].lstrip()
    elif options["input"].startswith("inline:"):
        source = options["input"][len("inline:"):].lstrip()
    else:
        path = os.path.join(host.config_get("buildout", "directory") or "", options["input"])
        try:
            with open(path, "rb") as f:
                source = f.read().decode(options.get("input-encoding", "utf-8"))
        except OSError:
            fail("Input file '%s' does not exist." % options["input"])
    # `${option}` means this part's option.
    source = re.sub(r"\$\{([^:]+?)\}", r"${%s:\1}" % part, source)

    def substitute(match):
        ref = match.group(0)
        if not VALID.match(ref):
            fail("The substitution, %s, is not valid." % ref)
        section, option = ref[2:-1].split(":")
        section = section or part
        if section == part and option in options:
            return options[option]
        value = host.config_get(section, option)
        if value is None:
            fail("Referenced option does not exist: %s %s" % (section, option))
        return value

    return TOKEN.sub(substitute, source)


def write_output(part, options, result):
    output = options["output"]
    overwrite = options.get("overwrite", "true").lower() in TRUE_VALUES
    if not overwrite and os.path.isfile(output):
        return []
    created = []
    missing = []
    parent = os.path.dirname(output)
    while parent and not os.path.exists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        os.mkdir(directory)
        created.append(directory)
    try:
        os.remove(output)
    except OSError:
        pass
    with open(output, "wb") as f:
        f.write(result.encode(options.get("output-encoding", "utf-8")))
    if "mode" in options:
        host.set_mode(output, int(options["mode"], 8))
    if overwrite:
        created.append(output)
    return created


class WitWorld(wit_world.WitWorld):
    def describe(self):
        return types.Manifest(
            names=["collective.recipe.template"],
            description="Renders a template with ${section:option} substitution (Python recipe)",
            capabilities=types.Capabilities(writes=["option:output"], outside=[], hosts=[], programs=[], env=[]),
            has_update=True,
        )

    def init(self, part, options):
        render(part, dict(options))
        return []

    def install(self, part, options):
        options = dict(options)
        return write_output(part, options, render(part, options))

    def update(self, part, options):
        options = dict(options)
        result = render(part, options)
        try:
            with open(options["output"], "rb") as f:
                unchanged = f.read() == result.encode(options.get("output-encoding", "utf-8"))
        except OSError:
            unchanged = False
        return [] if unchanged else write_output(part, options, result)

    def uninstall(self, part, options):
        return None
