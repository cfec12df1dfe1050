"""docs/models/difflut.md: its Python blocks run (against the configs and models shipped now)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.testing.checks import run_python_blocks

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "models" / "difflut.md"
pytestmark = pytest.mark.skipif(not DOC.exists(), reason="docs are not part of an installed wheel")


def test_python_examples_in_the_docs_run(tmp_path, monkeypatch):
    (tmp_path / "plugins").symlink_to(REPO / "plugins")  # the page's paths are repo-relative
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    assert run_python_blocks(DOC) >= 1
