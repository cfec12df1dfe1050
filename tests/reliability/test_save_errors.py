"""Disk-full and permission errors while saving: the previous file stays, the error is clear."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from core.atomic import AtomicWriteError, atomic_write_text
from core.building import build_model
from core.errors import CoreError
from core.pretrained import list_pretrained, save_to_pretrained
from core.weights import read_weights, save_weights

from .conftest import load_helper

FAILURES = {
    "disk-full": OSError(errno.ENOSPC, "No space left on device"),
    "permission": PermissionError(errno.EACCES, "Permission denied"),
    "read-only": OSError(errno.EROFS, "Read-only file system"),
    "quota": OSError(errno.EDQUOT, "Disk quota exceeded"),
}


def _fail_on(monkeypatch, where: str, error: OSError) -> None:
    """Make one step of an atomic write fail: the rename, the fsync or the temp-file creation."""

    def boom(*args, **kwargs):
        raise error

    if where == "replace":
        monkeypatch.setattr(os, "replace", boom)
    elif where == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:  # the temporary file's creation
        real_open = os.open

        def create(path, flags, *args, **kwargs):
            if flags & os.O_CREAT:
                raise error
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", create)


@pytest.mark.parametrize("where", ["replace", "fsync", "create"])
@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_failed_weights_save_keeps_the_previous_file(tmp_path, monkeypatch, where, failure):
    path = tmp_path / "model.safetensors"
    old = {"w": torch.ones(3)}
    save_weights(old, path)
    _fail_on(monkeypatch, where, FAILURES[failure])
    with pytest.raises(AtomicWriteError) as info:
        save_weights({"w": torch.zeros(3)}, path)
    monkeypatch.undo()
    message = str(info.value)
    assert "model.safetensors" in message and "is unchanged" in message
    assert FAILURES[failure].strerror in message
    assert isinstance(info.value, CoreError) and isinstance(info.value, OSError)
    assert torch.equal(read_weights(path)["w"], old["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temp left


def test_failed_first_write_says_nothing_was_created(tmp_path, monkeypatch):
    _fail_on(monkeypatch, "replace", FAILURES["disk-full"])
    with pytest.raises(AtomicWriteError, match="was not created"):
        atomic_write_text(tmp_path / "config.yaml", "a: 1\n")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_failed_pretrained_save_claims_no_version(store, monkeypatch):
    model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
    save_to_pretrained(model, "tiny")
    with monkeypatch.context() as m, pytest.raises(CoreError, match="No space left"):
        _fail_on(m, "fsync", FAILURES["disk-full"])
        save_to_pretrained(model, "tiny")
    assert [i.reference for i in list_pretrained() if i.source == "store"] == [
        "mlp-denoiser/tiny/v1"
    ]
    leftovers = [p.name for p in (store / "mlp-denoiser" / "tiny").iterdir()]
    assert leftovers == ["v1"]
    assert save_to_pretrained(model, "tiny").version == 2


_RUN = load_helper("_toy").toy_run(steps=4, batch_size=16, checkpoint_every=2, log_every=1)


def test_failed_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    from core.training import Trainer
    from core.training.checkpoint import latest_checkpoint
    from core.weights import save_weights as real_save

    trainer = Trainer(_RUN, run_dir=tmp_path / "run", quiet=True)
    calls = {"n": 0}

    def flaky(weights, path, metadata=None):
        calls["n"] += 1
        if calls["n"] > 1:  # the first checkpoint succeeds, the second hits a full disk
            with monkeypatch.context() as m:
                _fail_on(m, "replace", FAILURES["disk-full"])
                return real_save(weights, path, metadata)
        return real_save(weights, path, metadata)

    monkeypatch.setattr("core.training.loop.save_weights", flaky)  # the checkpoint writer
    with pytest.raises(AtomicWriteError, match="No space left on device"):
        trainer.fit()
    ckpt = latest_checkpoint(tmp_path / "run")
    assert ckpt is not None and ckpt.name == "step_2"
    state = read_weights(ckpt / "model.safetensors")
    assert state and all(torch.isfinite(v).all() for v in state.values())
    assert not [
        p
        for p in (tmp_path / "run" / "checkpoints").iterdir()
        if p.name.startswith("step_") and p.name != "step_2"
    ]


def test_cli_reports_a_full_disk_on_one_line(tmp_path, monkeypatch, capsys):
    import yaml

    from core.cli import main

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(_RUN))
    _fail_on(monkeypatch, "replace", FAILURES["disk-full"])
    code = main(["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"])
    monkeypatch.undo()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "No space left on device" in err[0], err
