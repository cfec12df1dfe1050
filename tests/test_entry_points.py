"""core's fast entry-point scan agrees with importlib.metadata (layouts: test_entry_point_layouts)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points as importlib_entry_points

import pytest

from core import _entry_points
from core._entry_points import PluginEntryPoint, _core_specifier, entry_points

GROUP = "core_entry_points_test"


def _importlib_view(group: str) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (ep.name, ep.value, ep.dist.name, ep.dist.version)
        for ep in importlib_entry_points(group=group)
    ]


def _fast_view(group: str) -> list[tuple[str, str, str | None, str | None]]:
    return [(ep.name, ep.value, ep.dist, ep.version) for ep in entry_points(group)]


def _write_dist(site, name: str, requires: list[str], *, entry: str = "json:dumps") -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    headers = "".join(f"Requires-Dist: {line}\n" for line in requires)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n{headers}\n"
        "Requires-Dist: core>=99 (in the description body, not a header)\n"
    )
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{name} = {entry}\n")


@pytest.mark.parametrize("group", ["core", "console_scripts", "pytest11"])
def test_matches_importlib_metadata_on_the_installed_environment(group):
    assert _fast_view(group) == _importlib_view(group)  # same order too
    scanned, fallback = _entry_points._scan(group), _entry_points._from_importlib(group)
    assert scanned == fallback  # requires_core included
    if group == "core":
        assert {"gan", "diffusion", "difflut"} <= {ep.name for ep in scanned}


def test_first_party_plugins_declare_their_core_range():
    ranges = {ep.dist: ep.requires_core for ep in entry_points("core")}
    assert ranges["core-gan"] == "<0.2,>=0.1"  # hatchling writes the specifiers sorted
    assert all(ranges[dist] for dist in ranges if dist.startswith("core-"))


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


def test_entry_points_txt_is_read_with_importlibs_rules(tmp_path, monkeypatch):
    info = tmp_path / "odd_ep-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nname: odd-ep\nVERSION: 1.0 \n")
    (info / "entry_points.txt").write_text(
        f"loose = before:any\n[{GROUP}]\n  a=json:dumps  \n;b = json:loads\n#c = x:y\n"
        f"a = json:loads [extra]\n[ {GROUP} ]\nd = x:y\n"
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    importlib.invalidate_caches()
    assert _fast_view(GROUP) == _importlib_view(GROUP)
    assert [(ep.name, ep.value) for ep in entry_points(GROUP)] == [
        ("a", "json:dumps"),
        (";b", "json:loads"),  # importlib takes only '#' for a comment
        ("a", "json:loads [extra]"),
    ]
    assert entry_points(GROUP)[0].version == "1.0 "  # header values keep trailing blanks


def test_metadata_with_crlf_newlines_and_folded_headers(tmp_path, monkeypatch):
    info = tmp_path / "folded-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_bytes(
        b"Metadata-Version: 2.1\r\nName: folded\r\nSummary: one\r\n  two\r\nVersion: 2.0\r\n"
        b"Requires-Dist: core>=0.1,\r\n  <0.2\r\nRequires-Dist: core!=0.1.3\r\n\r\nName: body\r\n"
    )
    (info / "entry_points.txt").write_bytes(f"[{GROUP}]\r\nf = json:dumps\r\n".encode())
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    importlib.invalidate_caches()
    scanned, fallback = _entry_points._scan(GROUP), _entry_points._from_importlib(GROUP)
    assert scanned == fallback
    assert scanned == [PluginEntryPoint("f", "json:dumps", "folded", "2.0", ">=0.1,<0.2,!=0.1.3")]


def test_load_resolves_module_attribute_and_extras():
    import json

    assert PluginEntryPoint("a", "json:dumps").load() is json.dumps
    assert PluginEntryPoint("b", "json").load() is json
    assert PluginEntryPoint("c", "os.path:join [extra]").load().__name__ == "join"


def test_zip_on_the_path_falls_back_to_importlib(tmp_path, monkeypatch):
    archive = tmp_path / "lib.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip archive
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    calls = []
    fallback = _entry_points._from_importlib
    monkeypatch.setattr(
        _entry_points, "_from_importlib", lambda group: calls.append(group) or fallback(group)
    )
    assert _fast_view("core") == _importlib_view("core")
    assert calls == ["core"]


@pytest.mark.parametrize(
    ("requires", "expected"),
    [
        ([], None),
        (["pydantic>=2", "core-gan>=0.1", "pycore>=1"], None),
        (["core<0.2,>=0.1"], "<0.2,>=0.1"),
        (["core (>=0.1, <0.2)"], ">=0.1,<0.2"),
        (["Core[cli] >= 0.1 ; python_version >= '3'"], ">=0.1"),
        (["core>=0.1", "torch>=2", "core<0.3; python_version >= '3.0'"], ">=0.1,<0.3"),
        (["core>=9; extra == 'test'", "core>=0.1"], ">=0.1"),
        (["core>=9 ; python_version < '3'"], None),
        (["core>=9 ; sys_platform == 'no-such-platform'"], None),
        (["core>=0.1 ; extra == 'x' or python_version >= '3'"], ">=0.1"),
        (["core"], ""),
        (["core @ file:///tmp/core-0.1.0-py3-none-any.whl"], ""),
        (["core @ file:///tmp/core.whl ; extra == 'x'"], None),
    ],
)
def test_requires_core_agrees_between_scan_and_importlib(tmp_path, monkeypatch, requires, expected):
    _write_dist(tmp_path, "needs-core", requires)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    importlib.invalidate_caches()
    scanned, fallback = _entry_points._scan(GROUP), _entry_points._from_importlib(GROUP)
    assert [ep.requires_core for ep in scanned] == [ep.requires_core for ep in fallback]
    assert (
        scanned
        == fallback
        == [PluginEntryPoint("needs-core", "json:dumps", "needs-core", "1.0", expected)]
    )


def test_requires_core_from_an_eggs_requires_txt(tmp_path, monkeypatch):
    info = tmp_path / "egg_needs_core-1.0-py3.11.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: egg-needs-core\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\negg = json:dumps\n")
    (info / "requires.txt").write_text(
        'core>=0.1\nnumpy\n\n[test]\ncore>=9\n\n[:python_version < "3"]\ncore<0.0\n\n'
        '[:python_version >= "3"]\ncore<0.5\n\n[docs:python_version >= "3"]\ncore>=7\n'
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    importlib.invalidate_caches()
    scanned, fallback = _entry_points._scan(GROUP), _entry_points._from_importlib(GROUP)
    assert scanned == fallback
    assert [ep.requires_core for ep in scanned] == [">=0.1,<0.5"]


def test_without_packaging_only_plain_and_extra_markers_are_decided(monkeypatch):
    monkeypatch.setitem(sys.modules, "packaging.markers", None)  # import fails
    assert _core_specifier(["core>=0.1", "core<9; extra == 'test'"]) == ">=0.1"
    assert _core_specifier(["core>=0.1; python_version >= '3'"]) is None  # undecided: left out


def test_the_scan_imports_neither_importlib_metadata_nor_email_nor_packaging():
    code = (
        "import sys, json; from core._entry_points import entry_points; eps = entry_points('core');"
        "print(json.dumps([len(eps), [m for m in ('importlib.metadata', 'email', 'packaging')"
        " if m in sys.modules]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, imported = json.loads(out.stdout)
    assert count >= 6
    assert imported == []
