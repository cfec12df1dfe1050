"""The one way to write a file or a folder: staged beside the target, then renamed into place.

Files (``atomic_path``, ``atomic_write_bytes``, ``atomic_write_text``): a temporary file in the
same directory (``.<name>.tmp-<host>-<pid>-<hex>.tmp``), fsync, then rename. The file gets the
mode a plain ``open`` would give it (``0o666`` less the process umask), not a private
``0o600``. The temporary files a killed writer left beside the same target are removed by the
next write of it.

Folders (``atomic_directory``): a staging folder beside the target, named
``.<name>.staging-<host>-<pid>-<hex>`` and made with the umask's mode, is fsynced and renamed
into place. With ``overwrite`` the old folder is renamed aside first and deleted only once the
new one is in place; without it an existing target is refused. What a killed writer left beside
the same target is cleaned on the next write (an old folder renamed aside whose target is
missing is put back). ``stage_directory`` and ``swap_directory`` are the two halves, for a
writer whose target is chosen late (the pretrained store claims the next free version).

A target that exists and is not a regular file (a folder, for ``atomic_directory``) -- a
device, a FIFO, a socket -- is refused before anything is written, and so is a symbolic link
leading out of the folder being written into. Every refusal and every ``OSError`` on the way
(disk full, no permission) is a one-line ``AtomicWriteError`` naming the target, and the
previous file or folder is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from core._staging import find_stale, remove_entry, remove_stale, staging_name
from core.errors import AtomicWriteError, CoreError

__all__ = [
    "AtomicWriteError",
    "append_text",
    "atomic_directory",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_target",
    "current_umask",
    "file_kind",
    "stage_directory",
    "swap_directory",
    "write_error",
]

_UMASK_LOCK = threading.Lock()
_TMP = ".tmp"  # the suffix of a file's temporary copy
_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


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


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words: ``"a regular file"``, ``"a named pipe (FIFO)"``, ..."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_target(path: str | os.PathLike[str], *, directory: bool = False) -> Path:
    """Refuse a ``path`` to write that exists as anything but a regular file (a folder when
    ``directory``), or that is a symbolic link leading out of the folder it sits in.

    A link that stays inside its folder is allowed: the rename replaces the link itself.
    """
    target = Path(path)
    if target.name in ("", ".."):  # "." or "..": a folder named through another one
        raise AtomicWriteError(
            f"refusing to write {path}: give the name of the file or folder to write, not "
            "'.' or '..'; nothing was written"
        )
    try:
        info = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return target
    except OSError as exc:
        raise write_error(target, exc) from exc
    if stat.S_ISLNK(info.st_mode):
        folder = Path(os.path.realpath(target.parent))
        resolved = Path(os.path.realpath(target))
        if not resolved.is_relative_to(folder):
            raise AtomicWriteError(
                f"refusing to write {target}: it is a symbolic link leading out of {folder} "
                f"(to {resolved}); nothing was written"
            )
        try:
            info = os.stat(target)
        except OSError:  # a dangling link inside the folder
            return target
    wanted = stat.S_ISDIR if directory else stat.S_ISREG
    if not wanted(info.st_mode):
        expected = "a directory" if directory else "a regular file"
        raise AtomicWriteError(
            f"refusing to write {target}: it is {file_kind(info.st_mode)}, not {expected}; "
            "nothing was written"
        )
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    Missing parent directories are created; ``path`` is checked by ``check_target`` first.
    """
    target = check_target(path)
    prefix = _prefix(target, "tmp")
    tmp = target.parent / f"{staging_name(prefix)}{_TMP}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target.parent, prefix, _TMP)  # what killed writers of it left
        os.close(os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except OSError as exc:
        raise write_error(target, exc) from exc
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        yield tmp
        with open(tmp, "rb+") as handle:  # own write: the fsync of our temporary file
            os.fsync(handle.fileno())
        check_target(target)  # again: something put there meanwhile is refused too
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
    state = "is unchanged" if os.path.lexists(target) else "was not created"
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


#: a tree of more files than this is flushed with one ``syncfs`` where the system has it.
_SYNCFS_FILES = 64


def _syncfs(root: Path) -> bool:
    """Flush the filesystem holding ``root`` in one call (Linux ``syncfs``); False if absent."""
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(root, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)
    return True


def _fsync_tree(root: Path) -> None:
    """Make everything under ``root`` durable: fsync every file, then every folder, deepest
    first (links not followed); a tree of many files is flushed with one ``syncfs``."""
    folders, paths = [], []
    for folder, _, files in os.walk(root):
        folders.append(folder)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path) and os.path.isfile(path):
                paths.append(path)
    if len(paths) > _SYNCFS_FILES and _syncfs(root):
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for folder in reversed(folders):
        _fsync_dir(Path(folder))


def _write_all(path: Path, data: bytes | bytearray | memoryview) -> None:
    """Write every byte with ``os.write`` (a short write is continued, an error raised)."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        _write_fd(fd, data)
    finally:
        os.close(fd)


def _write_fd(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | bytearray | memoryview) -> None:
    """Write bytes to ``path`` atomically."""
    with atomic_path(path) as tmp:
        _write_all(tmp, data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def append_text(path: str | os.PathLike[str], text: str) -> None:
    """Append UTF-8 ``text`` to ``path`` (made if missing) in one ``write``: an append-only log.

    The target is checked as every write's is (a regular file, no link out of its folder).
    """
    target = check_target(path)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped in after the check
                raise AtomicWriteError(f"refusing to append to {target}: not a regular file")
            _write_fd(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise write_error(target, exc) from exc


# -- folders ---------------------------------------------------------------------------------


def _prefix(target: Path, role: str) -> str:
    """``.<name>.<role>-``: the names of ``target``'s staging and set-aside folders."""
    name = target.name
    if len(name) > 80:  # stay under NAME_MAX with the host, pid and hex added
        name = name[:60] + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f".{name}.{role}-"


def _exists_error(target: Path) -> AtomicWriteError:
    error = AtomicWriteError(f"cannot write {target}: it already exists; nothing was written")
    error.errno = errno.EEXIST
    return error


def stage_directory(parent: str | os.PathLike[str], prefix: str) -> Path:
    """A fresh, empty folder ``parent/<prefix><host>-<pid>-<hex>`` with the umask's mode.

    ``parent`` is created if missing; stale folders with the same prefix are removed first.
    """
    parent = Path(parent)
    staging = parent / staging_name(prefix)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale(parent, prefix)
        os.mkdir(staging, 0o777)  # less the umask, as a plain mkdir
    except OSError as exc:
        raise write_error(parent / prefix.rstrip("-"), exc) from exc
    return staging


def swap_directory(
    staging: str | os.PathLike[str], target: str | os.PathLike[str], *, overwrite: bool = False
) -> None:
    """Put the written folder ``staging`` in place of ``target``: fsynced, then renamed.

    Without ``overwrite`` an existing ``target`` is refused (``errno`` EEXIST); with it the old
    folder is renamed aside first and deleted only once the new one is in place.
    """
    staging, target = Path(staging), check_target(target, directory=True)
    try:
        _fsync_tree(staging)
    except OSError as exc:
        raise write_error(target, exc) from exc
    if not overwrite:
        if os.path.lexists(target):
            raise _exists_error(target)
        try:
            os.rename(staging, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):  # claimed by someone else first
                raise _exists_error(target) from None
            raise write_error(target, exc) from exc
        _fsync_dir(target.parent)
        return
    aside = target.parent / staging_name(_prefix(target, "old"))
    try:
        had_old = os.path.lexists(target)
        if had_old:
            os.rename(target, aside)
            os.utime(aside, follow_symlinks=False)  # fresh: not taken for a stale one meanwhile
        try:
            os.rename(staging, target)
        except OSError:
            if had_old:
                os.rename(aside, target)  # the old folder goes back
            raise
    except OSError as exc:
        raise write_error(target, exc) from exc
    _fsync_dir(target.parent)
    if had_old:
        remove_entry(aside)


def _recover(target: Path) -> None:
    """Clean what killed writers left beside ``target``: stale staging folders are removed, an
    old folder renamed aside goes back where the target is missing, else it is deleted."""
    remove_stale(target.parent, _prefix(target, "staging"))
    asides = find_stale(target.parent, _prefix(target, "old"))
    if asides and not os.path.lexists(target):
        newest = max(asides, key=lambda p: p.lstat().st_mtime)
        with contextlib.suppress(OSError):
            os.rename(newest, target)
            asides.remove(newest)
    for aside in asides:
        remove_entry(aside)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging folder beside ``target``; it becomes ``target`` only if the block succeeds.

    Without ``overwrite`` an existing ``target`` is refused before anything is written; with it
    the old folder stays in place until the new one is complete. On any exception the staging
    folder is removed and ``target`` is left as it was.
    """
    target = check_target(target, directory=True)
    _recover(target)
    if not overwrite and os.path.lexists(target):
        raise _exists_error(target)
    staging = stage_directory(target.parent, _prefix(target, "staging"))
    try:
        yield staging
        swap_directory(staging, target, overwrite=overwrite)
    except OSError as exc:
        if isinstance(exc, CoreError):
            raise
        raise write_error(target, exc) from exc
    finally:
        if os.path.lexists(staging):
            remove_entry(staging)
