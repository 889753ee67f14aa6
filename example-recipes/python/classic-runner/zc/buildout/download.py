"""zc.buildout.download for the sandbox: remote files come from bo's cache.

`Download(...)(url, md5sum, path)` returns `(path, is_temp)` as Buildout does;
a remote file is fetched by `host.download` (bo's cache, checksum, offline
mode, host grants) and copied to `path` with `host.copy_file` when one is
given. The returned file is never temporary, so is_temp is always False.
Local files (file: URLs or plain paths) are used in place, checked here.
"""

import hashlib
import logging
import os
import re
import shutil
from urllib.parse import urlparse
from urllib.request import url2pathname

import zc.buildout
from componentize_py_types import Err
from wit_world.imports import host


class ChecksumError(zc.buildout.UserError):
    pass


def realpath(path):
    return os.path.normcase(os.path.abspath(os.path.realpath(path)))


class Download:
    def __init__(self, options=None, cache=-1, namespace=None, offline=None, fallback=False,
                 hash_name=False, logger=None):
        options = options or {}
        self.directory = options.get('directory', '')
        self.cache = cache
        if cache == -1:
            self.cache = options.get('download-cache')
        self.namespace = namespace
        self.offline = offline
        if offline is None:
            self.offline = options.get('offline') == 'true' or options.get('install-from-cache') == 'true'
        self.fallback = fallback
        self.hash_name = hash_name
        self.logger = logger or logging.getLogger('zc.buildout')

    @property
    def download_cache(self):
        if self.cache is not None:
            return realpath(os.path.join(self.directory, self.cache))

    @property
    def cache_dir(self):
        if self.download_cache is not None:
            return os.path.join(self.download_cache, self.namespace or '')

    def __call__(self, url, md5sum=None, path=None):
        return self.download(url, md5sum, path)

    def download_cached(self, url, md5sum=None):
        return self.download(url, md5sum)

    def download(self, url, md5sum=None, path=None):
        if re.match(r"^[A-Za-z]:\\", url):
            url = 'file:' + url
        parsed = urlparse(url, 'file')
        if parsed.scheme == 'file':
            local = url2pathname(parsed.path) if url.startswith('file:') else url
            if not os.path.isabs(local) and self.directory:
                local = os.path.join(self.directory, local)
            if not check_md5sum(local, md5sum):
                raise ChecksumError('MD5 checksum mismatch for local resource at %r.' % local)
            return locate_at(local, path), False
        self.logger.debug('Downloading %s', url)
        try:
            cached = host.download(url, None, md5sum)
        except Err as e:
            raise zc.buildout.UserError(str(e.value))
        if path and realpath(path) != realpath(cached):
            try:
                host.copy_file(cached, path)
            except Err as e:
                raise zc.buildout.UserError(str(e.value))
            return path, False
        return cached, False

    def filename(self, url):
        if self.hash_name:
            return hashlib.md5(url.encode()).hexdigest()
        parsed = urlparse(url, 'file')
        for name in reversed(parsed.path.split('/')):
            if name:
                return name
        return '%s:%s' % (parsed.hostname, parsed.port)


def check_md5sum(path, md5sum):
    """Whether the MD5 checksum of the file at path matches (no checksum: yes)."""
    if md5sum is None:
        return True
    checksum = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(2 ** 16), b''):
            checksum.update(chunk)
    return checksum.hexdigest() == md5sum


def remove(path):
    if os.path.exists(path):
        os.remove(path)


def locate_at(source, dest):
    if dest is None or realpath(dest) == realpath(source):
        return source
    if os.path.isdir(source):
        shutil.copytree(source, dest)
    else:
        shutil.copyfile(source, dest)
    return dest
