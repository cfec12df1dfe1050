"""``core export``: a model written into a folder in another format (an ``exporter``).

The help and the format lookup are torch-free; the model is loaded only after the format,
its options and the output folder have been checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from core.atomic import atomic_directory, check_target
from core.cli._options import RAW, key_values
from core.errors import ConfigError, RegistryError
from core.plugins import get_manager
from core.training.run_directory import holding_run

__all__ = ["export", "formats"]

_KIND = "exporter"


def formats() -> list[tuple[str, str]]:
    """``(name, description)`` of every registered export format (nothing imported)."""
    entries = get_manager().registry.entries(_KIND)
    return sorted((entry.name, entry.description or "") for entry in entries)


class _ExportCommand(click.Command):
    """``core export --help`` ends with the registered formats."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Formats"):
            formatter.write_dl(formats() or [("(none)", "no exporter is registered")])
        super().format_epilog(ctx, formatter)


@click.command(cls=_ExportCommand)
@click.argument("source")
@click.option(
    "--format",
    "-f",
    "format_name",
    required=True,
    metavar="NAME",
    help="Export format (listed below).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="Folder to write (an existing non-empty one is refused without --overwrite).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Format option (repeatable), e.g. check=false; `core info NAME --kind exporter`.",
)
@RAW
def export(
    source: str,
    format_name: str,
    output: str,
    overwrite: bool,
    options: tuple[str, ...],
    raw: bool,
) -> None:
    """Write SOURCE (a run directory, checkpoint, final/ or store name) in another format.

    The output folder is written as one unit: it appears complete or not at all. A model the
    format cannot express is refused in one line naming what has no equivalent there.
    """
    exporter = _exporter(format_name, options)
    replace = _check_output(output, overwrite)
    exporter.check_ready()
    from core.loading import load_located, locate  # lazy: keeps torch out of core export --help

    click.get_current_context().with_resource(holding_run(source, shared=True, what="core export"))
    found = locate(source, raw=raw)
    exporter.check_model_type(str(found.model.get("type")), source)
    model = load_located(found).eval()
    with atomic_directory(output, overwrite=replace) as staging:
        summary = exporter.export(model, staging, source=source, weights=found.label)
    click.echo(f"wrote {output} ({format_name}: {summary}) from {found.label} of {source}")


def _exporter(name: str, options: tuple[str, ...]) -> Any:
    """The exporter ``name`` built with ``options``; an unknown one lists the formats."""
    from core.building import build  # lazy: keeps pydantic out of core --help

    try:
        entry = get_manager().registry.get(_KIND, name)
    except RegistryError:
        known = ", ".join(n for n, _ in formats()) or "none"
        raise ConfigError(
            f"--format {name}: unknown export format; registered formats: {known}"
        ) from None
    section = {"type": entry.name, **key_values(options, "--option", "check=false")}
    return build(_KIND, section, where="--option")


def _check_output(output: str, overwrite: bool) -> bool:
    """Refuse an output that exists and is not an empty folder (unless ``overwrite``) before
    anything is loaded; whether the write replaces a folder."""
    target = check_target(output, directory=True)
    if not os.path.lexists(target):
        return False
    if overwrite or not any(Path(target).iterdir()):
        return True
    raise ConfigError(f"-o {output}: the folder exists and is not empty; give --overwrite")
