"""Atomically written files get the mode a plain ``open`` gives: 0o666 less the umask."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.atomic import atomic_write_bytes, atomic_write_text, current_umask
from core.building import build_model
from core.pretrained import save_to_pretrained
from core.training.checkpoint import save_torch
from core.weights import save_weights

from .conftest import load_helper

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


class umask_set:
    """Set the process umask for a block; the old one comes back afterwards."""

    def __init__(self, mask: int) -> None:
        self.mask = mask

    def __enter__(self) -> None:
        self.old = os.umask(self.mask)

    def __exit__(self, *exc: object) -> None:
        os.umask(self.old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plain_open_mode(directory: Path) -> int:
    """The mode ``open(..., "w")`` gives a new file under the current umask."""
    probe = directory / "plain-open-probe"
    with open(probe, "w"):
        pass
    found = mode(probe)
    probe.unlink()
    return found


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027], ids=oct)
def test_text_and_bytes_writes_follow_the_umask(tmp_path, mask):
    with umask_set(mask):
        atomic_write_text(tmp_path / "config.yaml", "a: 1\n")
        atomic_write_bytes(tmp_path / "data.bin", b"\0" * 10)
        expected = plain_open_mode(tmp_path)
    assert expected == 0o666 & ~mask
    assert mode(tmp_path / "config.yaml") == expected
    assert mode(tmp_path / "data.bin") == expected


@settings(max_examples=40, deadline=None)
@given(mask=st.integers(min_value=0, max_value=0o777))
def test_any_umask_gives_the_mode_of_a_plain_open(tmp_path_factory, mask):
    directory = tmp_path_factory.mktemp("modes")
    with umask_set(mask):
        atomic_write_text(directory / "file.txt", "x")
        assert current_umask() == mask
    assert mode(directory / "file.txt") == 0o666 & ~mask


def test_an_existing_private_file_is_rewritten_with_the_umask_mode(tmp_path):
    path = tmp_path / "latest"
    path.write_text("old")
    path.chmod(0o600)
    with umask_set(0o022):
        atomic_write_text(path, "new")
    assert mode(path) == 0o644


def test_weights_checkpoint_files_and_store_versions_are_group_readable(tmp_path, monkeypatch):
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "store"))
    with umask_set(0o022):
        save_weights({"w": torch.ones(2)}, tmp_path / "w.safetensors")
        save_torch(tmp_path / "optimizer.pt", {"step": 1})
        model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
        info = save_to_pretrained(model, "tiny")
    assert mode(tmp_path / "w.safetensors") == 0o644
    assert mode(tmp_path / "optimizer.pt") == 0o644
    written = {p.name: oct(mode(p)) for p in info.path.iterdir()}
    assert {"tiny.safetensors", "tiny.yaml"} <= set(written)
    assert set(written.values()) == {"0o644"}, written


def test_a_training_run_writes_no_private_files(tmp_path):
    from core.training import Trainer

    run = load_helper("_toy").toy_run(steps=2, batch_size=16, checkpoint_every=1, log_every=1)
    with umask_set(0o022):
        Trainer(run, run_dir=tmp_path / "run", quiet=True).fit()
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert any(p.name == "model.safetensors" for p in files)
    assert {p.relative_to(tmp_path): oct(mode(p)) for p in files if mode(p) != 0o644} == {}


def test_umask_is_read_without_proc(tmp_path, monkeypatch):
    import core.atomic

    def no_proc(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(core.atomic, "open", no_proc, raising=False)
    with umask_set(0o027):
        assert current_umask() == 0o027
        assert current_umask() == 0o027  # reading it left it as it was
