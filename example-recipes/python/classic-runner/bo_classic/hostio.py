"""Programs, modes and log lines through the host: subprocess, os.system, os.popen,
os.chmod, logging.

WASI cannot start processes, so `subprocess.Popen` (and with it run, call,
check_call, check_output), `os.system` and `os.popen` run the program through
`host.run`, which waits for it; bo allows only the programs the user granted,
and a refusal raises PermissionError with bo's message (it names the grant).
Log records go to `host.log`, which prefixes the part's name.
"""

import io
import logging
import os
import subprocess

from componentize_py_types import Err
from wit_world.imports import host, types

PIPE, STDOUT, DEVNULL = subprocess.PIPE, subprocess.STDOUT, subprocess.DEVNULL


def _command(args, shell, executable):
    if isinstance(args, (str, bytes, os.PathLike)):
        args = [os.fsdecode(args)]
    else:
        args = [os.fsdecode(a) for a in args]
    if shell:
        args = [executable or "sh", "-c"] + args
    elif executable:
        args = [os.fsdecode(executable)] + args[1:]
    if not args:
        raise ValueError("no program to run")
    return args


_programs = {}


def set_programs(programs):
    """{path: name} of the granted programs: a recipe that found one on PATH
    (`shutil.which`) runs it by the name it was granted under."""
    _programs.clear()
    _programs.update({str(k): str(v) for k, v in programs.items()})


def run_program(args, cwd=None, env=None, timeout=None, shell=False, executable=None):
    """Runs a program through the host; returns (status, stdout, stderr) strings."""
    argv = _command(args, shell, executable)
    argv[0] = _programs.get(argv[0], argv[0])
    extra = [(str(k), str(v)) for k, v in (env or {}).items() if not str(k).startswith("BO_")]
    request = types.RunRequest(
        program=argv[0], args=argv[1:], cwd=os.path.abspath(os.fsdecode(cwd) if cwd else os.getcwd()),
        env=extra, timeout_ms=None if timeout is None else int(timeout * 1000))
    try:
        out = host.run(request)
    except Err as e:
        raise PermissionError(str(e.value)) from None
    return out.status, out.stdout, out.stderr


class Popen:
    """A finished process: the program runs (through bo) when this is created."""

    def __init__(self, args, bufsize=-1, executable=None, stdin=None, stdout=None, stderr=None,
                 preexec_fn=None, close_fds=True, shell=False, cwd=None, env=None,
                 universal_newlines=None, startupinfo=None, creationflags=0, restore_signals=True,
                 start_new_session=False, pass_fds=(), *, user=None, group=None, extra_groups=None,
                 encoding=None, errors=None, text=None, umask=-1, pipesize=-1, process_group=None,
                 timeout=None):
        self.args = args
        self.pid = 0
        self._text = bool(text or universal_newlines or encoding or errors)
        self._encoding, self._errors = encoding or "utf-8", errors or "strict"
        if stdin not in (None, DEVNULL):
            logging.getLogger("bo").debug("stdin is not passed to programs run through bo")
        status, out, err = run_program(args, cwd, env, timeout, shell, executable)
        self.returncode = status
        if stderr == STDOUT:
            out, err = out + err, ""
        self._out = out if stdout == PIPE else None
        self._err = err if stderr == PIPE else None
        self.stdin = None
        self.stdout = self._stream(self._out)
        self.stderr = self._stream(self._err)

    def _convert(self, data):
        if data is None:
            return None
        return data if self._text else data.encode(self._encoding, "surrogateescape")

    def _stream(self, data):
        if data is None:
            return None
        return io.StringIO(data) if self._text else io.BytesIO(self._convert(data))

    def communicate(self, input=None, timeout=None):
        out = self.stdout.read() if self.stdout is not None else None
        err = self.stderr.read() if self.stderr is not None else None
        return out, err

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        return self.returncode

    def send_signal(self, sig):
        pass

    terminate = kill = send_signal

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()


def _wait_status(status):
    return status << 8 if status >= 0 else 9


def system(command):
    """os.system: runs `sh -c command`, returns the encoded wait status."""
    status, out, err = run_program(command, shell=True)
    return _wait_status(status)


class _PopenFile(io.StringIO):
    def __init__(self, text, status):
        super().__init__(text)
        self._status = status

    def close(self):
        super().close()
        return None if self._status == 0 else _wait_status(self._status)


def popen(cmd, mode="r", buffering=-1):
    """os.popen for reading: the program's output as a file."""
    if "w" in mode:
        raise OSError("os.popen for writing is not supported in bo's sandbox")
    status, out, err = run_program(cmd, shell=True)
    return _PopenFile(out, status)


def chmod(path, mode, *, dir_fd=None, follow_symlinks=True):
    """os.chmod: WASI has none; bo sets the mode (in a directory the part may write)."""
    try:
        host.set_mode(os.path.abspath(os.fsdecode(path)), mode)
    except Err as e:
        raise PermissionError(str(e.value)) from None


_wasi_symlink = os.symlink


def symlink(src, dst, target_is_directory=False, *, dir_fd=None):
    """os.symlink: WASI refuses absolute targets, so bo makes those links (the
    target must be a path the part may read; the link lands where it may write)."""
    src, dst = os.fspath(src), os.fspath(dst)
    if isinstance(src, bytes):
        src = os.fsdecode(src)
    if isinstance(dst, bytes):
        dst = os.fsdecode(dst)
    if not os.path.isabs(src) or dir_fd is not None:
        return _wasi_symlink(src, dst, target_is_directory, dir_fd=dir_fd)
    if os.path.lexists(dst):
        raise FileExistsError(17, "File exists", dst)
    try:
        host.symlink(src, os.path.abspath(dst))
    except Err as e:
        raise PermissionError(1, str(e.value), dst) from None


# The part's own directories are WASI preopens: a preopen's root cannot be
# removed, yet recipes (omelette, many others) "rmtree(location); mkdir(location)".
# Removing such a root empties it instead, and making it again then succeeds.
import shutil as _shutil

_wasi_rmtree = _shutil.rmtree
_wasi_rmdir = os.rmdir
_wasi_mkdir = os.mkdir
_sandbox_roots = set()
_emptied_roots = set()


def set_sandbox_roots(paths):
    _sandbox_roots.clear()
    _sandbox_roots.update(os.path.abspath(p) for p in paths if p)
    _emptied_roots.clear()


def _root(path):
    try:
        path = os.path.abspath(os.fsdecode(os.fspath(path)))
    except TypeError:
        return None
    return path if path in _sandbox_roots else None


def rmtree(path, *args, **kwargs):
    root = _root(path)
    if root is None:
        return _wasi_rmtree(path, *args, **kwargs)
    for name in os.listdir(root):
        entry = os.path.join(root, name)
        if os.path.isdir(entry) and not os.path.islink(entry):
            _wasi_rmtree(entry, *args, **kwargs)
        else:
            os.unlink(entry)
    _emptied_roots.add(root)


def rmdir(path, *args, **kwargs):
    root = _root(path) if kwargs.get("dir_fd") is None else None
    if root is None:
        return _wasi_rmdir(path, *args, **kwargs)
    if os.listdir(root):
        raise OSError(39, "Directory not empty", path)
    _emptied_roots.add(root)


def mkdir(path, *args, **kwargs):
    root = _root(path) if kwargs.get("dir_fd") is None else None
    if root is not None and root in _emptied_roots:
        _emptied_roots.discard(root)
        return None
    return _wasi_mkdir(path, *args, **kwargs)


# Files of the buildout directory an extension may write (mr.developer's
# `.mr.developer.cfg`): the directory is read-only in the sandbox, so writes go to
# a scratch copy and bo writes the result, if the user granted that file.
import base64 as _base64
import builtins as _builtins
import tempfile as _tempfile

_real_open = _builtins.open
_root_files = {}
_captured = {}


def _scratch_of(path):
    name = _root_files.get(path)
    if name is None:
        return None
    scratch = os.path.join(_tempfile.gettempdir(), "bo-root-files", name)
    if name not in _captured:
        os.makedirs(os.path.dirname(scratch), exist_ok=True)
        if os.path.isfile(path):
            _shutil.copyfile(path, scratch)
        _captured[name] = scratch
    return scratch


def _open(file, mode="r", *args, **kwargs):
    if isinstance(file, (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(os.fspath(file)))
        writing = any(c in mode for c in "wax+")
        if path in _root_files and (writing or os.path.basename(path) in _captured):
            return _real_open(_scratch_of(path), mode, *args, **kwargs)
    return _real_open(file, mode, *args, **kwargs)


def capture_root_files(root, names):
    _root_files.clear()
    _captured.clear()
    for name in names:
        if name and "/" not in name:
            _root_files[os.path.join(os.path.abspath(root), name)] = name
    _builtins.open = io.open = _open


def release_root_files():
    _builtins.open = io.open = _real_open


def captured_files():
    """(kind "file", "", name, base64 content) of each file written."""
    out = []
    for name, scratch in sorted(_captured.items()):
        with _real_open(scratch, "rb") as f:
            out.append(("file", "", name, _base64.b64encode(f.read()).decode("ascii")))
    return out


# WASI has no threads: a thread runs when it is started (mr.developer checks
# sources out in worker threads; the work is the same, one after another).
import threading as _threading


def _inline_start(self):
    self._started.set()
    try:
        self.run()
    finally:
        self._bo_finished = True


def _inline_join(self, timeout=None):
    if not self._started.is_set():
        raise RuntimeError("cannot join thread before it is started")


def _inline_is_alive(self):
    return False


def patch_threads():
    _threading.Thread.start = _inline_start
    _threading.Thread.join = _inline_join
    _threading.Thread.is_alive = _inline_is_alive


def patch_os():
    patch_threads()
    _shutil.rmtree = rmtree
    os.rmdir = rmdir
    os.mkdir = mkdir
    os.chmod = chmod
    os.symlink = symlink
    subprocess.Popen = Popen
    os.system = system
    os.popen = popen


class HostHandler(logging.Handler):
    """Sends records to host.log: `message`, or `logger: message` when the
    logger is not the part's (bo prefixes the part's name itself)."""

    def __init__(self, part):
        super().__init__(logging.DEBUG)
        self.part = part

    def emit(self, record):
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            if record.name not in (self.part, "root", "bo"):
                message = "%s: %s" % (record.name, message)
            if record.levelno >= logging.ERROR:
                level = types.Level.ERROR
            elif record.levelno >= logging.WARNING:
                level = types.Level.WARNING
            elif record.levelno >= logging.INFO:
                level = types.Level.INFO
            else:
                level = types.Level.DEBUG
            host.log(level, message)
        except Exception:
            self.handleError(record)


def setup_logging(part, level="INFO"):
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(HostHandler(part))
    try:
        root.setLevel(int(level) if str(level).isdigit() else str(level).upper())
    except (TypeError, ValueError):
        root.setLevel(logging.INFO)
