"""zc.buildout.easy_install for the sandbox: installs and scripts go through bo.

`install`/`working_set` ask bo's `python.install` (bo resolves with the part's
index, find-links and the buildout's [versions]) and return a
`pkg_resources.WorkingSet`; `scripts` asks `python.write_scripts`. Building or
developing from source (`develop`, `build`) is not possible in the sandbox.
"""

import logging
import os
import sys

import pkg_resources
import zc.buildout
from bo_classic.versions import canonicalize_name
from componentize_py_types import Err
from wit_world.imports import python

logger = logging.getLogger('zc.buildout.easy_install')

NOT_SUPPORTED = "%s is not supported in bo's sandbox (bo installs distributions itself, from wheels)"


def realpath(path):
    return os.path.normcase(os.path.abspath(os.path.realpath(path)))


class IncompatibleConstraintError(zc.buildout.UserError):
    """A minimum version is incompatible with a version pin."""


class VersionConflict(zc.buildout.UserError):
    def __init__(self, err, ws=None):
        self.err, self.ws = err, ws

    def __str__(self):
        return "Version conflict: %s" % (self.err,)


class MissingDistribution(zc.buildout.UserError):
    def __init__(self, req, ws=None):
        self.data, self.ws = req, ws

    def __str__(self):
        return "Couldn't find a distribution for %r." % str(self.data)


def _install(specs):
    specs = [str(s) for s in specs]
    try:
        dists = python.install(specs)
    except Err as e:
        raise zc.buildout.UserError(str(e.value))
    return [pkg_resources._get_dist(d.location, d.name, d.version, d.console_scripts) for d in dists]


class Installer:
    """What recipes touch of Buildout's Installer: its class-level settings."""

    _versions = {}
    _required_by = {}
    _picked_versions = {}
    _download_cache = None
    _install_from_cache = False
    _prefer_final = True
    _use_dependency_links = True
    _allow_picked_versions = True
    _store_required_by = False
    _index_url = None
    _namespace_packages = {}

    def __init__(self, dest=None, links=(), index=None, executable=sys.executable, always_unzip=None,
                 path=None, newest=True, versions=None, use_dependency_links=None, allow_hosts=('*',),
                 check_picked=True, allow_unknown_extras=False):
        self._dest, self._path = dest, path

    def install(self, specs, working_set=None):
        ws = pkg_resources.WorkingSet() if working_set is None else working_set
        for dist in _install(specs):
            ws.add(dist)
        return ws

    def build(self, spec, build_ext):
        raise zc.buildout.UserError(NOT_SUPPORTED % "Building distributions from source")


def install(specs, dest, links=(), index=None, executable=sys.executable, always_unzip=None,
            path=None, working_set=None, newest=True, versions=None, use_dependency_links=None,
            allow_hosts=('*',), include_site_packages=None, allowed_eggs_from_site_packages=None,
            check_picked=True, allow_unknown_extras=False):
    return Installer(dest, links, index, executable, always_unzip, path, newest, versions).install(
        specs, working_set)


def working_set(specs, executable, path=None, include_site_packages=None,
                allowed_eggs_from_site_packages=None):
    return install(specs, None, path=path)


def build(spec, dest, build_ext, links=(), index=None, executable=sys.executable, path=None,
          newest=True, versions=None, allow_hosts=('*',)):
    raise zc.buildout.UserError(NOT_SUPPORTED % "Building distributions from source")


def develop(setup, dest, build_ext=None, executable=sys.executable):
    raise zc.buildout.UserError(NOT_SUPPORTED % "Developing distributions (develop eggs)")


def sort_working_set(ws, eggs_dir, develop_eggs_dir):
    """Buildout orders develop eggs, then eggs, then others; bo's store is one place."""
    return ws


def _setting(name):
    def setting(value=None):
        old = getattr(Installer, name)
        if value is not None:
            setattr(Installer, name, value if name in ('_download_cache', '_index_url') else bool(value))
        return old
    return setting


def normalize_versions(versions):
    return {canonicalize_name(k): v for k, v in versions.items()}


def default_versions(versions=None):
    old = Installer._versions
    if versions is not None:
        Installer._versions = normalize_versions(versions)
    return old


download_cache = _setting('_download_cache')
install_from_cache = _setting('_install_from_cache')
prefer_final = _setting('_prefer_final')
use_dependency_links = _setting('_use_dependency_links')
index_url = _setting('_index_url')
allow_picked_versions = _setting('_allow_picked_versions')
store_required_by = _setting('_store_required_by')


def get_picked_versions():
    return sorted(Installer._picked_versions.items()), Installer._required_by


def get_namespace_packages():
    return sorted(Installer._namespace_packages.items())


def scripts(reqs, working_set, executable, dest=None, scripts=None, extra_paths=(), arguments='',
            interpreter=None, initialization='', relative_paths=False):
    """Writes console scripts (and an interpreter) through bo; returns their paths.

    `reqs` holds requirement strings (their console_scripts are written) and
    (name, module, attrs) tuples; `scripts` maps entry-point names to script
    names and restricts which are written, as in Buildout.
    """
    if isinstance(reqs, str):
        raise TypeError('Expected iterable of requirements or entry points, got string.')
    path = []
    for p in [dist.location for dist in working_set] + list(extra_paths):
        if p and p not in path:
            path.append(p)
    entry_points = []
    for req in reqs:
        if isinstance(req, str):
            parsed = pkg_resources.Requirement.parse(req)
            if parsed.marker is not None and not parsed.marker.evaluate():
                continue
            dist = working_set.find(parsed)
            if dist is None:
                raise ValueError("Could not find requirement '%s' in working set. " % parsed.name)
            for name, ep in sorted(dist.get_entry_map('console_scripts').items()):
                entry_points.append((name, ep.module_name, '.'.join(ep.attrs)))
        else:
            entry_points.append(tuple(req))
    by_dir = {}
    names = []
    for name, module_name, attrs in entry_points:
        names.append(name)
        sname = name
        if scripts is not None:
            sname = scripts.get(name)
            if sname is None:
                continue
        full = os.path.join(dest, sname)
        by_dir.setdefault(os.path.dirname(full), []).append(
            python.Script(name=os.path.basename(full), module=module_name, attrs=attrs))
    if scripts is not None:
        for name, target in scripts.items():
            if name not in names:
                if name == target:
                    logger.warning("Could not generate script '%s' as it is not "
                                   "defined in the egg entry points.", name)
                else:
                    logger.warning("Could not generate script '%s' as script "
                                   "'%s' is not defined in the egg entry points.", name, target)
    interpreter_dir = None
    if interpreter:
        full = os.path.join(dest, interpreter)
        interpreter_dir = os.path.dirname(full)
        by_dir.setdefault(interpreter_dir, [])
    generated = []
    for directory, items in by_dir.items():
        request = python.ScriptsRequest(
            path=path, scripts=items,
            interpreter=os.path.basename(os.path.join(dest, interpreter)) if directory == interpreter_dir else None,
            initialization=initialization or '', arguments=arguments or '',
            relative_paths=bool(relative_paths), bin_directory=directory)
        try:
            generated.extend(python.write_scripts(request))
        except Err as e:
            raise zc.buildout.UserError(str(e.value))
    return generated
