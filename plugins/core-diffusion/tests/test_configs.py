"""The shipped example configs validate and build."""

from __future__ import annotations

from pathlib import Path

import pytest

import core
from core.training.trainer import validate_run_config

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def test_configs_are_shipped():
    assert {p.name for p in CONFIGS} >= {"ddpm_digits.yaml", "ddpm_frameworm.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_config_builds(path):
    config = core.Config(path)
    validate_run_config(config)
    model = core.build_model(config)
    assert type(model).__name__ == "DDPM"
    if path.name == "ddpm_frameworm.yaml":
        assert model.count_parameters() == 14_331_651
    if path.name == "ddpm_digits.yaml":
        assert model.count_parameters() == 280_177  # quoted in the config and the docs
    if path.name == "ddpm_digits_conditional.yaml":
        assert model.num_classes == 10
