"""Atomic file writes: a temporary file in the same directory, fsync, then rename.

The file gets the mode a plain ``open`` would give it (``0o666`` less the process umask), not
``mkstemp``'s private ``0o600``. Any ``OSError`` on the way (disk full, no permission) is an
``AtomicWriteError`` naming the file, and the previous file is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from core.errors import AtomicWriteError, CoreError

__all__ = [
    "AtomicWriteError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "current_umask",
    "write_error",
]

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask; read from ``/proc`` where possible, so it is never changed."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_LOCK:  # no /proc: swap in a strict mask for an instant and put the old one back
        old = os.umask(0o077)
        os.umask(old)
    return old


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    Missing parent directories are created.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise write_error(target, exc) from exc
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, CoreError):
            raise write_error(target, exc) from exc
        raise
    _fsync_dir(target.parent)


def write_error(target: Path, exc: OSError) -> AtomicWriteError:
    """The one-line error for a failed write of ``target``, saying what is left of it."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    state = "is unchanged" if target.exists() else "was not created"
    error = AtomicWriteError(f"cannot write {target}: {reason}; {target.name} {state}")
    error.errno = exc.errno
    return error


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(path: Path, data: bytes | bytearray | memoryview) -> None:
    """Write every byte with ``os.write`` (a short write is continued, an error raised)."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | bytearray | memoryview) -> None:
    """Write bytes to ``path`` atomically."""
    with atomic_path(path) as tmp:
        _write_all(tmp, data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
