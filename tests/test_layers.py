"""core's layers: the import-linter contract holds, fails on a planted upward import, and every
function-local import of core says why it is local."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
#: what a function-local import of core says about itself: ``# lazy: <why>``.
LAZY_MARK = "# lazy:"


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return contract


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy_core(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "core", tree / "core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def test_the_layers_contract_holds(tmp_path):
    result = _lint(_copy_core(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("errors.py", "from core import config"),  # foundations reaching up to config
        ("building.py", "import core.training.trainer"),  # torch-free building reaching up
        ("training/checkpoint.py", "import core.cli"),  # the loop reaching the command line
    ],
)
def test_a_planted_upward_import_breaks_it(tmp_path, module, planted):
    tree = _copy_core(tmp_path)
    target = tree / "core" / module
    target.write_text(target.read_text() + f"\n\ndef _planted():\n    {planted}\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    name = "core." + module.removesuffix(".py").replace("/", ".")
    assert f"- {name} -> " in result.stdout  # the broken chain starts at the planted import


def test_only_the_named_upward_imports_are_ignored():
    # BaseModel.from_pretrained and build() of a pretrained reference are entry points on a
    # lower layer that hand over to the one loader above them; nothing else goes up.
    assert sorted(_contract().get("ignore_imports", [])) == [
        "core.base_model -> core.loading",
        "core.building -> core.loading",
    ]


def _function_local_imports() -> list[tuple[str, int, str]]:
    """(file, line, source line) of every import of core inside a function of core."""
    found = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                names = []
                if isinstance(inner, ast.ImportFrom) and inner.level == 0:
                    names = [inner.module or ""]
                elif isinstance(inner, ast.Import):
                    names = [alias.name for alias in inner.names]
                if any(name == "core" or name.startswith("core.") for name in names):
                    relative = path.relative_to(ROOT).as_posix()
                    found.append((relative, inner.lineno, lines[inner.lineno - 1]))
    return found


def test_every_function_local_import_of_core_says_why():
    local = _function_local_imports()
    assert local, "the scan found no function-local import at all: it is broken"
    unexplained = [f"{f}:{n}: {line.strip()}" for f, n, line in local if LAZY_MARK not in line]
    assert not unexplained, (
        f"function-local imports of core without a '{LAZY_MARK} <why>' comment (import at the "
        "top of the module unless it keeps torch or another heavy import out of a torch-free "
        "command):\n" + "\n".join(unexplained)
    )


def test_the_local_import_scan_sees_a_planted_one(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "core").mkdir(parents=True)
    (tree / "core" / "planted.py").write_text("def f():\n    from core import errors\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tree)
    assert _function_local_imports() == [("core/planted.py", 2, "    from core import errors")]


def test_every_module_of_core_sits_in_a_layer():
    named = {m.strip() for layer in _contract()["layers"] for m in layer.split(":")}
    unplaced = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        if len(parts) > 1 and parts[-1] != "__init__" and not prefixes & named:
            unplaced.append(".".join(parts))
    # packages whose __init__ only re-exports lazily are not layers of their own
    assert set(unplaced) <= {"core.metrics"}, f"modules in no layer of the contract: {unplaced}"


def _layer_modules() -> list[list[str]]:
    """The contract's layers, top first, each a list of module names."""
    return [[m.strip() for m in layer.split(":")] for layer in _contract()["layers"]]


def test_architecture_md_shows_the_contracts_layers():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"\| \d+ \| ", line)]
    shown = [re.findall(r"`(core[\w.]*)`", row.split("|")[3]) for row in rows]
    assert shown == _layer_modules(), "ARCHITECTURE.md's layer table differs from pyproject.toml"


def test_the_four_lowest_layers_never_import_torch():
    modules = [m for layer in _layer_modules()[-4:] for m in layer]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = [m for m in ('torch', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
