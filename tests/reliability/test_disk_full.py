"""A disk that fills up during the write itself: weights, checkpoints, store versions, the CLI.

Two ways: ``os.write`` patched to write part of a temporary file and then fail (what a
filling disk does), and a real tmpfs a few kilobytes large where mounting one is allowed.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest
import torch
import yaml

from core.atomic import AtomicWriteError
from core.building import build_model
from core.pretrained import list_pretrained, save_to_pretrained
from core.training.checkpoint import load_torch, save_torch
from core.weights import read_weights, save_weights

from .conftest import load_helper

hostile = load_helper("_hostile")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/fd and mounts tmpfs (Linux)"
)

WRITE_FAILURES = {
    "disk-full": errno.ENOSPC,
    "quota": errno.EDQUOT,
    "io-error": errno.EIO,
}


def fail_temp_file_writes(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """``os.write`` into a ``*.tmp`` file writes 100 bytes, then raises ``OSError(code)``."""
    hostile.fail_temp_file_writes(monkeypatch.setattr, code)


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("failure", sorted(WRITE_FAILURES))
def test_weights_write_failure_keeps_the_previous_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "model.safetensors"
    save_weights({"w": torch.ones(1000)}, path)
    with monkeypatch.context() as m:
        fail_temp_file_writes(m, WRITE_FAILURES[failure])
        with pytest.raises(AtomicWriteError) as info:
            save_weights({"w": torch.zeros(1000)}, path)
    message = str(info.value)
    assert message.startswith(f"cannot write {path}: {os.strerror(WRITE_FAILURES[failure])}")
    assert message.endswith("model.safetensors is unchanged") and "\n" not in message
    assert info.value.errno == WRITE_FAILURES[failure]
    assert torch.equal(read_weights(path)["w"], torch.ones(1000))
    assert no_temp_files(tmp_path)


def test_torch_save_write_failure_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "optimizer.pt"
    save_torch(path, {"state": torch.ones(1000)})
    with monkeypatch.context() as m:
        fail_temp_file_writes(m, errno.ENOSPC)
        with pytest.raises(AtomicWriteError, match="optimizer.pt is unchanged"):
            save_torch(path, {"state": torch.zeros(1000)})
    assert torch.equal(load_torch(path)["state"], torch.ones(1000))
    assert no_temp_files(tmp_path)


def test_store_save_write_failure_claims_no_version(store, monkeypatch):
    model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
    save_to_pretrained(model, "tiny")
    with monkeypatch.context() as m:
        fail_temp_file_writes(m, errno.ENOSPC)
        with pytest.raises(AtomicWriteError, match="tiny.safetensors was not created"):
            save_to_pretrained(model, "tiny")
    assert [i.reference for i in list_pretrained() if i.source == "store"] == [
        "mlp-denoiser/tiny/v1"
    ]
    assert [p.name for p in (store / "mlp-denoiser" / "tiny").iterdir()] == ["v1"]


RUN = load_helper("_toy").toy_run(steps=4, batch_size=16, checkpoint_every=2, log_every=1)


@pytest.mark.parametrize("file", ["model.safetensors", "optimizer.pt", "state.json"])
def test_checkpoint_write_failure_keeps_the_previous_checkpoint(tmp_path, monkeypatch, file):
    from core.training import Trainer
    from core.training.checkpoint import latest_checkpoint

    real_write = os.write

    def write(fd, data):  # the second checkpoint's `file` hits a full disk mid-write
        link = os.readlink(f"/proc/self/fd/{fd}")
        if "/.step_4.staging-" in link and f"/.{file}." in link:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    trainer = Trainer(RUN, run_dir=tmp_path / "run", quiet=True)
    monkeypatch.setattr(os, "write", write)
    with pytest.raises(AtomicWriteError, match=f"{file} was not created"):
        trainer.fit()
    monkeypatch.undo()
    checkpoints = tmp_path / "run" / "checkpoints"
    assert latest_checkpoint(tmp_path / "run") == checkpoints / "step_2"
    assert (checkpoints / "latest").read_text() == "step_2\n"
    assert read_weights(checkpoints / "step_2" / "model.safetensors")
    assert sorted(p.name for p in checkpoints.iterdir() if not p.name.startswith(".")) == [
        "latest",
        "step_2",
    ]
    assert no_temp_files(tmp_path)


def test_cli_prints_one_line_for_a_write_failure(tmp_path, monkeypatch, capsys):
    from core.cli import main

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(RUN))
    with monkeypatch.context() as m:
        fail_temp_file_writes(m, errno.ENOSPC)
        code = main(["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: cannot write "), err
    assert "No space left on device" in err[0]


# -- a real full disk ------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A tmpfs of 96 KiB mounted on a scratch folder (skipped where mounting is refused)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    with hostile.mounted_tmpfs(tmp_path / "disk") as disk:
        if isinstance(disk, str):
            pytest.skip(disk)
        yield disk


def fill(directory: Path) -> None:
    """Write a filler file until the disk is full."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_real_full_disk_keeps_the_previous_weights(tiny_disk):
    path = tiny_disk / "model.safetensors"
    save_weights({"w": torch.ones(100)}, path)
    fill(tiny_disk)
    with pytest.raises(AtomicWriteError, match="No space left on device"):
        save_weights({"w": torch.zeros(20_000)}, path)
    assert torch.equal(read_weights(path)["w"], torch.ones(100))
    assert no_temp_files(tiny_disk)


def test_real_full_disk_store_save(tiny_disk, monkeypatch):
    monkeypatch.setenv("CORE_HOME", str(tiny_disk))
    big = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 256}})
    with pytest.raises(AtomicWriteError, match="tiny.safetensors was not created"):
        save_to_pretrained(big, "tiny")
    assert [i for i in list_pretrained() if i.source == "store"] == []
    assert [p.name for p in (tiny_disk / "mlp-denoiser" / "tiny").iterdir()] == []


def test_real_full_disk_cli_train(tiny_disk, tmp_path, capsys):
    from core.cli import main

    run = {**RUN, "model": {**RUN["model"], "network": {**RUN["model"]["network"]}}}
    run["model"]["network"]["hidden_dim"] = 256  # a checkpoint of ~1 MB on a 96 KiB disk
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(run))
    code = main(["train", str(config), "--runs-dir", str(tiny_disk), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "No space left on device" in err[0], err
    assert "was not created" in err[0]
    checkpoints = tiny_disk / "run" / "checkpoints"
    assert not [p for p in checkpoints.iterdir() if not p.name.startswith(".")]
    assert no_temp_files(tiny_disk)
