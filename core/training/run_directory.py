"""One owner per run directory: the lock on ``<run>/.lock`` and a training run's claim (torch-free).

A command that writes a run (``core train``, ``--resume``, ``core evaluate``) holds the lock
exclusively; one that only reads it (``core sample``, ``core evaluate --no-write``) holds it
shared, so readers run side by side but never beside a writer. The lock is ``flock`` on
``.lock``: the kernel drops it when its process ends, however it ends, so a stale ``.lock``
never blocks. Its holder is named from ``/proc/locks``, else from the pid a writer records
in the file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import fnmatch
import os
import posixpath
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from core.config import origin_of
from core.errors import ConfigError, TrainingError
from core.training.previous_run import PreviousRun

__all__ = [
    "LOCK_FILE",
    "RUN_OWNED",
    "RunLock",
    "RunDirectory",
    "lock_run",
    "holding_run",
    "is_run_directory",
    "check_logger_paths",
]

#: the lock file inside a run directory.
LOCK_FILE = ".lock"
#: names (fnmatch, any case) of what a run directory holds of its own: no logger may write there.
RUN_OWNED = (
    ("config.yaml", "the run's config"),
    ("checkpoints", "the run's checkpoints"),
    ("final", "the run's final model"),
    ("loss.png", "the run's loss curve"),
    ("samples*.png", "a sample grid of the run"),
    ("eval_*.json", "an evaluation record of the run"),
    (".*", "a hidden name, kept for the run's lock, staging and set-aside folders"),
)
_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class RunLock:
    """A held lock on a run directory; ``release()`` (or leaving the ``with`` block) drops it."""

    def __init__(self, run: Path, fd: int | None, *, shared: bool) -> None:
        self.run, self.shared, self._fd = run, shared, fd

    @property
    def held(self) -> bool:
        """Whether the lock is still held (a reader of an unwritable run holds none)."""
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock (closing the file drops it); calling it twice is harmless."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_run(run: str | os.PathLike[str], *, shared: bool = False, what: str = "") -> RunLock:
    """Take the lock of ``run`` (an existing folder) without waiting.

    ``shared`` for a command that only reads the run; exclusive otherwise, and then the pid and
    ``what`` (the command) are recorded in the file. Another process holding it in a way that
    conflicts is a ``TrainingError`` naming its pid. A reader of a run it cannot write (a
    read-only folder without ``.lock``) holds no lock: no writer can change that run either.
    """
    run = Path(run)
    path = run / LOCK_FILE
    flags = os.O_RDONLY if shared else os.O_RDWR | os.O_CREAT
    try:
        fd = _open_lock_file(path, flags)
    except OSError as exc:
        if shared and exc.errno == errno.ENOENT:
            try:
                fd = _open_lock_file(path, os.O_RDWR | os.O_CREAT)
            except OSError as again:
                if again.errno in _UNWRITABLE:
                    return RunLock(run, None, shared=True)
                raise _lock_error(path, again) from None
        else:
            raise _lock_error(path, exc) from None
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as exc:
        holders = _holders(fd)
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise _lock_error(path, exc) from None
        raise TrainingError(
            f"run directory {run} is in use by {holders}; wait for it to end "
            "(one command at a time may write a run)"
        ) from None
    if not shared:
        # the pid goes into the locked file itself: replacing the file would replace the lock
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {what}".strip().encode() + b"\n", 0)
    return RunLock(run, fd, shared=shared)


@contextlib.contextmanager
def holding_run(source: str | os.PathLike[str], *, shared: bool, what: str = "") -> Iterator[None]:
    """Hold ``source``'s lock for the block when it is a run directory; else nothing to lock."""
    if not is_run_directory(source):
        yield
        return
    with lock_run(source, shared=shared, what=what):
        yield


def is_run_directory(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is a folder holding a run's ``config.yaml``."""
    path = Path(source)
    return path.is_dir() and os.path.lexists(path / "config.yaml")


class RunDirectory:
    """The folder a training run owns from ``claim()`` to ``release()``.

    ``claim()`` takes the lock and refuses a folder that holds a run unless ``resume`` (continue
    it) or ``overwrite`` (the previous run is set aside until the new one has a checkpoint:
    ``keep_new()`` deletes it, ``restore_previous()`` puts it back).
    """

    def __init__(self, path: Path, *, resume: bool = False, overwrite: bool = False) -> None:
        self.path, self.resume, self.overwrite = Path(path), resume, overwrite
        self.lock: RunLock | None = None
        self.previous: PreviousRun | None = None

    def claim(self, what: str = "core train") -> None:
        """Lock the folder (made if missing) and make it ready for the run."""
        run = self.path
        try:
            run.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainingError(f"cannot create run directory {run}: {_reason(exc)}") from None
        self.lock = lock_run(run, what=what)
        if self.resume:
            return
        if any(entry.name != LOCK_FILE for entry in run.iterdir()):
            if not self.overwrite:
                self.release()
                raise TrainingError(
                    f"run directory {run} already exists; continue it with --resume {run}, "
                    "pick another --run-name, or pass --overwrite"
                )
            self.previous = PreviousRun(run, keep=(LOCK_FILE,))  # deleted at the first checkpoint

    def keep_new(self) -> None:
        """The new run has a checkpoint: delete the previous one."""
        if self.previous is not None:
            self.previous.discard()
            self.previous = None

    def restore_previous(self) -> None:
        """The new run failed before its first checkpoint: put the previous run back."""
        if self.previous is not None:
            self.previous.restore()
            self.previous = None

    def release(self) -> None:
        """Drop the lock."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def check_logger_paths(
    loggers: Sequence[tuple[str, Any]],
    source: str | None = None,
    origins: Mapping[str, str] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse a logger whose file (its ``run_paths()``) lands in the run directory on a file
    the run owns or another logger's; a ConfigError names the logger, the path and why.

    A relative path is inside the run unless ``..`` leads out; an absolute one (or a ``file:``
    address) is checked once ``run_dir`` is known, after resolving links.
    """

    claimed: dict[str, str] = {}
    for index, (label, logger) in enumerate(loggers):
        paths = logger.run_paths() if hasattr(logger, "run_paths") else []
        for path in paths:
            where = f"train.loggers[{index}]"
            origin = origin_of(origins or {}, where, source)
            prefix = f"{origin}: " if origin else ""
            norm = _in_run(str(path), run_dir)
            if norm is None:
                continue  # an absolute path outside the run (or the run is not known yet)
            problem = _path_problem(norm)
            first = norm.split("/")[0].casefold()
            if problem is None and first in claimed:
                problem = f"is also written by {claimed[first]}"
            if problem is not None:
                raise ConfigError(
                    f"{prefix}{where}: logger '{label}' writes {path!r}, which {problem}; "
                    "give it a file name of its own in the run directory"
                )
            claimed[first] = f"logger '{label}' ({where})"


def _in_run(path: str, run_dir: str | os.PathLike[str] | None) -> str | None:
    """``path`` relative to the run directory (normalized), or None for an absolute path that
    lies outside it or cannot be placed yet (no ``run_dir``)."""
    if not os.path.isabs(path):
        return posixpath.normpath(path)
    if run_dir is None:
        return None
    inside = os.path.relpath(os.path.realpath(path), os.path.realpath(run_dir))
    if inside == ".." or inside.startswith("../"):
        return None
    return posixpath.normpath(inside)


def _path_problem(norm: str) -> str | None:
    """Why a logger may not write ``norm`` (relative to the run directory), or None."""
    if norm == ".":
        return "is the run directory itself"
    if norm == ".." or norm.startswith("../"):
        return "leaves the run directory"
    first = norm.split("/")[0].casefold()
    for pattern, what in RUN_OWNED:
        if fnmatch.fnmatchcase(first, pattern):
            return f"is {what}"
    return None


def _open_lock_file(path: Path, flags: int) -> int:
    """The lock file, opened without following a link or blocking on a FIFO: a regular file
    with no other name (a hard link would have a writer's pid written into another file)."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "not a regular file"
    elif info.st_nlink > 1:
        problem = f"a hard link to a file with {info.st_nlink} names, not the run's own"
    if problem is not None:
        os.close(fd)
        raise OSError(errno.EINVAL, problem)
    return fd


def _holders(fd: int) -> str:
    """``pid N (command)`` of the processes holding ``fd``'s file, from /proc/locks or the file."""
    recorded: list[str] = []
    with contextlib.suppress(OSError):
        recorded = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    pids = _pids_locking(os.fstat(fd))
    if not pids and recorded and recorded[0].isdigit():
        pids = [int(recorded[0])]  # no /proc/locks: the pid the last writer recorded
    if not pids:
        return "another process"
    return ", ".join(
        f"pid {pid} ({' '.join(recorded[1:])})"
        if recorded[1:] and recorded[0] == str(pid)
        else f"pid {pid}"
        for pid in pids
    )


def _pids_locking(info: os.stat_result) -> list[int]:
    """The pids /proc/locks lists as holding a flock on the file ``info`` describes."""
    pids: set[int] = set()
    with contextlib.suppress(OSError, ValueError), open("/proc/locks", encoding="ascii") as locks:
        for line in locks:
            fields = line.split()
            if len(fields) < 6 or fields[1] != "FLOCK" or fields[4] == "-1":
                continue  # "->" lines (waiters) shift the fields and are skipped here too
            major, minor, inode = fields[5].split(":")
            device = os.makedev(int(major, 16), int(minor, 16))
            if int(inode) == info.st_ino and device == info.st_dev:
                pids.add(int(fields[4]))
    return sorted(pids)


def _lock_error(path: Path, exc: OSError) -> TrainingError:
    return TrainingError(f"cannot lock the run directory: {path}: {_reason(exc)}")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
