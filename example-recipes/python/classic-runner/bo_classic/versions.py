"""PEP 440 versions, PEP 508 requirements and markers for the pkg_resources shim.

A small, dependency-free stand-in for `packaging` (which the runner cannot
assume is installed): `parse_version`, `Requirement`, `SpecifierSet`, `Marker`.
"""

import operator
import os
import platform
import re
import sys

_VERSION = re.compile(
    r"^\s*v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d*))?"
    r"(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d*))?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$",
    re.I,
)
_PRE = {"a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc"}


class InvalidVersion(ValueError):
    pass


class Version:
    """A PEP 440 version; unparsable strings sort before every valid version."""

    def __init__(self, text):
        self.text = str(text)
        m = _VERSION.match(self.text)
        if not m:
            raise InvalidVersion("Invalid version: %r" % text)
        self.epoch = int(m.group("epoch") or 0)
        rel = tuple(int(x) for x in m.group("release").split("."))
        self.release = rel
        self.pre = (_PRE[m.group("pre_l").lower()], int(m.group("pre_n") or 0)) if m.group("pre_l") else None
        post = m.group("post_n1") or m.group("post_n2")
        self.post = int(post or 0) if (m.group("post_n1") or m.group("post_l")) else None
        self.dev = int(m.group("dev_n") or 0) if m.group("dev_l") else None
        self.local = m.group("local")
        trimmed = list(rel)
        while len(trimmed) > 1 and trimmed[-1] == 0:
            trimmed.pop()
        inf = float("inf")
        if self.pre is None and self.post is None and self.dev is not None:
            pre = (-1, 0)
        elif self.pre is None:
            pre = (9, 0)
        else:
            pre = ({"a": 0, "b": 1, "rc": 2}[self.pre[0]], self.pre[1])
        self._key = (self.epoch, tuple(trimmed), pre,
                     (-inf,) if self.post is None else (self.post,),
                     (inf,) if self.dev is None else (self.dev,),
                     () if self.local is None else tuple(
                         (int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[-_.]", self.local)))

    is_prerelease = property(lambda self: self.pre is not None or self.dev is not None)
    is_postrelease = property(lambda self: self.post is not None)
    public = property(lambda self: self.text.split("+")[0])
    base_version = property(lambda self: ".".join(map(str, self.release)))

    def __str__(self):
        return self.text

    def __repr__(self):
        return "<Version(%r)>" % self.text

    def __hash__(self):
        return hash(self._key)

    def _cmp(self, other, op):
        if isinstance(other, str):
            other = parse_version(other)
        if isinstance(other, LegacyVersion):
            return op((1,), (0,))
        if not isinstance(other, Version):
            return NotImplemented
        return op(self._key, other._key)

    __lt__ = lambda s, o: s._cmp(o, operator.lt)
    __le__ = lambda s, o: s._cmp(o, operator.le)
    __eq__ = lambda s, o: s._cmp(o, operator.eq)
    __ne__ = lambda s, o: s._cmp(o, operator.ne)
    __gt__ = lambda s, o: s._cmp(o, operator.gt)
    __ge__ = lambda s, o: s._cmp(o, operator.ge)


class LegacyVersion(Version):
    """An unparsable version string: compares as text, below all PEP 440 ones."""

    def __init__(self, text):
        self.text = str(text)
        self.epoch, self.release, self.pre, self.post, self.dev, self.local = -1, (), None, None, None, None
        self._key = (-1, self.text)

    def _cmp(self, other, op):
        if isinstance(other, str):
            other = parse_version(other)
        if isinstance(other, LegacyVersion):
            return op(self.text, other.text)
        return op((0,), (1,))


def parse_version(text):
    try:
        return Version(text)
    except InvalidVersion:
        return LegacyVersion(text)


_SPEC = re.compile(r"\s*(~=|===|==|!=|<=|>=|<|>)\s*([^,\s;]+)\s*")


def _match(op, want, version):
    v = parse_version(version) if not isinstance(version, Version) else version
    if op == "===":
        return str(v) == want
    if want.endswith(".*") and op in ("==", "!="):
        prefix = parse_version(want[:-2]).release
        ok = v.release[:len(prefix)] == prefix
        return ok if op == "==" else not ok
    w = parse_version(want)
    if op == "~=":
        prefix = w.release[:-1]
        return v >= w and v.release[:len(prefix)] == prefix
    if op in ("==", "!=") and w.local is None and not isinstance(v, LegacyVersion):
        v = parse_version(v.public)
    return {"==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge,
            "<": operator.lt, ">": operator.gt}[op](v, w)


class SpecifierSet:
    def __init__(self, text=""):
        self.specs = [(m.group(1), m.group(2)) for part in text.split(",") if part.strip()
                      for m in [_SPEC.match(part)] if m]

    def contains(self, version, prereleases=True):
        return all(_match(op, want, version) for op, want in self.specs)

    __contains__ = contains

    def __str__(self):
        return ",".join(op + v for op, v in self.specs)


def default_environment():
    impl = sys.implementation
    return {
        "implementation_name": impl.name,
        "implementation_version": "%d.%d.%d" % impl.version[:3],
        "os_name": os.name, "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": "", "platform_system": platform.system(), "platform_version": "",
        "python_full_version": platform.python_version(),
        "python_version": "%d.%d" % sys.version_info[:2], "sys_platform": sys.platform, "extra": "",
    }


_MARKER_TOKEN = re.compile(r"""\s*(?:(?P<str>'[^']*'|"[^"]*")|(?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b|and\b|or\b|not\b|\(|\))|(?P<var>[a-z_.]+))""")


class Marker:
    """An environment marker, evaluated with the standard PEP 508 semantics."""

    def __init__(self, text):
        self.text = text.strip()
        self.tokens = []
        pos = 0
        while pos < len(self.text):
            m = _MARKER_TOKEN.match(self.text, pos)
            if not m or m.end() == pos:
                raise ValueError("Invalid marker: %r" % text)
            pos = m.end()
            kind = m.lastgroup
            value = m.group(kind)
            self.tokens.append((kind, " ".join(value.split()) if kind == "op" else value))

    def __str__(self):
        return self.text

    def evaluate(self, environment=None):
        env = default_environment()
        env.update(environment or {})
        tokens = list(self.tokens)

        def value(tok):
            kind, v = tok
            if kind == "str":
                return v[1:-1]
            return str(env.get(v.replace(".", "_"), v))

        def atom():
            tok = tokens.pop(0)
            if tok == ("op", "("):
                r = disj()
                tokens.pop(0)
                return r
            if tok == ("op", "not"):
                return not atom()
            left_tok = tok
            op = tokens.pop(0)[1]
            right_tok = tokens.pop(0)
            left, right = value(left_tok), value(right_tok)
            if "extra" in (left_tok[1], right_tok[1]):
                norm = lambda s: re.sub(r"[-_.]+", "-", s).lower()
                left, right = norm(left), norm(right)
            if op == "in":
                return left in right
            if op == "not in":
                return left not in right
            if op in ("<", "<=", ">", ">=", "~=", "==", "!=") and _VERSION.match(right) and _VERSION.match(left):
                return _match(op, right, left)
            return {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
                    ">": operator.gt, ">=": operator.ge, "===": operator.eq}[op](left, right)

        def conj():
            r = atom()
            while tokens and tokens[0] == ("op", "and"):
                tokens.pop(0)
                r = atom() and r
            return r

        def disj():
            r = conj()
            while tokens and tokens[0] == ("op", "or"):
                tokens.pop(0)
                r = conj() or r
            return r

        return disj()


_REQ = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<rest>.*)$")


def canonicalize_name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class Requirement:
    """A PEP 508 requirement (no URL form): name, extras, specifier, marker."""

    def __init__(self, text):
        self.text = text
        body, _, marker = text.partition(";")
        m = _REQ.match(body)
        if not m:
            raise ValueError("Invalid requirement: %r" % text)
        self.name = m.group("name")
        self.extras = tuple(e.strip() for e in (m.group("extras") or "").split(",") if e.strip())
        rest = m.group("rest").strip()
        if rest.startswith("(") and rest.endswith(")"):
            rest = rest[1:-1]
        if rest.startswith("@"):
            rest = ""
        self.specifier = SpecifierSet(rest)
        self.marker = Marker(marker) if marker.strip() else None

    def __str__(self):
        s = self.name
        if self.extras:
            s += "[%s]" % ",".join(self.extras)
        s += str(self.specifier)
        if self.marker:
            s += "; " + str(self.marker)
        return s
