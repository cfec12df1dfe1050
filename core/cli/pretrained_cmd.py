"""``core pretrained list`` and ``core pretrained info``."""

from __future__ import annotations

import click

from core._messages import clip
from core.cli._output import echo_json, echo_table


@click.group()
def pretrained() -> None:
    """The versioned pretrained store (root: $CORE_HOME)."""


@pretrained.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(as_json: bool) -> None:
    """List pretrained models: the store's versions and plugin-shipped weights."""
    from core.pretrained import list_pretrained, store_root

    infos = list_pretrained()
    if as_json:
        echo_json([i.to_dict() for i in infos])
        return
    if not infos:
        click.echo(f"no pretrained models (store: {store_root()})")
        return
    echo_table(
        ("REFERENCE", "SOURCE", "STATUS", "PARAMETERS", "DESCRIPTION"),
        [
            (
                i.reference,
                i.source,
                i.status,
                i.meta.get("parameters", "-"),
                clip(i.error, 80) if i.error else i.description,
            )
            for i in infos
        ],
    )


@pretrained.command("info")
@click.argument("reference")
def info_cmd(reference: str) -> None:
    """Show one pretrained model's metadata (name, type/name or type/name/vN)."""
    from core.pretrained import pretrained_info

    echo_json(pretrained_info(reference).to_dict())
