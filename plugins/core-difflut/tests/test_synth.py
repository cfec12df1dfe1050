"""``core difflut synth``: LUTs per part and logic depth from yosys (generic and Xilinx
counts), and the ``--popcount`` forms, on a tiny model."""

from __future__ import annotations

import json
import shutil

import pytest
from core_difflut.export import export_model, verilog_options
from core_difflut.export.netlist import Lut, build_netlist
from core_difflut.export.popcount import POPCOUNT_FORMS
from core_difflut.export.spec import network_spec
from core_difflut.export.synth import SynthReport, format_report, xilinx_counts
from core_difflut.export.verilog import VerilogOptions

from core import ConfigError
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
    assert piped["xilinx"]["network"]["flip_flops"] == _lut_nodes(saved_model)  # FDRE cells
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


def _stat(cells_by_module: dict[str, dict[str, int]]) -> str:
    """A ``stat -json`` of yosys 0.23, trimmed to what the report reads."""
    modules = {f"\\{name}": {"num_cells_by_type": cells} for name, cells in cells_by_module.items()}
    return json.dumps({"creator": "Yosys 0.23", "modules": modules, "design": {}})


def test_xilinx_count_parsed_from_canned_stat_output(tmp_path) -> None:
    # digits-dwn's synth_xilinx stat (compressor form), with a few flip-flops and a MUXF8 added
    parts = {
        "difflut_encoder": {"LUT2": 3, "LUT3": 54, "LUT4": 59, "LUT5": 118},
        "difflut_net": {"difflut_encoder": 1, "difflut_network": 1, "difflut_popcount": 1},
        "difflut_network": {"LUT4": 2, "LUT5": 71, "LUT6": 927, "FDRE": 4, "FDSE": 1},
        "difflut_popcount": {
            **{"CARRY4": 365, "LUT2": 401, "LUT3": 365, "LUT4": 20, "LUT5": 520, "LUT6": 236},
            **{"MUXF7": 10, "MUXF8": 2, "LUT1": 1},
        },
    }
    total = {"CARRY4": 365, "LUT1": 1, "LUT2": 404, "LUT3": 419, "LUT4": 81, "LUT5": 709}
    total |= {"LUT6": 1163, "MUXF7": 10, "MUXF8": 2, "FDRE": 4, "FDSE": 1}
    (tmp_path / "xilinx_parts.json").write_text(_stat(parts))
    (tmp_path / "xilinx_total.json").write_text(
        json.dumps({"modules": {}, "design": {"num_cells_by_type": total}})
    )
    counts = xilinx_counts(tmp_path)
    assert counts["encoder"] == {"luts": 234, "carry4": 0, "muxf": 0, "flip_flops": 0}
    assert counts["network"] == {"luts": 1000, "carry4": 0, "muxf": 0, "flip_flops": 5}
    assert counts["popcount"] == {"luts": 1543, "carry4": 365, "muxf": 12, "flip_flops": 0}
    assert counts["total"] == {"luts": 2777, "carry4": 365, "muxf": 12, "flip_flops": 5}
    assert counts["total_without_encoder"] == {
        "luts": 2543,
        "carry4": 365,
        "muxf": 12,
        "flip_flops": 5,
    }
    parts_only = {"encoder": 234, "network": 1000, "popcount": 1409, "total": 2643}
    report = SynthReport(parts_only, dict.fromkeys(parts_only, 1), 0, 1.0, "", xilinx=counts)
    report.xilinx_seconds, report.popcount = 2.0, "adder"
    text = format_report(report)
    assert "CARRY4" in text and "MUXF7/8" in text and "popcount form: adder" in text
    row = next(line for line in text.splitlines() if line.startswith("total w/o encoder"))
    assert row.split()[3:] == ["2,409", "2,543", "365", "12", "5"]
    assert "synth_xilinx -family xc7" in text and "+ 2.0 s (xc7)" in text
    assert report.to_dict()["xilinx"]["popcount"]["carry4"] == 365


def test_popcount_option_reaches_the_verilog_and_its_manifest(saved_model, tmp_path, capsys):
    out = tmp_path / "adder"
    args = ["difflut", "export", "tiny-net", "--format", "verilog", "-o", str(out)]
    assert core_main([*args, "--popcount", "adder"]) == 0
    manifest = json.loads((out / "difflut_net.json").read_text())
    assert manifest["popcount"] == "adder"
    text = (out / "difflut_net.v").read_text()
    assert "(adder form)" in text and "c0_row0" not in text  # no counter tree
    assert core_main([*args[:-1], str(tmp_path / "default")]) == 0
    assert json.loads((tmp_path / "default" / "difflut_net.json").read_text())["popcount"] == (
        "gpc"
    )
    capsys.readouterr()
    assert core_main([*args[:-1], str(tmp_path / "bad"), "--popcount", "wallace"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "'wallace' is not one of 'gpc', 'compressor', 'adder'" in err[-1]
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ConfigError, match="unknown popcount form 'wallace': choose gpc or"):
        VerilogOptions(inputs="bits", popcount="wallace")


@pytest.mark.slow
def test_both_popcount_forms_get_both_counts(saved_model, capsys) -> None:
    _needs_yosys()
    reports = {form: _synth(capsys, "tiny-net", "--popcount", form) for form in POPCOUNT_FORMS}
    for form, report in reports.items():
        assert report["popcount"] == form
        xc7 = report["xilinx"]
        assert xc7["network"]["luts"] == _lut_nodes(saved_model)  # one LUT6 per node
        for key in ("luts", "carry4", "muxf", "flip_flops"):
            assert sum(xc7[p][key] for p in ("encoder", "network", "popcount")) == xc7["total"][key]
            assert xc7["total_without_encoder"][key] == xc7["total"][key] - xc7["encoder"][key]
        assert xc7["encoder"]["luts"] > 0 and xc7["total"]["flip_flops"] == 0
        assert "synth_xilinx -family xc7" in report["xilinx_script"]
    assert reports["adder"]["xilinx"]["popcount"]["carry4"] > 0  # the sum is on carry chains
    # the generic count of the network does not depend on the popcount form
    assert reports["adder"]["luts"]["network"] == reports["gpc"]["luts"]["network"]
    # the gpc form's LUTs are kept as written: fewest popcount/argmax LUTs in both counts
    for count in ("luts", "xilinx"):
        luts = {f: r[count]["popcount"] for f, r in reports.items()}
        luts = {f: v["luts"] if count == "xilinx" else v for f, v in luts.items()}
        assert luts["gpc"] < min(luts["compressor"], luts["adder"]), (count, luts)
    plain = _synth(capsys, "tiny-net", "--no-xilinx")
    assert plain["xilinx"] is None and plain["luts"] == reports["gpc"]["luts"]
