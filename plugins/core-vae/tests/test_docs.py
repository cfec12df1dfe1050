"""docs/models/vae.md: its config reference matches the VAE and beta-VAE schemas; its Python blocks run."""

from __future__ import annotations

from pathlib import Path

import pytest
from core_vae.configs import BetaVAEConfig, VAEConfig

from core.testing.checks import check_config_reference, run_python_blocks

DOC = Path(__file__).resolve().parents[3] / "docs" / "models" / "vae.md"
pytestmark = pytest.mark.skipif(not DOC.exists(), reason="docs are not part of an installed wheel")


def test_config_reference_matches_schema():
    check_config_reference(DOC, VAEConfig, BetaVAEConfig)


def test_python_examples_in_the_docs_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_python_blocks(DOC)
