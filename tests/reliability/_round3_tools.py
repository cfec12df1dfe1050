"""Round 3, area "tools": yosys, iverilog and the C compiler run through ``core.tools``.

Hostile paths reach a tool as data, never as a command; a killed ``core difflut synth`` or a
timeout leaves no tool running; a tool's output is bounded. A fake ``yosys`` (a shell script
first on ``PATH``) stands in where the real one would finish too soon. Loaded by
``_hostile.py``, which injects itself as ``hostile``.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _deadline import time_limit  # this folder is on sys.path (load_helper, _helper)

from core.testing.processes import check_tool_dies_with, gone_within

hostile: Any = globals()["hostile"]  # set by _hostile.py before this module runs

#: pasted into a yosys script, this folder name reads ``e.v``, then runs ``touch $CORE_MARK``.
INJECTION = "e.v; exec -- touch $CORE_MARK; # a b\"c'\nd"


def _model() -> Any:
    """A tiny DiffLUT model (untrained: its tables are as good as any for the tools)."""
    import torch
    from core_difflut import ModelConfig, build_model

    torch.manual_seed(0)
    config = ModelConfig(
        layer_widths=[24, 12],
        node_input_dim=4,
        input_size=6,
        num_classes=3,
        dataset="digits",
        encoder_config={"name": "thermometer", "num_bits": 3},
    )
    model = build_model(config)
    model.fit_encoder(torch.rand(64, 6))
    return model.eval()


def _export(folder: Path, fmt: str = "verilog") -> Path:
    """``model`` exported into ``folder`` (Verilog: xilinx LUT6 style); the folder."""
    from core_difflut.export import export_model, verilog_options

    model = _model()
    options = verilog_options(model, lut_style="xilinx") if fmt == "verilog" else None
    export_model(model, folder, fmt, verilog=options)
    return folder


def _core(*args: str) -> tuple[int, str, str]:
    """``core ARGS`` in-process: (exit code, stdout, stderr)."""
    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _needs(program: str) -> None:
    import shutil

    if shutil.which(program) is None:
        raise AssertionError(f"{program} is not installed: this case cannot run")


def _fake_yosys(work: Path, body: str) -> None:
    """A ``yosys`` first on PATH: answers ``-V``, then runs the shell ``body``."""
    fake = work / "bin" / "yosys"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f'#!/bin/sh\n[ "$1" = -V ] && {{ echo "Yosys 0 (fake)"; exit 0; }}\n{body}\n')
    fake.chmod(0o755)
    os.environ["PATH"] = f"{fake.parent}{os.pathsep}{os.environ['PATH']}"


def _pids(path: Path, seconds: float = 60) -> list[int]:
    end = time.monotonic() + seconds
    while not path.is_file() or not path.read_text().strip():
        assert time.monotonic() < end, "the tool never started"
        time.sleep(0.05)
    return [int(p) for p in path.read_text().split()]


def _deadline(seconds: int, what: str) -> contextlib.AbstractContextManager[None]:
    """AssertionError if the block is still running after ``seconds`` (a blocking open)."""
    return time_limit(seconds, lambda: AssertionError(f"{what}: still waiting after {seconds} s"))


def _synth_path(name: str, injection: bool) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        _needs("yosys")
        (work / "e.v").write_text("module e; endmodule\n")
        os.environ["CORE_MARK"] = str(work / "X")
        source = _export(work / name) / "difflut_net.v"
        code, out, err = _core("difflut", "synth", "--verilog", str(source), "--json")
        assert not (work / "X").exists(), "a command in the path ran (the marker X exists)"
        assert code == 0, f"exit {code}: {err.strip()[-200:]}"
        assert '"network"' in out, out[:200]
        return "exit 0, LUTs reported" + (", nothing ran" if injection else "")

    return check


def _synth_fifo(work: Path) -> str:
    _fake_yosys(work, "exit 0")
    folder = _export(work / "v")
    (folder / "difflut_net.v").unlink()
    os.mkfifo(folder / "difflut_net.v")
    with _deadline(20, "synth opened the FIFO"):
        return hostile.expect_cli_refused(
            "difflut", "synth", "--verilog", str(folder / "difflut_net.v")
        )


def _synth_orphan(work: Path) -> str:
    _fake_yosys(work, 'sleep 120 &\necho "$$ $!" > "$CORE_PIDS"\nwait')
    os.environ["CORE_PIDS"] = str(work / "pids")
    source = _export(work / "v") / "difflut_net.v"
    command = [sys.executable, "-m", "core", "difflut", "synth", "--verilog", str(source)]
    synth = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = check_tool_dies_with(synth, work / "pids")
    return f"yosys and its child gone {took:.2f} s after kill -9"


def _synth_timeout(work: Path) -> str:
    _fake_yosys(work, 'sleep 120 &\necho "$$ $!" > "$CORE_PIDS"\nwait')
    os.environ["CORE_PIDS"] = str(work / "pids")
    source = _export(work / "v") / "difflut_net.v"
    start = time.monotonic()
    try:
        with _deadline(30, "synth --timeout 1"):
            result = hostile.expect_cli_refused(
                "difflut", "synth", "--verilog", str(source), "--timeout", "1"
            )
        assert "did not finish within 1 s" in result, result
        pids = _pids(work / "pids", 1)
        assert gone_within(pids, 1.0), f"the tool's child outlived the timeout: {pids}"
    finally:
        for pid in _pids(work / "pids", 0.1) if (work / "pids").is_file() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return f"{result} after {time.monotonic() - start:.1f} s; yosys and its child gone"


def _synth_flood(work: Path) -> str:
    _fake_yosys(work, "head -c 3000000000 /dev/zero | tr '\\0' x >&2\nexit 1")
    source = _export(work / "v") / "difflut_net.v"
    result = hostile.expect_cli_refused("difflut", "synth", "--verilog", str(source))
    assert "yosys failed with exit code 1" in result and len(result) < 1000, result[:200]
    return result[:90] + "…"


def _simulate_dash_folder(work: Path) -> str:
    import numpy as np
    import torch
    from core_difflut.export.integer_inputs import integer_inputs_for
    from core_difflut.export.verilog_sim import simulate_verilog

    _needs("iverilog")
    folder = _export(Path("-Dx"))  # relative: an argument starting with '-' is an option
    before = sorted(p.name for p in folder.iterdir())
    q = np.random.default_rng(0).integers(0, 17, size=(40, 6))
    got = simulate_verilog(folder, q)
    expected = _model().predict(torch.from_numpy(integer_inputs_for("digits").features(q)))
    assert np.array_equal(got, expected.numpy()), "wrong predictions"
    written = sorted(set(p.name for p in folder.iterdir()) - set(before))
    assert not written, f"the simulation wrote into the export: {written}"
    return "iverilog and vvp ran on copies; predictions exact; the export untouched"


def _c_build_dash_folder(work: Path) -> str:
    from core_difflut.export.c import build_c

    _needs("gcc")
    os.environ["CFLAGS"] = "-O0"
    folder = _export(Path("-x b"), "c")
    library = build_c(folder, timeout=120)
    assert library.is_file() and os.access(folder / "difflut_net", os.X_OK)
    return "compiled from an argument list (no shell): libdifflut_net.so and difflut_net built"


CASES = {
    "synth-injection": (
        "tools",
        "`core difflut synth --verilog 'e.v; exec -- touch $X; # a b\"c'\\nd/difflut_net.v'`",
        "exit 0, no command runs",
        _synth_path(INJECTION, injection=True),
    ),
    "synth-space": (
        "tools",
        "`core difflut synth --verilog 'my exports/difflut_net.v'` (a space in the path)",
        "exit 0, LUTs reported",
        _synth_path("my exports", injection=False),
    ),
    "synth-fifo": (
        "tools",
        "`core difflut synth --verilog FIFO` (a named pipe called difflut_net.v)",
        "exit 2, one line, no wait",
        _synth_fifo,
    ),
    "synth-orphan": (
        "tools",
        "`kill -9` of `core difflut synth` while yosys (and a child of it) runs",
        "yosys and its child gone within 1 s",
        _synth_orphan,
    ),
    "synth-timeout-group": (
        "tools",
        "`core difflut synth --timeout 1`, yosys started a child holding its output",
        "exit 2 after ~1 s, the child gone too",
        _synth_timeout,
    ),
    "synth-flood": (
        "tools",
        "yosys writes 3 GB to stderr and fails",
        "exit 2, one bounded line",
        _synth_flood,
    ),
    "simulate-dash-folder": (
        "tools",
        "`simulate_verilog('-Dx', q)`: an export folder named like an iverilog option",
        "exact predictions, nothing written into it",
        _simulate_dash_folder,
    ),
    "c-build-dash-folder": (
        "tools",
        "`build_c('-x b')`: a C export folder named like an option",
        "built, no shell",
        _c_build_dash_folder,
    ),
}
