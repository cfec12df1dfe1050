"""docs/models/gan.md: its config reference matches the DCGAN schema; its Python blocks run."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_gan.configs import DCGANConfig

from core.testing.checks import check_config_reference, run_python_blocks

DOC = Path(__file__).resolve().parents[3] / "docs" / "models" / "gan.md"
pytestmark = pytest.mark.skipif(not DOC.exists(), reason="docs are not part of an installed wheel")


def test_config_reference_matches_schema():
    check_config_reference(DOC, DCGANConfig)


def test_python_examples_in_the_docs_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_python_blocks(DOC)
