"""core._staging: names owned by host and pid; one folder's stale entries removed, any prefix."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from core._staging import STALE_STAGING_SECONDS, find_stale, remove_stale, staging_name


def _dead_pid() -> int:
    process = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    process.start()
    process.join()
    return process.pid


def _named(prefix: str, pid: int) -> str:
    host_part, _, hex_part = staging_name(prefix).rsplit("-", 2)
    return f"{host_part}-{pid}-{hex_part}"


def test_a_staging_name_has_the_prefix_host_pid_and_hex():
    name = staging_name("core-tools-")
    assert name.startswith("core-tools-") and f"-{os.getpid()}-" in name
    assert staging_name("x-") != staging_name("x-")


def test_remove_stale_takes_only_dead_owners_and_old_entries_of_its_prefix(tmp_path):
    dead = tmp_path / _named(".out.staging-", _dead_pid())
    alive = tmp_path / _named(".out.staging-", os.getpid())
    old = tmp_path / _named(".out.staging-", os.getpid())
    other_prefix = tmp_path / _named(".other.staging-", _dead_pid())
    not_ours = tmp_path / ".out.staging-precious"  # not a staging name: never touched
    for path in (dead, alive, old, other_prefix, not_ours):
        path.mkdir()
        (path / "file").write_text("x")
    (tmp_path / _named(".out.staging-", _dead_pid())).write_text("a stale file")
    when = time.time() - 2 * STALE_STAGING_SECONDS
    os.utime(old, (when, when))
    os.utime(not_ours, (when, when))
    stale = find_stale(tmp_path, ".out.staging-")
    assert dead in stale and old in stale and alive not in stale and len(stale) == 3
    assert remove_stale(tmp_path, ".out.staging-") == stale
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (alive, other_prefix, not_ours)
    )


def test_remove_stale_never_follows_a_link(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep").write_text("keep")
    link = tmp_path / _named(".out.staging-", _dead_pid())
    link.symlink_to(precious, target_is_directory=True)
    assert remove_stale(tmp_path, ".out.staging-") == []
    assert (precious / "keep").read_text() == "keep" and link.is_symlink()


def test_a_missing_folder_has_nothing_stale(tmp_path):
    assert remove_stale(tmp_path / "missing", ".x-") == []
    assert isinstance(find_stale(Path(tmp_path), ".x-"), list)
