"""LUT counts and logic depth of the exported Verilog, from yosys.

yosys maps the design to generic 6-input LUTs (``synth -lut 6``: ABC's LUT mapper, no
carry chains or vendor primitives), so a count is the number of LUT6 an FPGA needs without
its carry logic. The hierarchy is kept, so the encoder, the LUT network and the
popcount/argmax are mapped as separate modules and counted apart; the depth is the longest
chain of LUTs (``ltp -noff``: registers end a path). Xilinx ``LUT6`` instances are kept as
black boxes through synthesis and counted as one LUT each (``core difflut synth`` exports
that style, so the 4,000-node network takes seconds). ``flat=True`` also synthesizes the
whole design flattened from scratch, re-mapping every node, as a cross-check of the split.

``xilinx=True`` adds a second count: yosys' ``synth_xilinx -family xc7`` maps the same
hierarchy to Xilinx 7-series primitives (LUT1..LUT6, ``CARRY4`` carry chains, ``MUXF7``/
``MUXF8`` wide multiplexers, ``FD*`` flip-flops; no I/O or clock buffers: out of context),
counted per part (``XILINX_COUNTS``). It is yosys' mapping, not Vivado's.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from core.errors import ConfigError
from core.tools import find_tool, run_tool, stage_input, tool_workdir
from core_difflut.export.verilog import MANIFEST, PARTS, TOP, check_verilog
from core_difflut.export.verilog_sim import read_manifest

__all__ = [
    "SynthReport",
    "synthesize",
    "synthesize_model",
    "require_yosys",
    "format_report",
    "xilinx_counts",
    "XILINX_COUNTS",
]

_LUT6_BLACKBOX = """(* blackbox *)
module LUT6 #(parameter [63:0] INIT = 64'h0) (output O, input I0, I1, I2, I3, I4, I5);
endmodule
"""
_LUT6_TO_LUT = """(* techmap_celltype = "LUT6" *)
module _difflut_lut6_to_lut (O, I0, I1, I2, I3, I4, I5);
    parameter [63:0] INIT = 64'h0;
    output O;
    input I0, I1, I2, I3, I4, I5;
    \\$lut #(.WIDTH(6), .LUT(INIT)) _TECHMAP_REPLACE_ (.A({I5, I4, I3, I2, I1, I0}), .Y(O));
endmodule
"""
#: the name of the design in yosys' work folder: scripts name this, never the user's path.
_INPUT = "input.v"
#: what the Xilinx count reports per part: LUT1..LUT6, CARRY4, MUXF7 + MUXF8, flip-flops
XILINX_COUNTS = ("luts", "carry4", "muxf", "flip_flops")
_XILINX_SYNTH = f"synth_xilinx -family xc7 -top {TOP} -noiopad -noclkbuf"
_DEPTH = re.compile(r"Longest topological path in \\?(\S+) \(length=(\d+)\)")


@dataclass
class SynthReport:
    """LUTs and depth (LUT levels) per part and in total; ``flat_*`` from the cross-check;
    ``xilinx``: part (and "total", "total_without_encoder") -> ``XILINX_COUNTS`` -> count;
    ``popcount``: the popcount form its manifest records (None without one)."""

    luts: dict[str, int]
    depth: dict[str, int]
    flip_flops: int
    seconds: float
    script: str
    flat_luts: int | None = None
    flat_depth: int | None = None
    flat_seconds: float | None = None
    yosys: str = ""
    xilinx: dict[str, dict[str, int]] | None = None
    xilinx_seconds: float | None = None
    xilinx_script: str = ""
    popcount: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_yosys() -> str:
    """Path of yosys, or a one-line ``ToolError``."""
    return find_tool("yosys", "apt-get install yosys")


def _run_yosys(script: str, workdir: Path, timeout: float) -> None:
    """Run ``script`` in ``workdir`` (core.tools: no shell, killed with core or on timeout)."""
    atomic_write_text(workdir / "run.ys", script)
    run_tool(
        [require_yosys(), "-q", "-l", "yosys.log", "-s", "run.ys"],
        cwd=workdir,
        timeout=timeout,
        name="yosys",
        timeout_hint="raise --timeout",
    )


def _luts(cells: dict[str, int]) -> int:
    """Generic LUTs and LUT6 black boxes."""
    return int(cells.get("$lut", 0)) + int(cells.get("LUT6", 0))


def _flip_flops(cells: dict[str, int]) -> int:
    return sum(int(v) for k, v in cells.items() if "DFF" in k.upper())


def _xilinx_cells(cells: dict[str, int]) -> dict[str, int]:
    """``XILINX_COUNTS`` of one ``num_cells_by_type`` (flip-flops: FDRE, FDSE, FDCE, FDPE)."""
    return {
        "luts": sum(int(cells.get(f"LUT{k}", 0)) for k in range(1, 7)),
        "carry4": int(cells.get("CARRY4", 0)),
        "muxf": int(cells.get("MUXF7", 0)) + int(cells.get("MUXF8", 0)),
        "flip_flops": sum(int(v) for k, v in cells.items() if k.startswith("FD")),
    }


def _cells(work: Path, parts: str, total: str) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Cells by type per module (``stat -json`` of the hierarchy) and of the flattened top."""
    modules = json.loads((work / parts).read_text())["modules"]
    cells = {name.lstrip("\\"): data["num_cells_by_type"] for name, data in modules.items()}
    return cells, json.loads((work / total).read_text())["design"]["num_cells_by_type"]


def xilinx_counts(work: Path) -> dict[str, dict[str, int]]:
    """The Xilinx count from ``xilinx_parts.json`` and ``xilinx_total.json`` in ``work``."""
    cells, total = _cells(work, "xilinx_parts.json", "xilinx_total.json")
    counts = {part: _xilinx_cells(cells.get(module, {})) for module, part in PARTS}
    counts["total"] = _xilinx_cells(total)
    counts["total_without_encoder"] = {
        key: counts["total"][key] - counts["encoder"][key] for key in XILINX_COUNTS
    }
    return counts


def _depths(path: Path) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in _DEPTH.finditer(path.read_text())}


def _defines(text: str, module: str) -> bool:
    return re.search(rf"^\s*module\s+{module}\b", text, re.MULTILINE) is not None


def _read_design(source: Path, text: str, blackbox: bool = True) -> str:
    """yosys commands that read the design (staged as ``input.v``), LUT6 a black box
    (``blackbox=False``: synth_xilinx brings its own LUT6)."""
    if _defines(text, "LUT6"):
        raise ConfigError(
            f"{source} defines module LUT6 (a simulation model): synthesize the design alone"
        )
    lut6 = "read_verilog -lib lut6_blackbox.v\n" if blackbox else ""
    return f"{lut6}read_verilog {_INPUT}\n"


def _popcount_form(source: Path) -> str | None:
    """The popcount form the manifest beside ``source`` records (older exports: compressor)."""
    if not (source.parent / MANIFEST).is_file():
        return None
    manifest = read_manifest(source.parent)  # check_verilog has read it first
    return manifest.get("popcount", "compressor") if manifest["sources"][0] == source.name else None


def synthesize(
    source: Path, *, timeout: float = 600, flat: bool = False, xilinx: bool = False
) -> SynthReport:
    """Synthesize ``difflut_net.v`` with yosys and count LUTs per part (see module doc);
    ``xilinx``: the Xilinx count too.

    yosys reads a copy of ``source`` in its work folder, so no character of its path reaches
    the yosys script. A ``source`` that its manifest beside it does not describe (a torn,
    mixed or edited export) is refused first (``check_verilog``).
    """
    with tool_workdir() as work:
        stage_input(source, work, _INPUT)
        check_verilog(source, work / _INPUT)  # the copy yosys reads matches the manifest
        version = run_tool([require_yosys(), "-V"], timeout=60, name="yosys").stdout.strip()
        atomic_write_text(work / "lut6_blackbox.v", _LUT6_BLACKBOX)
        atomic_write_text(work / "lut6_to_lut.v", _LUT6_TO_LUT)
        text = (work / _INPUT).read_text(errors="replace")
        parts = [module for module, _ in PARTS if _defines(text, module)]
        script = (
            _read_design(source, text)
            + f"hierarchy -check -top {TOP}\n"
            + f"synth -top {TOP} -lut 6\n"
            + "tee -q -o parts.json stat -json\n"
            + "".join(f"tee -q -a depth.txt ltp -noff {m}\n" for m in parts)
            + "flatten\nopt_clean\n"
            + "tee -q -o total.json stat -json\n"
            + "tee -q -a depth.txt ltp -noff\n"
        )
        start = time.perf_counter()
        _run_yosys(script, work, timeout)
        seconds = time.perf_counter() - start
        report = _report(work, seconds, script, version)
        report.popcount = _popcount_form(source)
        if xilinx:
            report.xilinx_script = (
                _read_design(source, text, blackbox=False)
                + f"{_XILINX_SYNTH}\n"
                + "tee -q -o xilinx_parts.json stat -json\n"
                + "flatten\nopt_clean\n"
                + "tee -q -o xilinx_total.json stat -json\n"
            )
            start = time.perf_counter()
            _run_yosys(report.xilinx_script, work, timeout)
            report.xilinx_seconds = round(time.perf_counter() - start, 2)
            report.xilinx = xilinx_counts(work)
        if flat:
            flat_script = (
                _read_design(source, text)
                + f"hierarchy -check -top {TOP}\ntechmap -map lut6_to_lut.v\n"
                + f"synth -flatten -top {TOP} -lut 6\n"
                + "tee -q -o flat.json stat -json\ntee -q -o flat_depth.txt ltp -noff\n"
            )
            start = time.perf_counter()
            _run_yosys(flat_script, work, timeout)
            report.flat_seconds = time.perf_counter() - start
            cells = json.loads((work / "flat.json").read_text())["design"]["num_cells_by_type"]
            report.flat_luts = _luts(cells)
            report.flat_depth = _depths(work / "flat_depth.txt").get(TOP, 0)
    return report


def synthesize_model(
    model: Any,
    options: Any = None,
    *,
    timeout: float = 600,
    flat: bool = False,
    xilinx: bool = False,
) -> SynthReport:
    """Export ``model``'s Verilog to a temporary directory and :func:`synthesize` it.

    ``options``: ``VerilogOptions`` (default: the model's integer inputs, Xilinx LUT6 nodes).
    """
    from core_difflut.export import export_model, verilog_options

    require_yosys()
    options = options or verilog_options(model, lut_style="xilinx")
    with tool_workdir() as tmp:
        export_model(model, tmp / "export", "verilog", verilog=options)
        source = tmp / "export" / "difflut_net.v"
        return synthesize(source, timeout=timeout, flat=flat, xilinx=xilinx)


def _report(work: Path, seconds: float, script: str, version: str) -> SynthReport:
    cells, total = _cells(work, "parts.json", "total.json")
    depths = _depths(work / "depth.txt")
    luts = {part: _luts(cells.get(module, {})) for module, part in PARTS}
    depth = {part: depths.get(module, 0) for module, part in PARTS}
    luts["total"] = _luts(total)
    depth["total"] = depths.get(TOP, 0)
    return SynthReport(luts, depth, _flip_flops(total), round(seconds, 2), script, yosys=version)


def format_report(report: SynthReport) -> str:
    """A small table: generic LUTs and depth per part, and the Xilinx count beside them."""
    xilinx = report.xilinx
    head = ("part", "LUTs", "depth")
    if xilinx:
        head += ("xc7 LUTs", "CARRY4", "MUXF7/8", "FFs")
    rows = [head]
    for part in ("encoder", "network", "popcount", "total", "total_without_encoder"):
        label = {"popcount": "popcount/argmax", "total_without_encoder": "total w/o encoder"}
        if part == "total_without_encoder":
            row = (f"{report.luts['total'] - report.luts['encoder']:,}", "")
        else:
            row = (f"{report.luts[part]:,}", str(report.depth[part]))
        if xilinx:
            row += tuple(f"{xilinx[part][key]:,}" for key in XILINX_COUNTS)
        rows.append((label.get(part, part), *row))
    lines = [f"{r[0]:<18}" + "".join(f"{c:>10}" for c in r[1:]) for r in rows]
    lines.append("LUTs, depth: yosys synth -lut 6 (generic LUT6); depth in LUT levels")
    if xilinx:
        lines.append("xc7: yosys synth_xilinx -family xc7 (LUT1-6; out of context, not Vivado)")
    if report.flip_flops:
        lines.append(f"flip-flops: {report.flip_flops:,}")
    if report.popcount:
        lines.append(f"popcount form: {report.popcount}")
    seconds = f"{report.seconds:.1f} s"
    if report.xilinx_seconds is not None:
        seconds += f" + {report.xilinx_seconds:.1f} s (xc7)"
    lines.append(f"yosys: {seconds} ({report.yosys})")
    if report.flat_luts is not None:
        lines.append(
            f"flattened re-synthesis: {report.flat_luts:,} LUTs, depth {report.flat_depth} "
            f"({report.flat_luts - report.luts['total']:+,} against the split; "
            f"{report.flat_seconds:.1f} s)"
        )
    return "\n".join(lines)
