"""An export is one unit: written into a staged folder, swapped in whole, the Verilog's hash in
its manifest; synth and simulation refuse a .v the manifest beside it does not describe."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat

import numpy as np
import pytest
from core_difflut.export import export_model, verilog_options
from core_difflut.export.verilog import MANIFEST, check_verilog

from core import ConfigError
from core.cli import main as core_main


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def two_models(integer_model):
    first, _ = integer_model(bits=5, scale=16.0, dataset="digits", widths=(24, 15))
    second, _ = integer_model(bits=5, scale=16.0, dataset="digits", widths=(30, 15))
    return first, second


def _export(model, directory, **kwargs):
    options = verilog_options(model, input_bits=5, input_scale=16.0)
    return export_model(model, directory, "verilog", verilog=options, **kwargs)


def test_the_manifest_records_the_verilogs_hash_and_the_folder_has_the_umask_mode(
    tmp_path, two_models
):
    old = os.umask(0o022)
    try:
        files = _export(two_models[0], tmp_path / "v")
    finally:
        os.umask(old)
    out = tmp_path / "v"
    assert sorted(p.name for p in files) == ["difflut_net.json", "difflut_net.v", "difflut_tb.v"]
    assert all(p.parent == out for p in files)
    manifest = json.loads((out / MANIFEST).read_text())
    assert (
        manifest["verilog_sha256"]
        == hashlib.sha256((out / "difflut_net.v").read_bytes()).hexdigest()
    )
    assert _mode(out) == 0o755 and _mode(out / "difflut_net.v") == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]  # no staging folder left
    check_verilog(out / "difflut_net.v")


def test_a_non_empty_folder_is_replaced_only_with_overwrite(tmp_path, two_models):
    out = tmp_path / "v"
    _export(two_models[0], out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is not empty \\(use --overwrite\\)"):
        _export(two_models[1], out)
    assert (out / "notes.txt").read_text() == "mine"
    _export(two_models[1], out, overwrite=True)
    assert not (out / "notes.txt").exists()
    check_verilog(out / "difflut_net.v")
    (tmp_path / "empty").mkdir()
    _export(two_models[0], tmp_path / "empty")  # an empty folder is simply filled


def test_a_failure_half_way_leaves_the_previous_export_whole(tmp_path, two_models, monkeypatch):
    out = tmp_path / "v"
    _export(two_models[0], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import core_difflut.export.verilog_sim as sim

    def killed(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sim, "write_testbench", killed)  # after the .v and the manifest
    with pytest.raises(OSError, match="No space left"):
        _export(two_models[1], out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]


def _torn(tmp_path, two_models):
    """A .v of the first model beside the second model's manifest and testbench."""
    _export(two_models[0], tmp_path / "a")
    _export(two_models[1], tmp_path / "b")
    shutil.copyfile(tmp_path / "a" / "difflut_net.v", tmp_path / "b" / "difflut_net.v")
    return tmp_path / "b" / "difflut_net.v"


def test_synth_refuses_a_verilog_its_manifest_does_not_describe(tmp_path, two_models, capsys):
    source = _torn(tmp_path, two_models)
    assert core_main(["difflut", "synth", "--verilog", str(source)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(source) in err[0] and str(source.parent / MANIFEST) in err[0]
    assert "does not match" in err[0]


def test_simulation_refuses_a_torn_export(tmp_path, two_models):
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("Icarus Verilog is not installed")
    from core_difflut.export.verilog_sim import simulate_verilog

    source = _torn(tmp_path, two_models)
    with pytest.raises(ConfigError, match="does not match"):
        simulate_verilog(source.parent, np.zeros((2, 10), np.int64))


def test_a_manifest_without_a_hash_or_unreadable_is_refused(tmp_path, two_models):
    _export(two_models[0], tmp_path / "v")
    source, manifest = tmp_path / "v" / "difflut_net.v", tmp_path / "v" / MANIFEST
    data = json.loads(manifest.read_text())
    del data["verilog_sha256"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="records no verilog_sha256"):
        check_verilog(source)
    manifest.write_text("{not json")
    with pytest.raises(ConfigError, match="not a DiffLUT export manifest"):
        check_verilog(source)
    manifest.unlink()
    check_verilog(source)  # a design with no manifest beside it is not checked


def test_the_numpy_and_c_exports_are_units_too(tmp_path, two_models):
    files = export_model(two_models[0], tmp_path / "np", "numpy")
    assert sorted(p.name for p in files) == ["difflut_numpy.py", "model.npz"]
    files = export_model(two_models[0], tmp_path / "c", "c")
    assert sorted(p.name for p in files) == ["build.sh", "difflut_net.c"]
    assert os.access(tmp_path / "c" / "build.sh", os.X_OK)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "np"]


def _upstream_checkpoint(path) -> None:
    """A small upstream DWN checkpoint: two random layers of 3-input nodes."""
    import torch

    g = torch.Generator().manual_seed(0)
    state = {
        "encoder.thresholds": torch.rand(5, 3, generator=g).sort(1).values,
        "layers.0._mapping_indices": torch.randint(15, (12, 3), generator=g).to(torch.int16),
        "layers.1._mapping_indices": torch.randint(12, (9, 3), generator=g).to(torch.int16),
        "output_layer.tau": torch.tensor(2.0),
    }
    for i, width in enumerate((12, 9)):
        for j in range(width):
            state[f"layers.{i}.nodes.{j}.luts"] = torch.rand(1, 8, generator=g)
            state[f"layers.{i}.nodes.{j}.alpha"] = torch.tensor(0.28)
            state[f"layers.{i}.nodes.{j}.beta"] = torch.tensor(1 / 3)
    torch.save(state, path)


def test_a_converted_folder_gets_the_umask_mode(tmp_path):
    from core_difflut.convert import convert_checkpoint

    _upstream_checkpoint(tmp_path / "up.pth")
    old = os.umask(0o022)
    try:
        out = convert_checkpoint(tmp_path / "up.pth", tmp_path / "net", num_classes=3)
    finally:
        os.umask(old)
    assert _mode(out) == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net", "up.pth"]


def test_convert_overwrite_keeps_the_old_folder_until_the_new_one_is_complete(
    tmp_path, monkeypatch
):
    from core_difflut.convert import convert_checkpoint
    from core_difflut.models import SimpleFeedForward

    _upstream_checkpoint(tmp_path / "up.pth")
    out = convert_checkpoint(tmp_path / "up.pth", tmp_path / "net", num_classes=3)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_save = SimpleFeedForward.save_pretrained

    def killed(self, directory, **kwargs):
        real_save(self, directory, **kwargs)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old one still there
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SimpleFeedForward, "save_pretrained", killed)
    with pytest.raises(OSError, match="No space left"):
        convert_checkpoint(tmp_path / "up.pth", out, num_classes=3, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net", "up.pth"]
