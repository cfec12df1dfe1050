"""``core pretrained list`` and ``core pretrained info``."""

from __future__ import annotations

import re
from pathlib import Path

import click

from core._messages import clip
from core._store_files import pretrained_files, read_model_card, read_pretrained_yaml
from core.cli._output import echo_json, echo_table
from core.errors import CoreError, PretrainedError
from core.model_card import CARD_NAME, render_stored_card
from core.pretrained import list_pretrained, pretrained_info, store_root

#: control characters a stored card may hold; never sent to the terminal.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@click.group()
def pretrained() -> None:
    """The versioned pretrained store (root: $CORE_HOME)."""


@pretrained.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(as_json: bool) -> None:
    """List pretrained models: the store's versions and plugin-shipped weights."""

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
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON instead.")
def info_cmd(reference: str, as_json: bool) -> None:
    """Show one pretrained model's card (name, type/name or type/name/vN).

    The card is the README.md saved beside the weights; for weights saved without one it is
    rendered from their YAML (a note on stderr says so). --json prints the metadata, with the
    card's path under "card" (null when there is none).
    """

    info = pretrained_info(reference)
    if as_json:
        card = info.path / CARD_NAME
        echo_json({**info.to_dict(), "card": str(card) if card.is_file() else None})
        return
    if info.error:
        raise PretrainedError(f"pretrained model {info.reference} is broken: {info.error}")
    click.echo(_UNPRINTABLE.sub("", _card_text(info.path)), nl=False)


def _card_text(directory: Path) -> str:
    """The stored card, else one rendered from the YAML (saying why on stderr)."""

    try:
        card = read_model_card(directory)
        if card is not None:
            return card
        click.echo(f"no model card in {directory}; rendered from its YAML", err=True)
    except CoreError as exc:
        click.echo(
            f"the model card cannot be read ({clip(str(exc), 200)}); rendered from its YAML",
            err=True,
        )
    yaml_path = pretrained_files(directory)[0]
    return render_stored_card(read_pretrained_yaml(yaml_path), yaml_path.stem)
