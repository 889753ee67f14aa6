"""zc.buildout.buildout for the sandbox: `Buildout` and `Options` over bo's configuration.

bo has already evaluated the configuration: every value the host gives
(`host.config_get`, the part's options) is final, so those go straight into
`Options._data` and are never substituted again. Values a recipe sets are final
too, as in Buildout. `_sub` still performs `${section:option}` substitution
for recipes that call it on their own templates. `[buildout]` falls back to
Buildout's defaults (directories made absolute) for options bo does not set.
"""

import copy
import logging
import os
import re
from collections.abc import MutableMapping

import zc.buildout
from wit_world.imports import host

DictMixin = MutableMapping


class MissingOption(zc.buildout.UserError, KeyError):
    """A required option was missing."""


class MissingSection(zc.buildout.UserError, KeyError):
    """A required section is missing."""

    def __str__(self):
        return "The referenced section, %r, was not defined." % self.args[0]


_buildout_default_options = {
    'allow-hosts': '*',
    'allow-picked-versions': 'true',
    'bin-directory': 'bin',
    'develop-eggs-directory': 'develop-eggs',
    'eggs-directory': 'eggs',
    'eggs-directory-version': 'v5',
    'find-links': '',
    'install-from-cache': 'false',
    'installed': '.installed.cfg',
    'log-format': '',
    'log-level': 'INFO',
    'newest': 'true',
    'offline': 'false',
    'parts-directory': 'parts',
    'prefer-final': 'true',
    'python': 'buildout',
    'show-picked-versions': 'false',
    'socket-timeout': '',
    'update-versions-file': '',
    'use-dependency-links': 'true',
    'allow-unknown-extras': 'false',
    'versions': 'versions',
}
_path_options = ('bin-directory', 'develop-eggs-directory', 'eggs-directory', 'parts-directory', 'installed')


class Options(DictMixin):

    def __init__(self, buildout, section, data):
        self.buildout = buildout
        self.name = section
        self._raw = dict(data)
        self._cooked = {}
        self._data = dict(data)
        self._created = None
        # The part's own options are all there is; other sections may ask the host.
        self._host_fallback = section != getattr(buildout, '_part', None)
        # What an extension changed: options it assigned, raw values it edited.
        self._initial_raw = dict(data)
        self._assigned = set()
        self._new = False

    def _initialize(self):
        pass

    def _from_host(self, option):
        if not self._host_fallback:
            return None
        value = host.config_get(self.name, option)
        if value is None and self.name == 'buildout':
            value = self.buildout._default(option)
        if value is not None:
            self._raw[option] = self._data[option] = self._initial_raw[option] = value
        return value

    def get(self, option, default=None, seen=None):
        try:
            return self._data[option]
        except KeyError:
            pass
        v = self._cooked.get(option)
        if v is None:
            v = self._raw.get(option)
            if v is None:
                v = self._from_host(option)
                return default if v is None else v
        if '${' in v:
            key = self.name, option
            if seen is None:
                seen = [key]
            elif key in seen:
                raise zc.buildout.UserError("Circular reference in substitutions.\n")
            else:
                seen.append(key)
            v = '$$'.join([self._sub(s, seen) for s in v.split('$$')])
            seen.pop()
        self._data[option] = v
        return v

    _template_split = re.compile('([$]{[^}]*})').split
    _simple = re.compile('[-a-zA-Z0-9 ._]+$').match
    _valid = re.compile(r'\${[-a-zA-Z0-9 ._]*:[-a-zA-Z0-9 ._]+}$').match

    def _sub(self, template, seen):
        value = self._template_split(template)
        subs = []
        for ref in value[1::2]:
            s = tuple(ref[2:-1].split(':'))
            if not self._valid(ref):
                if len(s) < 2:
                    raise zc.buildout.UserError("The substitution, %s,\ndoesn't contain a colon." % ref)
                if len(s) > 2:
                    raise zc.buildout.UserError("The substitution, %s,\nhas too many colons." % ref)
                if not self._simple(s[0]):
                    raise zc.buildout.UserError(
                        "The section name in substitution, %s,\nhas invalid characters." % ref)
                if not self._simple(s[1]):
                    raise zc.buildout.UserError(
                        "The option name in substitution, %s,\nhas invalid characters." % ref)
            section, option = s
            if not section:
                section = self.name
            v = self.buildout[section].get(option, None, seen)
            if v is None:
                if option == '_buildout_section_name_':
                    v = self.name
                else:
                    raise MissingOption("Referenced option does not exist:", section, option)
            subs.append(v)
        subs.append('')
        return ''.join([''.join(v) for v in zip(value[::2], subs)])

    def __getitem__(self, key):
        try:
            return self._data[key]
        except KeyError:
            pass
        v = self.get(key)
        if v is None:
            raise MissingOption("Missing option: %s:%s" % (self.name, key))
        return v

    def __setitem__(self, option, value):
        if not isinstance(value, str):
            raise TypeError('Option values must be strings', value)
        self._data[option] = value
        self._assigned.add(option)

    def __delitem__(self, key):
        if key in self._raw:
            del self._raw[key]
            self._data.pop(key, None)
            self._cooked.pop(key, None)
        elif key in self._data:
            del self._data[key]
        else:
            raise KeyError(key)

    def keys(self):
        raw = self._raw
        return list(self._raw) + [k for k in self._data if k not in raw]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __contains__(self, key):
        return self.get(key) is not None

    def copy(self):
        result = copy.deepcopy(self._raw)
        result.update(self._cooked)
        result.update(self._data)
        return result

    def query_bool(self, name, default=None):
        """Whether option `name` is true ('yes', 'true', 'on', '1'), or `default`."""
        value = self.get(name, default)
        if value is None:
            return None
        return str(value).strip().lower() in ('yes', 'true', 'on', '1')

    def get_bool(self, name, default=False):
        return bool(self.query_bool(name, 'true' if default else 'false'))

    def _call(self, f):
        """Runs install/update like Buildout: in the buildout directory, removing the
        paths registered with `created()` if it fails."""
        buildout_directory = self.buildout['buildout']['directory']
        self._created = []
        try:
            try:
                os.chdir(buildout_directory)
                return f()
            except BaseException:
                from zc.buildout.rmtree import rmtree
                for p in self._created:
                    try:
                        if os.path.isdir(p) and not os.path.islink(p):
                            rmtree(p)
                        elif os.path.lexists(p):
                            os.remove(p)
                    except OSError:
                        self.buildout._logger.warning("Couldn't clean up %r.", p)
                raise
        finally:
            self._created = None
            os.chdir(buildout_directory)

    def created(self, *paths):
        try:
            self._created.extend(paths)
        except AttributeError:
            raise TypeError("Attempt to register a created path while not installing", self.name)
        return self._created

    def __repr__(self):
        return repr(dict(self))


class Buildout(DictMixin):
    """The configuration, section by section, as the host has evaluated it.

    `sections` maps section names to their option names (BO_CLASSIC_SECTIONS);
    `part_options` is the Options of the part being run, which `self[part]` is.
    """

    Options = Options

    def __init__(self, sections, part, part_options):
        self._sections = {name: list(opts) for name, opts in sections.items()}
        self._sections.setdefault('buildout', [])
        self._data = {}
        self._part = part
        self._parts = [part] if part is not None else []
        self._logger = logging.getLogger('zc.buildout')
        if part is not None:  # None: an extension's view, every section from the host
            self._sections.setdefault(part, list(part_options))
            self._data[part] = Options(self, part, part_options)
        directory = host.config_get('buildout', 'directory') or os.getcwd()
        self._buildout_dir = directory
        self._raw = _RawSections(self)

    def _default(self, option):
        if option == 'directory':
            return self._buildout_dir
        if option == 'executable':
            import sys
            return sys.executable
        value = _buildout_default_options.get(option)
        if value is not None and option in _path_options:
            value = os.path.join(self._buildout_dir, value)
        return value

    def _buildout_path(self, name):
        if '${' in name:
            return name
        return os.path.join(self._buildout_dir, name)

    @property
    def offline(self):
        return bool_option(self['buildout'], 'offline', 'false')

    @property
    def newest(self):
        return bool_option(self['buildout'], 'newest', 'true')

    @property
    def _links(self):
        return tuple(self['buildout'].get('find-links', '').split())

    @property
    def _allow_hosts(self):
        return tuple(h.strip() for h in self['buildout'].get('allow-hosts', '*').split('\n') if h.strip())

    @property
    def namespace(self):
        return {}

    def __getitem__(self, section):
        try:
            return self._data[section]
        except KeyError:
            pass
        if section not in self._sections:
            raise MissingSection(section)
        data = {}
        for option in self._sections[section]:
            value = host.config_get(section, option)
            if value is not None:
                data[option] = value
        if section == 'buildout':
            for option in list(_buildout_default_options) + ['directory']:
                if option not in data:
                    data[option] = self._default(option)
        options = self._data[section] = Options(self, section, data)
        return options

    def __setitem__(self, name, data):
        if name in self._sections:
            raise KeyError("Section already exists", name)
        self._sections[name] = list(data)
        options = self._data[name] = Options(self, name, {k: str(v) for k, v in data.items()})
        options._new = True

    def _changes(self):
        """What an extension changed, as (kind, section, option, value): "raw" for
        new sections and edited `_raw` values (bo substitutes them), "final" for
        assigned options (used as they are, as Buildout uses `options[k] = v`)."""
        changes = []
        for name, options in self._data.items():
            for key, value in options._raw.items():
                if options._new or options._initial_raw.get(key) != value:
                    changes.append(("raw", name, key, str(value)))
            for key in sorted(options._assigned):
                value = options._data.get(key)
                if value is not None and not (options._new and options._raw.get(key) == value):
                    changes.append(("final", name, key, value))
        return changes

    def __delitem__(self, key):
        raise NotImplementedError('__delitem__')

    def keys(self):
        return list(self._sections)

    def __iter__(self):
        return iter(self._sections)

    def __len__(self):
        return len(self._sections)

    def __contains__(self, section):
        return section in self._sections


class _RawSections(MutableMapping):
    """`buildout._raw`: section name -> {option: value} (values already final)."""

    def __init__(self, buildout):
        self._buildout = buildout

    def __getitem__(self, section):
        if section not in self._buildout._sections:
            raise KeyError(section)
        return self._buildout[section]._raw

    def __setitem__(self, section, data):
        self._buildout[section] = data

    def __delitem__(self, section):
        raise NotImplementedError('__delitem__')

    def __iter__(self):
        return iter(self._buildout._sections)

    def __len__(self):
        return len(self._buildout._sections)


_bool_names = {'true': True, 'false': False, True: True, False: False}


def bool_option(options, name, default=None):
    value = options.get(name, default)
    if value is None:
        raise KeyError(name)
    try:
        return _bool_names[value]
    except KeyError:
        raise zc.buildout.UserError('Invalid value for %r option: %r' % (name, value))


def _recipe(options):
    recipe = options['recipe']
    if ':' in recipe:
        recipe, entry = recipe.split(':')
    else:
        entry = 'default'
    return recipe, entry


def print_(*args, **kw):
    import sys
    sep, end, file = kw.get('sep', ' '), kw.get('end', '\n'), kw.get('file') or sys.stdout
    file.write(sep.join(map(str, args)) + end)
