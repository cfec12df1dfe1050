"""yosys, iverilog and the C compiler run through core.tools: hostile paths are data, and a
killed ``core difflut synth`` leaves no yosys behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from core_difflut.export import export_model, verilog_options
from core_difflut.export.c import CNetwork, build_c
from core_difflut.export.integer_inputs import IntegerInputs
from core_difflut.export.verilog_sim import simulate_verilog

from core.cli import main as core_main
from core.testing.processes import check_tool_dies_with

#: a folder name with a space, ``;``, both quotes and a newline; pasted into a yosys script it
#: reads ``e.v``, then runs ``touch $CORE_MARK`` (the rest is a comment and a bad command).
HOSTILE = "e.v; exec -- touch $CORE_MARK; # a b\"c'\nd"


def _needs(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install yosys iverilog)")


def _export(model, directory: Path, **options) -> Path:
    options = {"input_bits": 5, "input_scale": 16.0, **options}
    export_model(model, directory, "verilog", verilog=verilog_options(model, **options))
    return directory / "difflut_net.v"


@pytest.fixture
def model(integer_model):
    return integer_model(bits=5, scale=16.0, dataset="digits", widths=(48, 30))


def test_synth_reads_a_hostile_path_as_data(model, tmp_path, monkeypatch, capsys) -> None:
    _needs("yosys")
    net, _ = model
    (tmp_path / "e.v").write_text("module e; endmodule\n")
    source = _export(net, tmp_path / HOSTILE, lut_style="xilinx")
    monkeypatch.setenv("CORE_MARK", str(tmp_path / "X"))
    monkeypatch.chdir(tmp_path)
    assert core_main(["difflut", "synth", "--verilog", str(source), "--json"]) == 0
    assert '"network"' in capsys.readouterr().out
    assert not (tmp_path / "X").exists(), "a command in the path ran"


def test_simulation_works_from_an_odd_folder_and_writes_nothing_into_it(
    model, tmp_path, monkeypatch
) -> None:
    _needs("iverilog", "vvp")
    net, q = model
    monkeypatch.chdir(tmp_path)
    folder = Path("-Dx " + HOSTILE)  # relative: an argument starting with '-' is an option
    _export(net, folder)
    before = sorted(p.name for p in folder.iterdir())
    got = simulate_verilog(folder, q[:50])
    expected = net.predict(torch.from_numpy(IntegerInputs(5, 16.0).features(q[:50]))).numpy()
    assert np.array_equal(got, expected)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_the_c_build_runs_without_a_shell_from_an_odd_folder(model, tmp_path, monkeypatch) -> None:
    _needs("gcc")
    net, q = model
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CFLAGS", "-O0 -DDIFFLUT_LANES=1")
    folder = Path("-x " + HOSTILE)
    export_model(net, folder, "c")
    library = build_c(folder, timeout=120)
    assert library == folder / "libdifflut_net.so" and os.access(folder / "difflut_net", os.X_OK)
    x = IntegerInputs(5, 16.0).features(q[:20])
    assert np.array_equal(CNetwork(folder).predict(x), net.predict(torch.from_numpy(x)).numpy())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, PR_SET_PDEATHSIG")
def test_kill_9_of_synth_takes_yosys_and_its_children_with_it(model, tmp_path) -> None:
    net, _ = model
    source = _export(net, tmp_path / "v", lut_style="xilinx")
    fake = tmp_path / "bin" / "yosys"  # a yosys that starts a child and never finishes
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\n[ "$1" = -V ] && { echo "Yosys 0 (fake)"; exit 0; }\n'
        'sleep 120 &\necho "$$ $!" > "$CORE_PIDS"\nwait\n'
    )
    fake.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
        "CORE_PIDS": str(tmp_path / "pids"),
    }
    synth = subprocess.Popen(
        [sys.executable, "-m", "core", "difflut", "synth", "--verilog", str(source)], env=env
    )
    check_tool_dies_with(synth, tmp_path / "pids")
