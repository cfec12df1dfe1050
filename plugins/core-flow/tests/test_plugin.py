"""The plugin is installed, discovered by core and lists its components."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import core
from core.hookspecs import KIND_HOOKS
from core.testing import check_writes_through_atomic

DIST = "core-flow"
NAME = "flow"
PACKAGE = Path(__file__).resolve().parents[1] / "core_flow"
COMPONENTS = {
    "model": [NAME],
    "sampler": ["flow-euler", "flow-heun", "flow-midpoint"],
}


def test_listed_by_core_plugins_list() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core", "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    records = {r["distribution"]: r for r in json.loads(result.stdout)["plugins"]}
    assert DIST in records, f"{DIST} is not listed; is it installed (pip install -e .)?"
    record = records[DIST]
    assert record["status"] == "loaded", record["error"]
    assert record["version"] == "0.1.0"
    assert set(record["hooks"]) == {KIND_HOOKS[kind] for kind in COMPONENTS}
    assert record["components"] == {kind: len(names) for kind, names in COMPONENTS.items()}


def test_components_are_registered() -> None:
    for kind, names in COMPONENTS.items():
        listed = core.list_components(kind)
        for name in names:
            assert name in listed, f"{kind} '{name}' is missing from {listed}"


def test_listing_does_not_import_torch() -> None:
    code = (
        "import sys, core; core.get_manager(); "
        "assert 'torch' not in sys.modules, 'plugin.py or configs.py imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_file_is_written_through_core_atomic() -> None:
    """Write files with core.atomic (atomic_write_bytes/text, atomic_path, atomic_directory)."""
    check_writes_through_atomic(PACKAGE)
