"""core's fast entry-point scan agrees with importlib.metadata."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points as importlib_entry_points

import pytest

from core import _entry_points
from core._entry_points import PluginEntryPoint, entry_points


def _importlib_view(group: str) -> list[tuple[str, str, str | None, str | None]]:
    return sorted(
        (ep.name, ep.value, ep.dist.name, ep.dist.version)
        for ep in importlib_entry_points(group=group)
    )


def _fast_view(group: str) -> list[tuple[str, str, str | None, str | None]]:
    return sorted((ep.name, ep.value, ep.dist, ep.version) for ep in entry_points(group))


@pytest.mark.parametrize("group", ["core", "console_scripts", "pytest11"])
def test_matches_importlib_metadata_on_the_installed_environment(group):
    assert _fast_view(group) == _importlib_view(group)
    if group == "core":
        assert {"gan", "diffusion", "difflut"} <= {ep.name for ep in entry_points(group)}


def test_first_distribution_on_the_path_wins(tmp_path, monkeypatch):
    for site, target in (("first", "json:dumps"), ("second", "json:loads")):
        info = tmp_path / site / "core_dup-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: core-dup\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"# comment\n[core]\ndup = {target}\n[other]\nx=y\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "first"), str(tmp_path / "second")])
    assert (
        _fast_view("core") == _importlib_view("core") == [("dup", "json:dumps", "core-dup", "1.0")]
    )


def test_load_resolves_module_attribute_and_extras():
    import json

    assert PluginEntryPoint("a", "json:dumps").load() is json.dumps
    assert PluginEntryPoint("b", "json").load() is json
    assert PluginEntryPoint("c", "os.path:join [extra]").load().__name__ == "join"


def test_zip_on_the_path_falls_back_to_importlib(tmp_path, monkeypatch):
    archive = tmp_path / "lib.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip archive
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    called = []
    monkeypatch.setattr(_entry_points, "_scan", lambda group: called.append(group) or [])
    assert _fast_view("core") == _importlib_view("core")
    assert called == []
