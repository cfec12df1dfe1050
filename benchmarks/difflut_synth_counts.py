"""LUT counts of the shipped DiffLUT models: every popcount form, yosys' generic and Xilinx counts.

    .venv/bin/python benchmarks/difflut_synth_counts.py [--models digits-dwn,mnist5k-dwn]

Each model is exported as ``core difflut synth`` exports it (integer inputs scaled as its
dataset, Xilinx LUT6 nodes, combinational) once per ``--popcount`` form (gpc, compressor,
adder) and synthesized twice by yosys: ``synth -lut 6`` (generic 6-input LUTs, with logic depth in
LUT levels) and ``synth_xilinx -family xc7`` (LUT1..LUT6, CARRY4, MUXF7 + MUXF8,
flip-flops; out of context, yosys' mapping, not Vivado's), per part (encoder, network,
popcount/argmax) and in total with and without the encoder. The same as
``core difflut synth MODEL --popcount FORM --json``. Results go to
benchmarks/results/difflut_synth_counts.json.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from _common import save_record, start_record
from _common.markdown import Col, Section, integer

PARTS = ("encoder", "network", "popcount", "total", "total_without_encoder")
_LABELS = {"popcount": "popcount/argmax", "total_without_encoder": "total w/o encoder"}


def _row(model: str, form: str, report: Any) -> dict[str, Any]:
    luts = dict(report.luts)
    luts["total_without_encoder"] = luts["total"] - luts["encoder"]
    return {
        "model": model,
        "popcount": form,
        "generic_luts": luts,
        "depth": report.depth,
        "xilinx": report.xilinx,
        "generic_s": report.seconds,
        "xilinx_s": report.xilinx_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="digits-dwn,mnist5k-dwn")
    args = parser.parse_args()
    from core_difflut.api import build_model
    from core_difflut.export import verilog_options
    from core_difflut.export.popcount import POPCOUNT_FORMS
    from core_difflut.export.synth import synthesize_model

    record = start_record("difflut_synth_counts", rows=[])
    for name in args.models.split(","):
        model = build_model(name).eval()
        for form in POPCOUNT_FORMS:
            options = replace(verilog_options(model, lut_style="xilinx"), popcount=form)
            report = synthesize_model(model, options, xilinx=True)
            record["yosys"] = report.yosys
            row = _row(name, form, report)
            record["rows"].append(row)
            total = row["xilinx"]["total"]
            print(
                f"{name:<12} {form:<10} generic {row['generic_luts']['total']:>5} LUTs "
                f"depth {row['depth']['total']:>2} | xc7 {total['luts']:>5} LUTs "
                f"{total['carry4']:>4} CARRY4 {total['muxf']:>4} MUXF "
                f"({report.seconds:.0f} s + {report.xilinx_seconds:.0f} s)"
            )
    print(save_record("difflut_synth_counts", record))


def render(record: dict[str, Any], name: str = "difflut_synth_counts") -> Section:
    """Generic and Xilinx counts per model, popcount form and part."""
    s = Section.of(record, name, __doc__)
    s.add(
        f"{record.get('yosys', 'yosys')}: generic = `synth -lut 6` (LUT6, depth in LUT levels); "
        "xc7 = `synth_xilinx -family xc7` out of context (yosys' mapping, not Vivado's). "
        "Combinational, integer inputs, Xilinx LUT6 nodes."
    )
    rows = [
        {
            "model": row["model"],
            "popcount": row["popcount"],
            "part": _LABELS.get(part, part),
            "generic": row["generic_luts"][part],
            "depth": row["depth"].get(part),
            **{f"xc7_{k}": v for k, v in row["xilinx"][part].items()},
        }
        for row in record["rows"]
        for part in PARTS
    ]
    s.table(
        [
            Col("model", "model"),
            Col("popcount", "popcount"),
            Col("part", "part"),
            Col("generic LUTs", "generic", integer),
            Col("depth", "depth", integer),
            Col("xc7 LUTs", "xc7_luts", integer),
            Col("CARRY4", "xc7_carry4", integer),
            Col("MUXF7/8", "xc7_muxf", integer),
            Col("FFs", "xc7_flip_flops", integer),
        ],
        rows,
    )
    return s


if __name__ == "__main__":
    main()
