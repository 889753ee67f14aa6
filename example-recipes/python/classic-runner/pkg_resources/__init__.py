"""A focused `pkg_resources` for classic recipes running in bo's sandbox.

Distributions are `*.dist-info` directories (bo installs wheels, never eggs):
the global `working_set` holds the recipe's own distributions (the host's
BO_CLASSIC_DISTS, loaded by `bo_classic.runtime`), and `WorkingSet(entries)`
scans directories. zc.buildout, setuptools, pip and wheel are never real
distributions here: requirements on them count as met.
"""

import email.parser
import importlib
import os
import re
import sys

from bo_classic.versions import (InvalidVersion, LegacyVersion, Marker, SpecifierSet,  # noqa: F401
                                 Version, canonicalize_name, parse_version)
from bo_classic.versions import Requirement as _Req

# Provided by the runner itself; a requirement on them is always met.
VIRTUAL = {"zc-buildout": "6.0.1", "setuptools": "80.9.0", "pip": "25.0", "wheel": "0.45.1"}


class ResolutionError(Exception):
    pass


class DistributionNotFound(ResolutionError):
    def __str__(self):
        req = self.args[0] if self.args else "?"
        return "The '%s' distribution was not found and is required by the application" % (req,)


class VersionConflict(ResolutionError):
    dist = property(lambda self: self.args[0])
    req = property(lambda self: self.args[1])

    def __str__(self):
        return "%s is installed but %s is required" % (self.args[0], self.args[1])


class UnknownExtra(ResolutionError):
    pass


class PkgResourcesDeprecationWarning(Warning):
    pass


def safe_name(name):
    return re.sub("[^A-Za-z0-9.]+", "-", name)


def safe_version(version):
    try:
        return str(Version(version))
    except InvalidVersion:
        return re.sub("[^A-Za-z0-9.]+", "-", version.replace(" ", "."))


def safe_extra(extra):
    return re.sub("[^A-Za-z0-9.-]+", "_", extra).lower()


def to_filename(name):
    return name.replace("-", "_")


def yield_lines(text):
    if isinstance(text, str):
        text = text.splitlines()
    for item in text:
        if isinstance(item, str):
            item = item.strip()
            if item and not item.startswith("#"):
                yield item
        else:
            yield from yield_lines(item)


def _key(name):
    return canonicalize_name(name)


class Requirement(_Req):
    """pkg_resources' Requirement: `key`, `project_name`, `specs`, `in`."""

    def __init__(self, text):
        super().__init__(text)
        self.unsafe_name = self.name
        self.project_name = safe_name(self.name)
        self.key = self.project_name.lower()
        self.specs = list(self.specifier.specs)
        self.hashCmp = (_key(self.name), str(self.specifier), frozenset(self.extras), str(self.marker))

    @classmethod
    def parse(cls, text):
        return cls(str(text))

    def __contains__(self, item):
        if isinstance(item, Distribution):
            if _key(item.project_name) != _key(self.name):
                return False
            item = item.version
        return self.specifier.contains(item)

    def __eq__(self, other):
        return isinstance(other, Requirement) and self.hashCmp == other.hashCmp

    def __hash__(self):
        return hash(self.hashCmp)

    def __repr__(self):
        return "Requirement.parse(%r)" % str(self)


def parse_requirements(strs):
    for line in yield_lines(strs):
        if " #" in line:
            line = line[:line.find(" #")]
        yield Requirement(line)


class EntryPoint:
    _PATTERN = re.compile(r"^\s*(?P<name>.+?)\s*=\s*(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+))?\s*(?P<extras>\[.*\])?\s*$")

    def __init__(self, name, module_name, attrs=(), extras=(), dist=None):
        self.name, self.module_name = name, module_name
        self.attrs, self.extras, self.dist = tuple(attrs), tuple(extras), dist

    @classmethod
    def parse(cls, src, dist=None):
        m = cls._PATTERN.match(src)
        if not m:
            raise ValueError("EntryPoint must be in 'name=module:attrs [extras]' format", src)
        attrs = m.group("attr").split(".") if m.group("attr") else ()
        extras = [e.strip() for e in (m.group("extras") or "[]")[1:-1].split(",") if e.strip()]
        return cls(m.group("name"), m.group("module"), attrs, extras, dist)

    def resolve(self):
        obj = importlib.import_module(self.module_name)
        for attr in self.attrs:
            obj = getattr(obj, attr)
        return obj

    def load(self, require=True, *args, **kwargs):
        return self.resolve()

    def __str__(self):
        s = "%s = %s" % (self.name, self.module_name)
        if self.attrs:
            s += ":" + ".".join(self.attrs)
        return s

    __repr__ = lambda self: "EntryPoint.parse(%r)" % str(self)


def _parse_entry_points(text, dist):
    groups, group = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = groups.setdefault(line[1:-1].strip(), {})
        elif group is not None:
            ep = EntryPoint.parse(line, dist)
            group[ep.name] = ep
    return groups


class Distribution:
    """A distribution: a `*.dist-info` directory inside `location`."""

    def __init__(self, location=None, metadata=None, project_name=None, version=None,
                 py_version=None, platform=None, precedence=None, info_dir=None, console_scripts=()):
        self.location = location
        self.info_dir = info_dir
        self._meta = None
        self._console_scripts = list(console_scripts)
        self._name, self._version = project_name, version
        self.py_version, self.platform, self.precedence = py_version, platform, precedence

    @classmethod
    def from_dist_info(cls, location, info_dir, **kw):
        return cls(location, info_dir=info_dir, **kw)

    def _metadata(self):
        if self._meta is None:
            self._meta = {}
            text = self.get_metadata("METADATA") if self.info_dir else ""
            self._meta = email.parser.Parser().parsestr(text, headersonly=True) if text else {}
        return self._meta

    project_name = property(lambda self: safe_name(self._name or self._metadata().get("Name") or "unknown"))
    key = property(lambda self: self.project_name.lower())
    version = property(lambda self: self._version or self._metadata().get("Version") or "0")
    parsed_version = property(lambda self: parse_version(self.version))
    extras = property(lambda self: [safe_extra(e) for e in self._metadata().get_all("Provides-Extra") or []]
                      if self._metadata() else [])

    def _path(self, name):
        return os.path.join(self.info_dir, *name.split("/"))

    def has_metadata(self, name):
        return bool(self.info_dir) and os.path.exists(self._path(name))

    def get_metadata(self, name):
        if not self.has_metadata(name):
            return ""
        with open(self._path(name), encoding="utf-8", errors="replace") as f:
            return f.read()

    def get_metadata_lines(self, name):
        return yield_lines(self.get_metadata(name))

    _get_metadata = get_metadata_lines

    def metadata_isdir(self, name):
        return bool(self.info_dir) and os.path.isdir(self._path(name))

    def metadata_listdir(self, name):
        return sorted(os.listdir(self._path(name))) if self.metadata_isdir(name) else []

    def requires(self, extras=()):
        wanted = {_key(e) for e in extras}
        meta = self._metadata()
        result = []
        for line in (meta.get_all("Requires-Dist") or []) if meta else []:
            req = Requirement(line)
            if req.marker is not None:
                ok = req.marker.evaluate({"extra": ""}) or any(
                    req.marker.evaluate({"extra": e}) for e in wanted)
                if not ok:
                    continue
                req.marker = None
            result.append(req)
        return result

    def get_entry_map(self, group=None):
        if not hasattr(self, "_ep_map"):
            self._ep_map = _parse_entry_points(self.get_metadata("entry_points.txt"), self)
            if self._console_scripts and "console_scripts" not in self._ep_map:
                self._ep_map["console_scripts"] = {
                    n: EntryPoint.parse("%s = %s" % (n, t), self) for n, t in self._console_scripts}
        if group is not None:
            return self._ep_map.get(group, {})
        return self._ep_map

    def get_entry_info(self, group, name):
        return self.get_entry_map(group).get(name)

    def load_entry_point(self, group, name):
        ep = self.get_entry_info(group, name)
        if ep is None:
            raise ImportError("Entry point %r not found" % ((group, name),))
        return ep.load()

    def as_requirement(self):
        return Requirement("%s==%s" % (self.project_name, self.version))

    def egg_name(self):
        return "%s-%s-py%d.%d" % (to_filename(safe_name(self.project_name)), to_filename(safe_version(self.version)),
                                  *sys.version_info[:2])

    def activate(self, path=None, replace=False):
        path = sys.path if path is None else path
        if self.location and self.location not in path:
            path.append(self.location)

    def insert_on(self, path, loc=None, replace=False):
        self.activate(path)

    def __str__(self):
        return "%s %s" % (self.project_name, self.version)

    def __repr__(self):
        return "%s (%s)" % (self, self.location)


def find_distributions(path_item, only=False):
    """Every dist-info distribution directly inside directory `path_item`."""
    try:
        names = sorted(os.listdir(path_item))
    except OSError:
        return
    for name in names:
        if name.endswith((".dist-info", ".egg-info")) and os.path.isdir(os.path.join(path_item, name)):
            yield Distribution(path_item, info_dir=os.path.join(path_item, name))


def _get_dist(location, name, version=None, console_scripts=()):
    """The distribution `name` at `location` (dist-info read if present)."""
    wanted = _key(name)
    for dist in find_distributions(location):
        base = os.path.basename(dist.info_dir).rsplit(".", 1)[0]
        if _key(base.split("-")[0]) == wanted or _key(dist.project_name) == wanted:
            dist._console_scripts = list(console_scripts)
            return dist
    return Distribution(location, project_name=name, version=version, console_scripts=console_scripts)


class WorkingSet:
    def __init__(self, entries=None):
        self.entries, self.entry_keys, self.by_key = [], {}, {}
        self.normalized_to_canonical_keys = {}
        self.callbacks = []
        for entry in (entries if entries is not None else []):
            self.add_entry(entry)

    def add_entry(self, entry):
        self.entry_keys.setdefault(entry, [])
        if entry not in self.entries:
            self.entries.append(entry)
        for dist in find_distributions(entry):
            self.add(dist, entry, False)

    def add(self, dist, entry=None, insert=True, replace=False):
        entry = dist.location if entry is None else entry
        keys = self.entry_keys.setdefault(entry, [])
        if entry not in self.entries:
            self.entries.append(entry)
        if dist.key in self.by_key and not replace:
            return
        self.by_key[dist.key] = dist
        self.normalized_to_canonical_keys[_key(dist.key)] = dist.key
        if dist.key not in keys:
            keys.append(dist.key)
        for callback in self.callbacks:
            callback(dist)

    def __contains__(self, dist):
        return self.by_key.get(dist.key) == dist

    def __iter__(self):
        seen = set()
        for entry in self.entries:
            for key in self.entry_keys.get(entry, []):
                if key not in seen:
                    seen.add(key)
                    yield self.by_key[key]

    def find(self, req):
        dist = self.by_key.get(req.key)
        if dist is None:
            canonical = self.normalized_to_canonical_keys.get(_key(req.key))
            dist = self.by_key.get(canonical) if canonical else None
        if dist is not None and req.specs and dist.version not in req.specifier:
            raise VersionConflict(dist, req)
        return dist

    def resolve(self, requirements, env=None, installer=None, replace_conflicting=False, extras=None):
        todo, done, seen = list(requirements)[::-1], [], set()
        while todo:
            req = todo.pop()
            if req.marker is not None and not req.marker.evaluate():
                continue
            key = _key(req.key)
            if key in VIRTUAL:
                continue
            dist = self.find(req)
            if dist is None:
                raise DistributionNotFound(req)
            if (key, req.extras) in seen:
                continue
            seen.add((key, req.extras))
            if dist not in done:
                done.append(dist)
            todo.extend(dist.requires(req.extras)[::-1])
        return done

    def require(self, *requirements):
        needed = self.resolve(parse_requirements(requirements))
        for dist in needed:
            self.add(dist)
        return needed

    def iter_entry_points(self, group, name=None):
        for dist in self:
            entries = dist.get_entry_map(group)
            if name is None:
                yield from entries.values()
            elif name in entries:
                yield entries[name]

    def subscribe(self, callback, existing=True):
        self.callbacks.append(callback)
        if existing:
            for dist in self:
                callback(dist)


class Environment:
    """Minimal: distributions found on `search_path`, by key."""

    def __init__(self, search_path=None, platform=None, python=None):
        self._distmap = {}
        for entry in (sys.path if search_path is None else search_path):
            for dist in find_distributions(entry):
                self._distmap.setdefault(dist.key, []).append(dist)

    def __getitem__(self, key):
        return self._distmap.get(key.lower(), [])

    def __iter__(self):
        return iter(self._distmap)

    def best_match(self, req, working_set, installer=None, replace_conflicting=False):
        for dist in self[req.key]:
            if dist in req:
                return dist
        return None


working_set = WorkingSet()


def _initialize(dists):
    """Loads the recipe's working set: [(name, version, location), ...]."""
    for name, version, location in dists:
        if _key(name) in VIRTUAL:
            continue
        working_set.add(_get_dist(location, name, version))


def _as_dist(dist):
    if isinstance(dist, str):
        dist = Requirement(dist)
    if isinstance(dist, Requirement):
        key = _key(dist.key)
        found = working_set.find(dist)
        if found is None and key in VIRTUAL:
            shim = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            found = Distribution(shim, project_name=dist.name, version=VIRTUAL[key])
        if found is None:
            raise DistributionNotFound(dist)
        return found
    return dist


def get_distribution(dist):
    return _as_dist(dist)


def require(*requirements):
    return working_set.require(*requirements)


def iter_entry_points(group, name=None):
    return working_set.iter_entry_points(group, name)


def get_entry_map(dist, group=None):
    return _as_dist(dist).get_entry_map(group)


def get_entry_info(dist, group, name):
    return _as_dist(dist).get_entry_info(group, name)


def load_entry_point(dist, group, name):
    return _as_dist(dist).load_entry_point(group, name)


def _resource_path(package_or_requirement, resource_name):
    if isinstance(package_or_requirement, Requirement):
        base = _as_dist(package_or_requirement).location
    else:
        module = sys.modules.get(package_or_requirement) or importlib.import_module(package_or_requirement)
        base = os.path.dirname(module.__file__)
    return os.path.join(base, *resource_name.split("/")) if resource_name else base


def resource_filename(package_or_requirement, resource_name):
    return _resource_path(package_or_requirement, resource_name)


def resource_exists(package_or_requirement, resource_name):
    return os.path.exists(_resource_path(package_or_requirement, resource_name))


def resource_isdir(package_or_requirement, resource_name):
    return os.path.isdir(_resource_path(package_or_requirement, resource_name))


def resource_listdir(package_or_requirement, resource_name):
    return os.listdir(_resource_path(package_or_requirement, resource_name))


def resource_string(package_or_requirement, resource_name):
    with open(_resource_path(package_or_requirement, resource_name), "rb") as f:
        return f.read()


def resource_stream(package_or_requirement, resource_name):
    return open(_resource_path(package_or_requirement, resource_name), "rb")


def declare_namespace(name):
    """Extends package `name`'s __path__ with its directory in every path entry."""
    module = sys.modules.get(name) or importlib.import_module(name)
    parent, _, last = name.rpartition(".")
    roots = sys.path if not parent else list(getattr(sys.modules[parent], "__path__", []))
    path = module.__dict__.setdefault("__path__", [])
    for root in roots:
        candidate = os.path.join(root, last)
        if os.path.isdir(candidate) and candidate not in path:
            path.append(candidate)


def fixup_namespace_packages(path_item, parent=None):
    pass


def cleanup_resources(force=False):
    return []


def set_extraction_path(path):
    pass
