"""Weights files from strangers: clear WeightsErrors, nothing unpickled, nothing half-loaded."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import torch

from core.errors import CoreError, WeightsError
from core.weights import load_weights, read_weights, save_weights

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def _header_file(path: Path, header: dict, data: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def _good(tmp_path: Path) -> Path:
    other = _model()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    return save_weights(other, tmp_path / "good.safetensors")


def _cases(tmp_path: Path) -> dict[str, Path]:
    good = _good(tmp_path).read_bytes()
    cases = {}

    def raw(name: str, data: bytes) -> None:
        (tmp_path / name).write_bytes(data)
        cases[name] = tmp_path / name

    raw("empty.safetensors", b"")
    raw("short.safetensors", good[:5])
    raw("truncated-header.safetensors", good[:40])
    raw("truncated-data.safetensors", good[:-7])
    raw("text.safetensors", b"this is not a weights file at all\n" * 4)
    raw("zip.safetensors", b"PK\x03\x04" + b"\x00" * 100)
    raw("absurd-header.safetensors", struct.pack("<Q", 2**62) + b"{}")
    raw("gigabyte-header.safetensors", struct.pack("<Q", 10**9) + b"{}")
    cases["lying-shape.safetensors"] = _header_file(
        tmp_path / "lying-shape.safetensors",
        {"0.weight": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 48]}},
        b"\0" * 48,
    )
    cases["lying-offsets.safetensors"] = _header_file(
        tmp_path / "lying-offsets.safetensors",
        {"0.weight": {"dtype": "F32", "shape": [4, 3], "data_offsets": [0, 10**12]}},
        b"\0" * 48,
    )
    cases["bad-dtype.safetensors"] = _header_file(
        tmp_path / "bad-dtype.safetensors",
        {"0.weight": {"dtype": "PY_OBJECT", "shape": [4, 3], "data_offsets": [0, 48]}},
        b"\0" * 48,
    )
    cases["header-not-json.safetensors"] = tmp_path / "header-not-json.safetensors"
    cases["header-not-json.safetensors"].write_bytes(struct.pack("<Q", 6) + b"{{{{{{")
    state = _model().state_dict()
    wrong_shape = {**state, "0.weight": torch.zeros(5, 3)}
    cases["wrong-shape.safetensors"] = save_weights(
        wrong_shape, tmp_path / "wrong-shape.safetensors"
    )
    wrong_dtype = {**state, "2.weight": torch.zeros(2, 4, dtype=torch.int64)}
    cases["wrong-dtype.safetensors"] = save_weights(
        wrong_dtype, tmp_path / "wrong-dtype.safetensors"
    )
    missing = {k: v for k, v in state.items() if k != "2.bias"}
    cases["missing.safetensors"] = save_weights(missing, tmp_path / "missing.safetensors")
    extra = {**state, "9.weight": torch.zeros(1)}
    cases["unexpected.safetensors"] = save_weights(extra, tmp_path / "unexpected.safetensors")
    torch.save({"0.weight": _Evil()}, tmp_path / "evil.pth")
    cases["evil.pth"] = tmp_path / "evil.pth"
    (tmp_path / "evil-raw.pth").write_bytes(pickle.dumps(_Evil()))
    cases["evil-raw.pth"] = tmp_path / "evil-raw.pth"
    torch.save({**state, "step": "not a tensor"}, tmp_path / "mixed.pth")
    cases["mixed.pth"] = tmp_path / "mixed.pth"
    torch.save([1, 2, 3], tmp_path / "list.pth")
    cases["list.pth"] = tmp_path / "list.pth"
    raw("empty.pth", b"")
    raw("truncated.pth", (tmp_path / "mixed.pth").read_bytes()[:64])
    raw("safetensors-named.pth", good)
    raw("unknown-suffix.ckpt", (tmp_path / "mixed.pth").read_bytes())
    cases["directory"] = tmp_path / "a-directory"
    cases["directory"].mkdir()
    cases["missing-file"] = tmp_path / "nope.safetensors"
    return cases


NAMES = [
    "empty.safetensors",
    "short.safetensors",
    "truncated-header.safetensors",
    "truncated-data.safetensors",
    "text.safetensors",
    "zip.safetensors",
    "absurd-header.safetensors",
    "gigabyte-header.safetensors",
    "lying-shape.safetensors",
    "lying-offsets.safetensors",
    "bad-dtype.safetensors",
    "header-not-json.safetensors",
    "wrong-shape.safetensors",
    "wrong-dtype.safetensors",
    "missing.safetensors",
    "unexpected.safetensors",
    "evil.pth",
    "evil-raw.pth",
    "mixed.pth",
    "list.pth",
    "empty.pth",
    "truncated.pth",
    "safetensors-named.pth",
    "unknown-suffix.ckpt",
    "directory",
    "missing-file",
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    return _cases(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("name", NAMES)
def test_hostile_weights_are_refused_and_nothing_is_loaded(hostile, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    path = hostile[name]
    model = _model()
    before = _snapshot(model)
    with pytest.raises(WeightsError) as info:
        load_weights(model, path)
    message = str(info.value)
    assert str(path.name) in message or str(path) in message
    assert "\n" not in message.strip() and len(message) < 600
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "weights changed half-way"
    assert not (tmp_path / "PWNED").exists()


def test_pickle_payload_is_never_executed(hostile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    for name in ("evil.pth", "evil-raw.pth"):
        with pytest.raises(WeightsError, match="refused"):
            read_weights(hostile[name])
    assert calls == []


def test_good_files_still_load(tmp_path):
    model = _model()
    good = _good(tmp_path)
    load_weights(model, good)
    assert torch.equal(model.state_dict()["0.bias"], read_weights(good)["0.bias"])
    torch.save(_model().state_dict(), tmp_path / "plain.pth")
    load_weights(model, tmp_path / "plain.pth")  # tensors only: allowed (weights_only)


def test_hostile_weights_in_a_pretrained_directory(tmp_path):
    from core.building import build_model

    model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
    directory = model.save_pretrained(tmp_path / "pre", name="m")
    weights = directory / "m.safetensors"
    weights.write_bytes(weights.read_bytes()[:-16])
    with pytest.raises(CoreError, match="m.safetensors"):
        build_model(str(directory))
    from core.base_model import BaseModel

    with pytest.raises(WeightsError, match="truncated or corrupt"):
        BaseModel.from_pretrained(directory)
