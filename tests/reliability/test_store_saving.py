"""Saving stays in the store (a linked type or name directory is refused) and cleans up the
staging directories that killed saves left behind."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import core._staging
from core._staging import STALE_STAGING_SECONDS, remove_stale_staging, staging_name
from core.building import build_model
from core.errors import PretrainedError
from core.pretrained import list_pretrained, save_to_pretrained

from .conftest import REPEATABLE


def _tiny():
    return build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})


def _files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("linked", ["type", "name", "dangling-name"])
def test_saving_through_a_link_out_of_the_store_writes_nothing_outside(store, tmp_path, linked):
    outside = tmp_path / "outside"
    outside.mkdir()
    if linked == "type":
        (store / "mlp-denoiser").symlink_to(outside, target_is_directory=True)
    else:
        (store / "mlp-denoiser").mkdir()
        target = outside if linked == "name" else outside / "not-yet"
        (store / "mlp-denoiser" / "tiny").symlink_to(target, target_is_directory=True)
    with pytest.raises(PretrainedError, match="resolves outside the pretrained store"):
        save_to_pretrained(_tiny(), "tiny")
    assert _files_under(outside) == []


def test_a_link_inside_the_store_is_followed(store):
    save_to_pretrained(_tiny(), "real")
    (store / "mlp-denoiser" / "alias").symlink_to(store / "mlp-denoiser" / "real")
    assert save_to_pretrained(_tiny(), "alias").version == 2


def _killed_save(home: str) -> None:
    """Start a save and die by SIGKILL half-way through writing it."""
    os.environ["CORE_HOME"] = home
    model = _tiny()

    def die(directory, **kwargs):
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "partial.safetensors").write_bytes(b"\0" * 64)
        os.kill(os.getpid(), signal.SIGKILL)

    model.save_pretrained = die
    save_to_pretrained(model, "tiny")


def _staging_dirs(store: Path) -> list[Path]:
    return sorted(store.glob("*/*/.staging-*"))


def test_the_next_save_removes_what_a_killed_save_left(store):
    process = multiprocessing.get_context("fork").Process(target=_killed_save, args=(str(store),))
    process.start()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL
    assert len(_staging_dirs(store)) == 1  # left behind
    assert save_to_pretrained(_tiny(), "other").version == 1
    assert _staging_dirs(store) == []
    assert [i.reference for i in list_pretrained() if i.source == "store"] == [
        "mlp-denoiser/other/v1"
    ]


@functools.cache
def _dead_pid() -> int:
    """The pid of a process that has exited."""
    process = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    process.start()
    process.join()
    return process.pid


@REPEATABLE
@given(
    host=st.sampled_from(["this", "other", "unnamed"]),
    alive=st.booleans(),
    hours=st.sampled_from([0.0, 0.5, 0.99, 1.01, 30.0]),
)
def test_a_staging_directory_is_removed_exactly_when_stale(tmp_path_factory, host, alive, hours):
    root = tmp_path_factory.mktemp("store")
    name_dir = root / "mlp-denoiser" / "tiny"
    name_dir.mkdir(parents=True)
    pid = os.getpid() if alive else _dead_pid()
    this_host = staging_name().split("-")[1]
    hex_part = "0123456789abcdef" * 2
    names = {
        "this": f".staging-{this_host}-{pid}-{hex_part}",
        "other": f".staging-elsewhere.example-{pid}-{hex_part}",
        "unnamed": f".staging-{hex_part}",  # written by an older core: no owner
    }
    staging = name_dir / names[host]
    staging.mkdir()
    (staging / "tiny.safetensors").write_bytes(b"")
    when = time.time() - hours * 3600
    os.utime(staging, (when, when))
    stale = (host == "this" and not alive) or hours * 3600 > STALE_STAGING_SECONDS
    assert remove_stale_staging(root) == ([staging] if stale else [])
    assert staging.exists() is not stale


def test_a_staging_link_is_never_followed(store, tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (store / "mlp-denoiser" / "tiny").mkdir(parents=True)
    link = store / "mlp-denoiser" / "tiny" / f".staging-{'0' * 32}"
    link.symlink_to(outside, target_is_directory=True)
    old = time.time() - 10 * STALE_STAGING_SECONDS
    os.utime(link, (old, old), follow_symlinks=False)
    assert remove_stale_staging(store) == []
    assert (outside / "keep.txt").read_text() == "keep"


def test_a_staging_name_carries_a_safe_host_name_and_the_pid(monkeypatch):
    monkeypatch.setattr(core._staging.socket, "gethostname", lambda: "node-7.cluster_a")
    assert staging_name().startswith(f".staging-node7.clustera-{os.getpid()}-")
