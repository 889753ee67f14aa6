"""zc.buildout.rmtree: shutil.rmtree that also removes read-only files."""

import os
import shutil
import stat


def rmtree(path):
    def retry_writeable(func, path, exc):
        os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
        func(path)

    shutil.rmtree(path, onerror=retry_writeable)
