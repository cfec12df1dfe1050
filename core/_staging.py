"""Staging directories of pretrained saves, and removing those that killed saves left behind.

A save writes into ``<name dir>/.staging-<host>-<pid>-<hex>/`` and renames it to ``v<N>``.
A staging directory is stale when its process (on this host) is gone, or when it is older
than STALE_STAGING_SECONDS whoever made it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["STALE_STAGING_SECONDS", "staging_name", "remove_stale_staging"]

#: a staging directory untouched this long (one hour) is stale, whatever its process.
STALE_STAGING_SECONDS = 3600.0
_PREFIX = ".staging-"
_OWNED = re.compile(r"^\.staging-(?P<host>[A-Za-z0-9.]*)-(?P<pid>[0-9]{1,10})-[0-9a-f]{32}$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "", socket.gethostname())[:64]


def staging_name() -> str:
    """A fresh staging directory name naming this host and process."""
    return f"{_PREFIX}{_host()}-{os.getpid()}-{uuid.uuid4().hex}"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def _is_stale(path: Path, now: float) -> bool:
    owner = _OWNED.match(path.name)
    if owner and owner["host"] == _host() and not _process_exists(int(owner["pid"])):
        return True
    try:
        return now - path.lstat().st_mtime > STALE_STAGING_SECONDS
    except OSError:
        return False


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
    now = time.time()
    removed = []
    for type_dir in _real_dirs(root):
        for name_dir in _real_dirs(type_dir):
            for child in _real_dirs(name_dir):
                if child.name.startswith(_PREFIX) and _is_stale(child, now):
                    shutil.rmtree(child, ignore_errors=True)
                    removed.append(child)
    return removed
