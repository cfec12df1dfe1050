"""``core difflut ...`` commands (torch is imported inside the commands)."""

from __future__ import annotations

import click

__all__ = ["difflut"]


@click.group()
def difflut() -> None:
    """DiffLUT networks: export to Verilog, C and NumPy."""


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
def export_cmd(model: str, fmt: str, output: str, build: bool) -> None:
    """Export MODEL (a pretrained name, type/name/vN or a saved directory) in evaluation mode."""
    from core_difflut.api import build_model
    from core_difflut.export import export_model

    net = build_model(model).eval()
    files = export_model(net, output, fmt, build=build)
    for path in files:
        click.echo(str(path))
