"""``core difflut ...`` commands (torch is imported inside the commands)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from core_difflut.export.popcount import POPCOUNT_FORMS

__all__ = ["difflut"]


@click.group()
def difflut() -> None:
    """DiffLUT networks: export to Verilog, C and NumPy; synthesize the Verilog; convert
    upstream DiffLUT checkpoints."""


def _verilog_options(lut_style: str) -> Callable[..., Any]:
    """The options that shape the exported Verilog (shared by export and synth)."""
    options = [
        click.option(
            "--inputs",
            type=click.Choice(["integer", "bits"]),
            default="integer",
            show_default=True,
            help="Verilog inputs: integer features (the encoder is built in) or pre-encoded bits.",
        ),
        click.option(
            "--input-bits",
            type=click.IntRange(1, 24),
            default=None,
            help="Width of each integer feature (default: the model's dataset; digits 5, mnist-5k 8).",
        ),
        click.option(
            "--input-scale",
            type=float,
            default=None,
            help="The float model sees q / scale (default: the dataset's; digits 16, mnist-5k 255).",
        ),
        click.option(
            "--lut-style",
            type=click.Choice(["generic", "xilinx"]),
            default=lut_style,
            show_default=True,
            help="Each node as a case statement or as a Xilinx LUT6 primitive.",
        ),
        click.option("--pipeline", is_flag=True, help="A register after each LUT layer."),
        click.option(
            "--popcount",
            type=click.Choice(POPCOUNT_FORMS),
            default=POPCOUNT_FORMS[0],
            show_default=True,
            help="gpc: counter trees and a tournament argmax written LUT by LUT (fewest LUTs); "
            "compressor: counters as sums for the tool to map (the previous default); adder: one "
            "plain sum per class (carry chains on a vendor mapping).",
        ),
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _options(
    net: Any,
    inputs: str,
    bits: int | None,
    scale: float | None,
    style: str,
    pipe: bool,
    popcount: str,
):
    from core_difflut.export import verilog_options

    options = verilog_options(
        net,
        inputs=inputs,
        input_bits=bits,
        input_scale=scale,
        lut_style=style,
        pipeline=pipe,
    )
    return replace(options, popcount=popcount)


@difflut.command("export")
@click.argument("model")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["verilog", "c", "numpy"]),
    required=True,
    help="Export format.",
)
@click.option("-o", "--output", "output", required=True, type=click.Path(), help="Output dir.")
@click.option("--build/--no-build", default=False, help="For C: also compile it with gcc.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty output directory.")
@_verilog_options(lut_style="generic")
def export_cmd(
    model: str,
    fmt: str,
    output: str,
    build: bool,
    overwrite: bool,
    inputs: str,
    input_bits: int | None,
    input_scale: float | None,
    lut_style: str,
    pipeline: bool,
    popcount: str,
) -> None:
    """Export MODEL (a pretrained name, type/name/vN or a saved directory) in evaluation mode.

    The output directory is written as one unit: staged beside it, then swapped in whole.
    """
    from core_difflut.export import export_model

    net = _load(model)
    verilog = None
    if fmt == "verilog":
        verilog = _options(net, inputs, input_bits, input_scale, lut_style, pipeline, popcount)
    files = export_model(net, output, fmt, build=build, verilog=verilog, overwrite=overwrite)
    for path in files:
        click.echo(str(path))


@difflut.command("synth")
@click.argument("model", required=False)
@click.option(
    "--verilog",
    "verilog_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Synthesize this exported difflut_net.v instead of exporting MODEL.",
)
@_verilog_options(lut_style="xilinx")
@click.option("--flat", is_flag=True, help="Also re-synthesize the whole design flattened.")
@click.option(
    "--xilinx/--no-xilinx",
    default=True,
    show_default=True,
    help="Also count with yosys' synth_xilinx -family xc7 (LUT1-6, CARRY4, MUXF7/8, FFs).",
)
@click.option(
    "--timeout", type=float, default=600, show_default=True, help="Seconds per yosys run."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def synth_cmd(
    model: str | None,
    verilog_file: str | None,
    inputs: str,
    input_bits: int | None,
    input_scale: float | None,
    lut_style: str,
    pipeline: bool,
    popcount: str,
    flat: bool,
    xilinx: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """LUTs (encoder, network, popcount/argmax) and logic depth of MODEL's Verilog, by yosys.

    Two counts: yosys' generic 6-input LUT mapping (synth -lut 6, with logic depth) and,
    unless --no-xilinx, its Xilinx 7-series mapping (synth_xilinx: LUTs, CARRY4, MUXF7/8 and
    flip-flops), each per part and in total with and without the encoder. MODEL is exported
    to a temporary directory (by default with Xilinx LUT6 primitives, counted as one LUT
    each; --lut-style generic has yosys map every node) unless --verilog names a file, whose
    shape (--popcount included) was fixed when it was exported.
    """
    from core.errors import ConfigError
    from core_difflut.export.synth import (
        format_report,
        require_yosys,
        synthesize,
        synthesize_model,
    )

    require_yosys()
    if (model is None) == (verilog_file is None):
        raise ConfigError("core difflut synth: give MODEL or --verilog FILE (one of them)")
    if verilog_file:
        report = synthesize(Path(verilog_file), timeout=timeout, flat=flat, xilinx=xilinx)
    else:
        net = _load(model)
        options = _options(net, inputs, input_bits, input_scale, lut_style, pipeline, popcount)
        report = synthesize_model(net, options, timeout=timeout, flat=flat, xilinx=xilinx)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=1))
    else:
        click.echo(format_report(report))


@difflut.command("convert")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="Output directory.")
@click.option(
    "--config",
    "upstream_config",
    type=click.Path(exists=True, dir_okay=False),
    help="Upstream's model YAML (node_type, num_classes, encoder_config, runtime.output_tau).",
)
@click.option("--num-classes", type=click.IntRange(1), default=None, help="GroupSum groups.")
@click.option("--node-type", default=None, help="Expected node type (checked, e.g. dwn_stable).")
@click.option("--encoder", default=None, help="Thermometer encoder name (default thermometer).")
@click.option("--tau", type=float, default=None, help="GroupSum tau (default: checkpoint's).")
@click.option("--dataset", default=None, help="Dataset name to record (digits, mnist-5k, ...).")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty output directory.")
def convert_cmd(
    checkpoint: str,
    output: str,
    upstream_config: str | None,
    num_classes: int | None,
    node_type: str | None,
    encoder: str | None,
    tau: float | None,
    dataset: str | None,
    overwrite: bool,
) -> None:
    """Convert an upstream DiffLUT (aplesner/difflut) feedforward CHECKPOINT into a model
    directory (YAML + safetensors) that build_model and the exports load.

    The checkpoint is read with torch.load(weights_only=True): no pickled code runs.
    """
    from core_difflut.convert import convert_checkpoint

    path = convert_checkpoint(
        checkpoint,
        output,
        config=upstream_config,
        num_classes=num_classes,
        node_type=node_type,
        encoder=encoder,
        tau=tau,
        dataset=dataset,
        overwrite=overwrite,
    )
    click.echo(str(path))


def _load(model: str) -> Any:
    from core_difflut.api import build_model

    return build_model(model).eval()
