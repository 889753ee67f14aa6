"""Per-call setup and the recipe calls, driven by the host's BO_CLASSIC_* variables.

BO_CLASSIC_ENTRY       module:attr of the recipe class (attr may be dotted)
BO_CLASSIC_UNINSTALL   module:attr of the uninstall function, if any
BO_CLASSIC_PATH        JSON list of directories to put first on sys.path
BO_CLASSIC_DISTS       JSON list of {"name", "version", "location"}: the working set
BO_CLASSIC_SECTIONS    JSON {section: [option, ...]} of the evaluated configuration
BO_CLASSIC_EXTENSION   module:attr of a zc.buildout.extension entry point: `init`
                       runs it on the configuration instead of a recipe
BO_CLASSIC_ROOT_FILES  JSON list of file names in the buildout directory that the
                       extension may write (bo writes them for it)
BO_CLASSIC_PROGRAMS    JSON {path: name} of the granted programs (their paths hold
                       stand-ins, so that `shutil.which` finds them)
"""

import importlib
import json
import os
import random
import sys
import traceback

import pkg_resources
import zc
import zc.buildout
import zc.buildout.buildout
from bo_classic import hostio
from wit_world.imports import host

FALLBACK_EXECUTABLE = "/usr/bin/python3"


def _json(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError as e:
        raise zc.buildout.UserError("bo passed invalid JSON in %s: %s" % (name, e))


def _extend_namespace(package, entries):
    for entry in entries:
        candidate = os.path.join(entry, *package.__name__.split("."))
        if os.path.isdir(candidate) and candidate not in package.__path__:
            package.__path__.append(candidate)


def prepare(part, extension=False):
    """Sets up the interpreter for one call on `part` (for an extension: its name)."""
    global CURRENT_PART
    CURRENT_PART = part
    sys.dont_write_bytecode = True
    random.seed()  # the snapshot would otherwise replay the build's seed
    entries = [p for p in _json("BO_CLASSIC_PATH", []) if isinstance(p, str)]
    for entry in reversed(entries):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    _extend_namespace(zc, entries)
    dists = [(d.get("name", ""), d.get("version", ""), d.get("location", ""))
             for d in _json("BO_CLASSIC_DISTS", []) if isinstance(d, dict)]
    pkg_resources._initialize(dists)
    directory = host.config_get("buildout", "directory")
    if directory:
        os.chdir(directory)
    sys.executable = host.config_get("buildout", "executable") or sys.executable or FALLBACK_EXECUTABLE
    if not sys.executable or sys.executable.startswith("/python"):
        sys.executable = FALLBACK_EXECUTABLE
    sys.argv = ["buildout"]
    parts_directory = host.config_get("buildout", "parts-directory")
    hostio.set_sandbox_roots([] if extension else [
        os.path.join(parts_directory, part) if parts_directory else None,
        host.config_get("buildout", "bin-directory"),
    ])
    hostio.set_programs(_json("BO_CLASSIC_PROGRAMS", {}))
    hostio.patch_os()
    hostio.setup_logging(part, host.config_get("buildout", "log-level") or "INFO")


def load(spec, what):
    """The object `module:attr` names."""
    module_name, _, attrs = spec.partition(":")
    obj = importlib.import_module(module_name.strip())
    for attr in attrs.strip().split(".") if attrs.strip() else ():
        obj = getattr(obj, attr)
    return obj


def make_recipe(part, options):
    """Builds Buildout, the part's Options and the recipe, as Buildout does."""
    prepare(part)
    entry = os.environ.get("BO_CLASSIC_ENTRY")
    if not entry:
        raise zc.buildout.UserError("bo did not say which recipe to run (BO_CLASSIC_ENTRY)")
    recipe_class = load(entry, "recipe")
    sections = _json("BO_CLASSIC_SECTIONS", {})
    buildout = zc.buildout.buildout.Buildout(sections, part, dict(options))
    part_options = buildout[part]
    recipe = recipe_class(buildout, part, part_options)
    part_options.recipe = recipe
    return buildout, part_options, recipe


def changed_options(before, options):
    """The options the constructor added or changed."""
    before = dict(before)
    return [(k, options[k]) for k in options.keys() if k in options._data and before.get(k) != options._data[k]]


def as_paths(result):
    """Buildout's reading of what install/update returned."""
    if result is None:
        return []
    if isinstance(result, (str, os.PathLike)):
        return [os.fspath(result)]
    return [os.fspath(p) for p in result]


def install(part, options):
    buildout, part_options, recipe = make_recipe(part, options)
    result = part_options._call(recipe.install)
    if result is None:
        buildout._logger.warning(
            "The %s install returned None.  A path or iterable os paths should be returned.", part)
    return as_paths(result)


def update(part, options):
    buildout, part_options, recipe = make_recipe(part, options)
    try:
        method = recipe.update
    except AttributeError:
        method = recipe.install
        buildout._logger.warning(
            "The recipe for %s doesn't define an update method. Using its install method.", part)
    return as_paths(part_options._call(method))


def uninstall(part, options):
    prepare(part)
    spec = os.environ.get("BO_CLASSIC_UNINSTALL")
    if not spec:
        return None
    function = load(spec, "uninstall")
    sections = _json("BO_CLASSIC_SECTIONS", {})
    buildout = zc.buildout.buildout.Buildout(sections, part, dict(options))
    function(part, buildout[part])
    return None


def extension(name):
    """Runs the extension entry point on the configuration, as Buildout does
    before it installs anything; returns what it changed, as (key, value) pairs
    whose key is the JSON list [kind, section, option] (kind "raw", "final" or
    "file": a file of the buildout directory, its content in base64)."""
    prepare(name, extension=True)
    function = load(os.environ["BO_CLASSIC_EXTENSION"], "extension")
    sections = _json("BO_CLASSIC_SECTIONS", {})
    buildout = zc.buildout.buildout.Buildout(sections, None, {})
    names = [n for n in _json("BO_CLASSIC_ROOT_FILES", []) if isinstance(n, str)]
    hostio.capture_root_files(buildout._buildout_dir, names)
    try:
        function(buildout)
        changes = buildout._changes() + hostio.captured_files()
    finally:
        hostio.release_root_files()
    return [(json.dumps([kind, section, option]), value) for kind, section, option, value in changes]


CURRENT_PART = "PART"


def _grant_hint(exc):
    """For a refused write: the grant that would allow it (a classic recipe
    declares nothing; its part may write only what the user granted)."""
    path = getattr(exc, "filename", None)
    if not isinstance(exc, PermissionError) or not isinstance(path, str):
        return ""
    directory = os.path.dirname(os.path.abspath(path))
    root = host.config_get("buildout", "directory") or ""
    if root and (directory + "/").startswith(root.rstrip("/") + "/"):
        inside = os.path.relpath(directory, root)
        if inside == "." and os.environ.get("BO_CLASSIC_EXTENSION"):
            return ("\nbo: grant the file with `--grant %s:write=%s` (bo writes it for the extension)"
                    % (CURRENT_PART, os.path.basename(path)))
        if inside == ".":
            return ("\nbo: a classic recipe's part may write only its part directory, bin/ and the "
                    "directories you grant it; the buildout directory itself is never granted: "
                    "point the option at a subdirectory and grant it with `--grant %s:write=DIR`" % CURRENT_PART)
        return "\nbo: grant the directory with `--grant %s:write=%s`" % (CURRENT_PART, inside)
    return "\nbo: grant the directory with `--grant %s:outside=%s`" % (CURRENT_PART, directory)


def describe_error(exc):
    """The message bo shows: a UserError's text, else the last frames of the traceback."""
    if isinstance(exc, zc.buildout.UserError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop the runner's own frames at the top.
    while len(frames) > 1 and "bo_classic" in frames[0].filename:
        frames.pop(0)
    lines = traceback.format_list(frames[-6:])
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, SystemExit):
        text = "it stopped (sys.exit(%r)); its messages above say why" % (exc.code,)
    return "%s%s\nTraceback (most recent call last, innermost shown):\n%s" % (
        text, _grant_hint(exc), "".join(lines).rstrip())
