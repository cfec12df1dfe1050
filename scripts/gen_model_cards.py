"""Regenerate the model cards (README.md) of the pretrained entries shipped in this repository.

Each card is rendered by ``core.model_card`` from the entry's stored YAML, exactly as
``save_pretrained`` renders it; a provider the YAML does not record is looked up in the
registry, without a version. Entries are the registered pretrained entries inside this
repository (core's and its plugins'); the user's store is not read.

    .venv/bin/python scripts/gen_model_cards.py           # rewrite every shipped card
    .venv/bin/python scripts/gen_model_cards.py --check   # exit 1 (with a diff) if one is stale
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

from core._store_files import pretrained_files, read_pretrained_yaml
from core.model_card import CARD_NAME, render_stored_card, write_model_card
from core.pretrained import list_pretrained

REPO = Path(__file__).resolve().parents[1]


def shipped_directories() -> list[Path]:
    """The directories of the pretrained entries that plugins (core included) ship from here."""
    with tempfile.TemporaryDirectory() as empty_store:
        infos = list_pretrained(root=empty_store)
    found = []
    for info in infos:
        path = info.path.resolve()
        if info.source != "store" and path.is_relative_to(REPO):
            found.append(path)
    return sorted(found)


def card_for(directory: Path) -> str:
    yaml_path = pretrained_files(directory)[0]
    return render_stored_card(read_pretrained_yaml(yaml_path), yaml_path.stem)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale cards")
    args = parser.parse_args()
    directories = shipped_directories()
    if not directories:
        print("no shipped pretrained entries found (are the plugins installed?)", file=sys.stderr)
        return 1
    stale = 0
    for directory in directories:
        card, path = card_for(directory), directory / CARD_NAME
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        relative = path.relative_to(REPO)
        if current == card:
            print(f"current {relative}")
            continue
        if args.check:
            stale += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    card.splitlines(keepends=True),
                    f"{relative} (stored)",
                    f"{relative} (generated)",
                )
            )
        else:
            write_model_card(directory, card)
            print(f"wrote {relative}")
    if stale:
        print(f"{stale} stale card(s): run scripts/gen_model_cards.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
