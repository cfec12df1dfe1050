"""Fixtures of the logger tests: a run directory with a sample grid, a run config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "digits-run"
    path.mkdir()
    return path


@pytest.fixture
def grid(run_dir: Path) -> tuple[Path, np.ndarray]:
    """A 12x20 RGB PNG of random pixels (height and width differ, to catch transposes)."""
    pixels = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    path = run_dir / "samples.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


@pytest.fixture
def run_config() -> dict:
    return {
        "model": {"type": "ddpm", "unet": {"type": "unet", "channels": [32, 64]}},
        "data": {"type": "digits", "image_size": 16},
        "train": {"steps": 4, "lr": 0.001, "ema": None, "amp": False, "loggers": ["jsonl"]},
    }
