"""Fixtures of the metric tests."""

from __future__ import annotations

import pytest

from core.building import build


@pytest.fixture
def random_classifier(core_manager, tmp_path):
    """A randomly initialised digit classifier saved as a pretrained folder: its path."""
    model = build(
        "model", {"type": "digit-classifier", "width": 4, "feature_dim": 16, "image_size": 16}
    )
    model.save_pretrained(tmp_path / "clf", name="digit-classifier")
    return str(tmp_path / "clf")
