"""Regenerate core/_provider_index.json: which first-party distribution provides each name.

The index is read from the plugins' own registrations (each ``plugins/*`` distribution's
entry point, loaded into an isolated manager), so unknown-name errors can say what to
install without a hand-kept table.

    .venv/bin/python scripts/gen_provider_index.py           # rewrite the index
    .venv/bin/python scripts/gen_provider_index.py --check   # exit 1 if it is stale
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from _generated import write_or_check  # noqa: E402

from core.plugins import PluginManager  # noqa: E402
from core.providers import INDEX_PATH  # noqa: E402


def build_index() -> dict[str, dict[str, str]]:
    """kind -> name or alias -> distribution, for every first-party plugin."""
    manager = PluginManager(autoload=False, builtins=False, strict=True)
    for pyproject in sorted(REPO.glob("plugins/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        for name, value in project.get("entry-points", {}).get("core", {}).items():
            module = importlib.import_module(value.partition(":")[0])
            manager.add_plugin(module, name=name, distribution=project["name"])
    index: dict[str, dict[str, str]] = {}
    for entry in manager.registry.entries():
        for label in (entry.name, *entry.aliases):
            index.setdefault(entry.kind, {})[label] = str(entry.distribution)
    return {kind: dict(sorted(names.items())) for kind, names in sorted(index.items())}


def render() -> str:
    return json.dumps(build_index(), indent=1, sort_keys=True) + "\n"


def main() -> int:
    return write_or_check(INDEX_PATH, render, __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
