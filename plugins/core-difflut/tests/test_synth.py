"""``core difflut synth``: LUTs per part and logic depth from yosys, on a tiny model."""

from __future__ import annotations

import json
import shutil

import pytest
from core_difflut.export import export_model, verilog_options
from core_difflut.export.netlist import Lut, build_netlist
from core_difflut.export.spec import network_spec

from core.cli import main as core_main


def _needs_yosys() -> None:
    if shutil.which("yosys") is None:
        pytest.skip("yosys is not installed (apt-get install yosys): synthesis not run")


def _synth(capsys, *args: str) -> dict:
    assert core_main(["difflut", "synth", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _lut_nodes(model) -> int:
    net = build_netlist(network_spec(model), verilog_options(model).integer)
    return sum(isinstance(node, Lut) for layer in net.layers for node in layer)


@pytest.fixture
def saved_model(tmp_path, monkeypatch, integer_model):
    """A tiny digits-shaped model saved as 'tiny-net' (integer inputs 5 bits, q / 16)."""
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "store"))
    model, _ = integer_model(bits=5, scale=16.0, dataset="digits", widths=(48, 30))
    model.save_to_pretrained("tiny-net")
    return model


@pytest.mark.slow
def test_synth_splits_luts_and_matches_a_flat_synthesis(saved_model, capsys) -> None:
    _needs_yosys()
    report = _synth(capsys, "tiny-net", "--flat")
    luts, depth = report["luts"], report["depth"]
    # LUT6 primitives are counted as they are: one LUT per node of the reduced netlist
    assert luts["network"] == _lut_nodes(saved_model) > 0
    assert luts["encoder"] > 0 and luts["popcount"] > 0
    assert luts["encoder"] + luts["network"] + luts["popcount"] == luts["total"]
    # re-mapping the flattened design gives nearly the same count (across the part boundaries
    # ABC may merge a few small nodes into comparators or counters: 139 against 148 here)
    assert abs(report["flat_luts"] - luts["total"]) <= 0.1 * luts["total"]
    assert depth["encoder"] == 1  # a 5-bit comparison is one LUT
    assert depth["network"] == 2  # two layers of LUTs
    parts = [depth["encoder"], depth["network"], depth["popcount"]]
    assert max(parts) < depth["total"] <= sum(parts)  # the longest path crosses all three
    assert report["flat_depth"] > 0
    assert report["flip_flops"] == 0


@pytest.mark.slow
def test_generic_style_maps_each_node_to_one_lut(saved_model, tmp_path, capsys) -> None:
    _needs_yosys()
    export_model(saved_model, tmp_path / "v", "verilog")  # generic: case statements
    report = _synth(capsys, "--verilog", str(tmp_path / "v" / "difflut_net.v"))
    assert report["luts"]["network"] == _lut_nodes(saved_model)


@pytest.mark.slow
def test_pipelined_synthesis_counts_registers_and_shortens_paths(saved_model, capsys) -> None:
    _needs_yosys()
    plain = _synth(capsys, "tiny-net")
    piped = _synth(capsys, "tiny-net", "--pipeline")
    assert piped["flip_flops"] == _lut_nodes(saved_model)  # one register per LUT output
    assert piped["depth"]["network"] == 1  # registers end every path
    assert piped["depth"]["total"] < plain["depth"]["total"]
    bits = _synth(capsys, "tiny-net", "--inputs", "bits")
    assert bits["luts"]["encoder"] == 0 and bits["luts"]["network"] > 0


def test_synth_refuses_in_one_line_without_yosys(saved_model, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert core_main(["difflut", "synth", "tiny-net"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].endswith("yosys was not found on PATH: apt-get install yosys")


@pytest.mark.slow
def test_synth_timeout_and_argument_errors(saved_model, capsys) -> None:
    _needs_yosys()
    assert core_main(["difflut", "synth", "tiny-net", "--timeout", "0.01"]) == 2
    assert "did not finish within 0.01 s" in capsys.readouterr().err
    assert core_main(["difflut", "synth"]) == 2
    assert "give MODEL or --verilog FILE" in capsys.readouterr().err
