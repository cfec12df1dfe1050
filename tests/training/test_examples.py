"""The example configs validate, and the quickstart trains (a few steps) when ddpm is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Config
from core.training.trainer import validate_run_config

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_sections_validate(path):
    train, sample = validate_run_config(Config(path))
    assert train.steps or train.epochs
    assert sample.n >= 1


def test_quickstart_trains_a_few_steps(tmp_path):
    from core.building import list_components

    if "ddpm" not in list_components("model"):
        pytest.skip("core-diffusion is not installed")
    from core.training import Trainer

    path = next(p for p in EXAMPLES if p.name == "quickstart.yaml")
    overrides = [
        "train.steps=2",
        "train.sample_every=null",
        "train.checkpoint_every=null",
        "sample.n=4",
        "sample.steps=2",
        "data.subset=64",
    ]
    trainer = Trainer(path, overrides=overrides, run_dir=tmp_path / "q", quiet=True)
    trainer.fit()
    assert trainer.ema is not None
    assert (tmp_path / "q/samples.png").is_file()
    assert (tmp_path / "q/final/ddpm.safetensors").is_file()
