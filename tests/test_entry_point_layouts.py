"""The fast entry-point scan agrees with importlib.metadata on every install layout.

Each test builds one layout in ``tmp_path``, puts it on ``sys.path`` (or ``sys.meta_path``) and
compares ``core._entry_points.entry_points`` with ``importlib.metadata.entry_points`` (names,
values, distribution names and versions, order), and checks whether the fast scan answered or
the importlib fallback did.
"""

from __future__ import annotations

import importlib
import json
import os
import site
import subprocess
import sys
import textwrap
import zipfile
from importlib.metadata import PathDistribution
from importlib.metadata import entry_points as importlib_entry_points
from pathlib import Path

import pytest

from core import _entry_points
from core._entry_points import entry_points

GROUP = "core_layout_test"


def write_metadata_dir(
    parent: Path,
    name: str,
    version: str,
    entries: dict[str, str],
    *,
    dirname: str | None = None,
    requires: tuple[str, ...] = (),
    metadata_file: str = "METADATA",
) -> Path:
    """A ``*.dist-info`` / ``*.egg-info`` / ``EGG-INFO`` folder with an entry_points.txt.

    The folder is ``<name with _>-<version>.dist-info`` unless ``dirname`` names it.
    """
    info = parent / (dirname or f"{name.replace('-', '_')}-{version}.dist-info")
    info.mkdir(parents=True)
    headers = "".join(f"Requires-Dist: {r}\n" for r in requires)
    (info / metadata_file).write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{headers}\nA description.\n"
    )
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[console_scripts]\nx = y:z\n\n[{GROUP}]\n{lines}")
    return info


def write_zip(path: Path, files: dict[str, str]) -> str:
    """A zip archive holding ``files`` (name -> text), as put on ``sys.path``; its path."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return str(path)


def write_package(parent: Path, package: str) -> None:
    """A torch-free plugin module ``<package>.plugin``."""
    (parent / package).mkdir(parents=True)
    (parent / package / "__init__.py").write_text("")
    (parent / package / "plugin.py").write_text("LAYOUT = 'loaded'\n")


def importlib_view() -> list[tuple[str, str, str | None, str | None]]:
    return [
        (ep.name, ep.value, ep.dist.name, ep.dist.version)
        for ep in importlib_entry_points(group=GROUP)
    ]


class Discovery:
    """Runs core's discovery against importlib.metadata, recording whether it fell back."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fallbacks = 0
        fallback = _entry_points._from_importlib

        def counting_fallback(group: str):
            self.fallbacks += 1
            return fallback(group)

        monkeypatch.setattr(_entry_points, "_from_importlib", counting_fallback)

    def check(self, *, fast: bool) -> list[tuple[str, str, str | None, str | None]]:
        """Assert agreement and which path answered; return the entries."""
        importlib.invalidate_caches()
        self.fallbacks = 0
        found = entry_points(GROUP)
        assert self.fallbacks == (0 if fast else 1)
        view = [(ep.name, ep.value, ep.dist, ep.version) for ep in found]
        assert view == importlib_view()
        return view


@pytest.fixture
def discovery(monkeypatch) -> Discovery:
    """A private sys.path, sys.meta_path and module table for one layout."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    before = set(sys.modules)
    yield Discovery(monkeypatch)
    for name in set(sys.modules) - before:
        if name.startswith(("layout_", "__editable__")):
            del sys.modules[name]
    importlib.invalidate_caches()


def load(name: str):
    (found,) = [ep for ep in entry_points(GROUP) if ep.name == name]
    return found.load()


def test_wheel_dist_info_in_site_packages(tmp_path, discovery):
    site_dir = tmp_path / "site-packages"
    write_metadata_dir(
        site_dir,
        "layout-wheel",
        "1.0",
        {"wheel": "layout_wheel.plugin"},
        requires=("core<0.2,>=0.1",),
    )
    write_package(site_dir, "layout_wheel")
    sys.path.insert(0, str(site_dir))
    assert discovery.check(fast=True) == [("wheel", "layout_wheel.plugin", "layout-wheel", "1.0")]
    assert load("wheel").LAYOUT == "loaded"


def test_editable_install_through_a_pth_path(tmp_path, discovery):
    site_dir, source = tmp_path / "site-packages", tmp_path / "project" / "src"
    write_metadata_dir(site_dir, "layout-pth", "0.3", {"pth": "layout_pth.plugin"})
    (site_dir / "_layout_pth.pth").write_text(f"{source}\n")
    write_package(source, "layout_pth")
    site.addsitedir(str(site_dir))
    assert str(source) in sys.path
    assert discovery.check(fast=True) == [("pth", "layout_pth.plugin", "layout-pth", "0.3")]
    assert load("pth").LAYOUT == "loaded"


def test_editable_install_through_an_import_finder(tmp_path, discovery):
    """setuptools (PEP 660) and hatchling ``editables``: a .pth installs a find_spec finder."""
    site_dir, source = tmp_path / "site-packages", tmp_path / "project"
    write_metadata_dir(site_dir, "layout-finder", "2.0", {"finder": "layout_finder.plugin"})
    write_package(source, "layout_finder")
    (site_dir / "__editable__.layout_finder-2.0.pth").write_text(
        "import __editable___layout_finder_2_0_finder; "
        "__editable___layout_finder_2_0_finder.install()\n"
    )
    (site_dir / "__editable___layout_finder_2_0_finder.py").write_text(
        textwrap.dedent(f"""
        import importlib.util, sys
        MAPPING = {{"layout_finder": {str(source / "layout_finder")!r}}}

        class EditableFinder:
            @classmethod
            def find_spec(cls, fullname, path=None, target=None):
                if fullname in MAPPING:
                    init = MAPPING[fullname] + "/__init__.py"
                    return importlib.util.spec_from_file_location(
                        fullname, init, submodule_search_locations=[MAPPING[fullname]]
                    )
                return None

        def install():
            sys.meta_path.append(EditableFinder)
        """)
    )
    site.addsitedir(str(site_dir))
    assert str(source) not in sys.path
    assert any(getattr(f, "__name__", "") == "EditableFinder" for f in sys.meta_path)
    assert discovery.check(fast=True) == [
        ("finder", "layout_finder.plugin", "layout-finder", "2.0")
    ]
    assert load("finder").LAYOUT == "loaded"


class DistributionsFinder:
    """A sys.meta_path finder that provides distributions from folders off sys.path."""

    def __init__(self, *infos: Path) -> None:
        self.infos = infos

    def find_spec(self, fullname, path=None, target=None):
        return None

    def find_distributions(self, context=None):
        name = getattr(context, "name", None)
        for info in self.infos:
            dist = PathDistribution(info)
            if name is None or dist.metadata["Name"] == name:
                yield dist


@pytest.mark.parametrize("position", ["before", "after"])
def test_meta_path_finder_providing_distributions_falls_back(tmp_path, discovery, position):
    from_finder = write_metadata_dir(
        tmp_path / "off-path", "layout-meta", "2.0", {"meta": "json:loads"}
    )
    write_metadata_dir(tmp_path / "on-path", "layout-meta", "1.0", {"meta": "json:dumps"})
    sys.path.insert(0, str(tmp_path / "on-path"))
    finder = DistributionsFinder(from_finder)
    if position == "before":
        sys.meta_path.insert(0, finder)
    else:
        sys.meta_path.append(finder)
    winner = "2.0" if position == "before" else "1.0"
    assert [row[3] for row in discovery.check(fast=False)] == [winner]


def test_meta_path_without_path_finder_falls_back(discovery):
    sys.meta_path[:] = [f for f in sys.meta_path if not _entry_points._searches_sys_path(f)]
    assert discovery.check(fast=False) == []


def test_dist_info_on_pythonpath(tmp_path):
    write_metadata_dir(
        tmp_path, "layout-pythonpath", "1.5", {"pythonpath": "layout_pythonpath.plugin"}
    )
    write_package(tmp_path, "layout_pythonpath")
    code = textwrap.dedent(f"""
        import json
        from importlib.metadata import entry_points as importlib_entry_points
        from core import _entry_points
        fast = [[e.name, e.value, e.dist, e.version] for e in _entry_points._scan({GROUP!r})]
        slow = [[e.name, e.value, e.dist.name, e.dist.version]
                for e in importlib_entry_points(group={GROUP!r})]
        loaded = _entry_points.entry_points({GROUP!r})[0].load().LAYOUT
        print(json.dumps([fast, slow, loaded]))
    """)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    fast, slow, loaded = json.loads(out.stdout)
    assert fast == slow == [["pythonpath", "layout_pythonpath.plugin", "layout-pythonpath", "1.5"]]
    assert loaded == "loaded"


def test_egg_info_folder_named_with_version_and_python_tag(tmp_path, discovery):
    """``setup.py install`` / legacy pip: ``name-version-pyX.Y.egg-info`` with PKG-INFO."""
    write_metadata_dir(
        tmp_path,
        "layout-egginfo",
        "1.0",
        {"egginfo": "json:dumps"},
        dirname="layout_egginfo-1.0-py3.11.egg-info",
        metadata_file="PKG-INFO",
    )
    sys.path.insert(0, str(tmp_path))
    assert discovery.check(fast=True) == [("egginfo", "json:dumps", "layout-egginfo", "1.0")]


def test_egg_info_in_a_develop_source_tree(tmp_path, discovery):
    """``setup.py develop``: ``name.egg-info`` beside the package, the tree on sys.path."""
    write_metadata_dir(
        tmp_path,
        "layout-develop",
        "0.0.1.dev0",
        {"develop": "layout_develop.plugin"},
        dirname="layout_develop.egg-info",
        metadata_file="PKG-INFO",
    )
    write_package(tmp_path, "layout_develop")
    sys.path.insert(0, str(tmp_path))
    assert discovery.check(fast=True) == [
        ("develop", "layout_develop.plugin", "layout-develop", "0.0.1.dev0")
    ]
    assert load("develop").LAYOUT == "loaded"


def test_egg_info_file_shadows_a_later_distribution(tmp_path, discovery):
    """distutils' ``name-version-pyX.Y.egg-info`` file has no entry points, yet wins the name."""
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "layout_shadow-1.0-py3.11.egg-info").write_text(
        "Metadata-Version: 1.0\nName: layout-shadow\nVersion: 1.0\n"
    )
    write_metadata_dir(tmp_path / "second", "layout-shadow", "2.0", {"shadowed": "json:dumps"})
    sys.path[:0] = [str(tmp_path / "first"), str(tmp_path / "second")]
    assert discovery.check(fast=True) == []
    sys.path.remove(str(tmp_path / "first"))
    assert discovery.check(fast=True) == [("shadowed", "json:dumps", "layout-shadow", "2.0")]


def test_egg_folder_on_the_path(tmp_path, discovery):
    """An unzipped egg: ``name-version-pyX.Y.egg/EGG-INFO`` and the package beside it."""
    egg = tmp_path / "layout_eggdir-1.2-py3.11.egg"
    write_metadata_dir(
        egg,
        "layout-eggdir",
        "1.2",
        {"eggdir": "layout_eggdir.plugin"},
        dirname="EGG-INFO",
        requires=("core>=0.1",),
        metadata_file="PKG-INFO",
    )
    write_package(egg, "layout_eggdir")
    sys.path.insert(0, str(egg))
    assert discovery.check(fast=True) == [
        ("eggdir", "layout_eggdir.plugin", "layout-eggdir", "1.2")
    ]
    assert [ep.requires_core for ep in entry_points(GROUP)] == [">=0.1"]
    assert load("eggdir").LAYOUT == "loaded"


def test_zip_on_the_path_falls_back(tmp_path, discovery):
    info = "layout_zip-3.0.dist-info"
    metadata = "Metadata-Version: 2.1\nName: layout-zip\nVersion: 3.0\nRequires-Dist: core>=0.1\n"
    files = {
        f"{info}/METADATA": metadata,
        f"{info}/entry_points.txt": f"[{GROUP}]\nzip = layout_zip\n",
        "layout_zip/__init__.py": "LAYOUT = 'loaded'\n",
    }
    sys.path.insert(0, write_zip(tmp_path / "layout_zip.zip", files))
    assert discovery.check(fast=False) == [("zip", "layout_zip", "layout-zip", "3.0")]
    assert [ep.requires_core for ep in entry_points(GROUP)] == [">=0.1"]
    assert load("zip").LAYOUT == "loaded"


def test_zipped_egg_on_the_path_falls_back(tmp_path, discovery):
    files = {
        "EGG-INFO/PKG-INFO": "Metadata-Version: 1.1\nName: layout-zipegg\nVersion: 1.0\n",
        "EGG-INFO/entry_points.txt": f"[{GROUP}]\nzipegg = json:dumps\n",
    }
    sys.path.insert(0, write_zip(tmp_path / "layout_zipegg-1.0-py3.11.egg", files))
    assert discovery.check(fast=False) == [("zipegg", "json:dumps", "layout-zipegg", "1.0")]


def test_path_object_on_sys_path_falls_back(tmp_path, discovery):
    write_metadata_dir(tmp_path, "layout-pathobj", "1.0", {"pathobj": "json:dumps"})
    sys.path.insert(0, tmp_path)  # not a str: importlib reads it, the scan does not try
    assert discovery.check(fast=False) == [("pathobj", "json:dumps", "layout-pathobj", "1.0")]


def test_duplicates_in_one_folder_and_across_spellings(tmp_path, discovery):
    for version in ("1.0", "2.0"):
        write_metadata_dir(
            tmp_path / "first", "layout-dup", version, {"dup": f"json:v{version[0]}"}
        )
    # the same name, spelled differently
    write_metadata_dir(tmp_path / "second", "Layout.Dup", "3.0", {"dup": "json:v3"})
    write_metadata_dir(tmp_path / "second", "layout-other", "1.0", {"other": "json:dumps"})
    sys.path[:0] = [str(tmp_path / "first"), str(tmp_path / "second")]
    found = discovery.check(fast=True)
    assert [row[0] for row in found] == ["dup", "other"]
    assert found[0][3] in {"1.0", "2.0"}  # whichever the folder lists first, as importlib


def test_upper_case_suffix_takes_its_name_from_the_metadata(tmp_path, discovery):
    write_metadata_dir(
        tmp_path / "first",
        "layout-upper",
        "1.0",
        {"upper": "json:dumps"},
        dirname="Whatever-1.0.DIST-INFO",
    )
    write_metadata_dir(tmp_path / "second", "layout-upper", "2.0", {"upper": "json:loads"})
    sys.path[:0] = [str(tmp_path / "first"), str(tmp_path / "second")]
    assert discovery.check(fast=True) == [("upper", "json:dumps", "layout-upper", "1.0")]


@pytest.mark.slow
def test_wheel_built_and_installed_by_the_real_tools(tmp_path, discovery):
    project = tmp_path / "project"
    write_package(project, "layout_built")
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "layout-built"
        version = "0.4.2"
        dependencies = ["core>=0.1,<0.2", "pydantic>=2; python_version >= '3'"]

        [project.optional-dependencies]
        test = ["core[dev]>=0.1"]

        [project.entry-points.{GROUP}]
        built = "layout_built.plugin"
        """)
    )
    run = {"check": True, "capture_output": True, "cwd": project}
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist", "."],
        **run,
    )
    (wheel,) = (project / "dist").glob("*.whl")
    target = tmp_path / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
        + ["--target", str(target), str(wheel)],
        **run,
    )
    sys.path.insert(0, str(target))
    assert discovery.check(fast=True) == [("built", "layout_built.plugin", "layout-built", "0.4.2")]
    (found,) = entry_points(GROUP)
    assert found.requires_core == "<0.2,>=0.1"
    assert found == _entry_points._from_importlib(GROUP)[0]
    assert found.load().LAYOUT == "loaded"


def test_the_importlib_metadata_backport_keeps_the_fast_path():
    """mlflow imports the backport, which swaps PathFinder's distribution lookup for its own."""
    pytest.importorskip("importlib_metadata")
    code = (
        "import importlib_metadata, importlib.metadata as stdlib\n"
        "from core import _entry_points as e\n"
        "calls = []\n"
        "fallback = e._from_importlib\n"
        "e._from_importlib = lambda group: calls.append(group) or fallback(group)\n"
        "found = [(x.name, x.value, x.dist) for x in e.entry_points('core')]\n"
        "expected = [(x.name, x.value, x.dist.name) for x in stdlib.entry_points(group='core')]\n"
        "assert not calls, 'fell back to importlib.metadata'\n"
        "assert found == expected and found, (found, expected)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
