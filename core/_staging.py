"""Staging names owned by a host and a process, and removing those their owners left behind.

A staging entry is named ``<prefix><host>-<pid>-<hex>`` (``staging_name(prefix)``), followed by
a fixed suffix where its writer adds one: a folder being written beside its target or a file's
temporary ``.tmp`` (``core.atomic``), a pretrained save (``.staging-`` in the store's name
directories), a tool's temporary work folder. An entry is stale when its process
(on this host) is gone, or when it is older than STALE_STAGING_SECONDS whoever made it.
``remove_stale(directory, prefix, suffix)`` deletes the stale entries of one folder; links are
never followed nor removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "STALE_STAGING_SECONDS",
    "STORE_PREFIX",
    "staging_name",
    "find_stale",
    "remove_stale",
    "remove_entry",
    "remove_stale_staging",
]

#: a staging entry untouched this long (one hour) is stale, whatever its process.
STALE_STAGING_SECONDS = 3600.0
#: the prefix of pretrained saves in the store's ``<type>/<name>/`` directories.
STORE_PREFIX = ".staging-"
_OWNER = r"(?P<host>[A-Za-z0-9.]*)-(?P<pid>[0-9]{1,10})-[0-9a-f]{32}"
_UNOWNED = r"[0-9a-f]{32}"  # written by an older core: stale by age only


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "", socket.gethostname())[:64]


def staging_name(prefix: str = STORE_PREFIX) -> str:
    """A fresh name ``<prefix><host>-<pid>-<hex>`` naming this host and process."""
    return f"{prefix}{_host()}-{os.getpid()}-{uuid.uuid4().hex}"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def _is_stale(path: Path, prefix: str, now: float, suffix: str = "") -> bool:
    rest = path.name[len(prefix) :]
    if not rest.endswith(suffix):
        return False
    rest = rest[: len(rest) - len(suffix)]
    owner = re.fullmatch(_OWNER, rest)
    if owner is None and re.fullmatch(_UNOWNED, rest) is None:
        return False  # not a staging name: someone else's entry
    if owner and owner["host"] == _host() and not _process_exists(int(owner["pid"])):
        return True
    try:
        return now - path.lstat().st_mtime > STALE_STAGING_SECONDS
    except OSError:
        return False


def _entries(directory: Path, prefix: str) -> list[Path]:
    """Entries of ``directory`` named ``prefix...`` that are not links."""
    try:
        with os.scandir(directory) as entries:
            return [
                Path(e.path) for e in entries if e.name.startswith(prefix) and not e.is_symlink()
            ]
    except OSError:
        return []


def find_stale(directory: str | os.PathLike[str], prefix: str, suffix: str = "") -> list[Path]:
    """The stale entries of ``directory`` named ``<prefix><host>-<pid>-<hex><suffix>``, sorted."""
    now = time.time()
    entries = _entries(Path(directory), prefix)
    return sorted(p for p in entries if _is_stale(p, prefix, now, suffix))


def remove_entry(path: str | os.PathLike[str]) -> None:
    """Delete a folder tree, a file or a link (never what a link leads to); errors ignored."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_stale(directory: str | os.PathLike[str], prefix: str, suffix: str = "") -> list[Path]:
    """Delete the stale entries of ``directory`` named with ``prefix`` (and ``suffix``);
    returns them."""
    removed = find_stale(directory, prefix, suffix)
    for path in removed:
        remove_entry(path)
    return removed


def _real_dirs(directory: Path) -> Iterator[Path]:
    """Subdirectories that are not links (a link may lead out of the store)."""
    try:
        with os.scandir(directory) as entries:
            found = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    yield from found


def remove_stale_staging(root: Path) -> list[Path]:
    """Delete the stale staging directories under ``root/<type>/<name>/``; returns them."""
    removed = []
    for type_dir in _real_dirs(root):
        for name_dir in _real_dirs(type_dir):
            removed.extend(remove_stale(name_dir, STORE_PREFIX))
    return removed
