"""embed_dataset writes its folder as one unit: an earlier embedding stays until the new one is
complete, and a folder holding anything else is refused."""

from __future__ import annotations

import os
import stat

import pytest
import torch

import core
from core.errors import ConfigError


def _data(n: int) -> torch.utils.data.TensorDataset:
    return torch.utils.data.TensorDataset(torch.randn(n, 1, 16, 16), torch.arange(n))


def _contents(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_failed_re_embedding_leaves_the_earlier_one_whole(ae_config, tmp_path, monkeypatch):
    model = core.build("model", ae_config).eval()
    old = os.umask(0o022)
    try:
        model.embed_dataset(_data(4), tmp_path / "emb", batch_size=2)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "emb").stat().st_mode) == 0o755
    before = _contents(tmp_path / "emb")
    calls = []
    real_encode = model.encode

    def encode(x, **kwargs):  # the second batch fails, half-way through the embedding
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real_encode(x, **kwargs)

    monkeypatch.setattr(model, "encode", encode)
    with pytest.raises(RuntimeError, match="killed"):
        model.embed_dataset(_data(6), tmp_path / "emb", batch_size=2)
    assert _contents(tmp_path / "emb") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emb"]
    monkeypatch.undo()
    model.embed_dataset(_data(6), tmp_path / "emb", batch_size=2)  # replaces the earlier one
    assert len(list((tmp_path / "emb" / "latents").iterdir())) == 6


def test_a_folder_holding_other_files_is_refused(ae_config, tmp_path):
    model = core.build("model", ae_config).eval()
    (tmp_path / "emb").mkdir()
    (tmp_path / "emb" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds 'notes.txt', not an embedding"):
        model.embed_dataset(_data(2), tmp_path / "emb")
    assert (tmp_path / "emb" / "notes.txt").read_text() == "mine"
