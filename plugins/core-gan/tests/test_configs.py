"""The example configs validate and the registration module stays torch-free."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.testing.checks import check_example_config, check_listing_is_torch_free

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_configs_exist():
    assert {p.name for p in CONFIGS} == {"dcgan.yaml", "dcgan-digits.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_config_is_valid_and_matches_the_data_range(path):
    check_example_config(path)


def test_plugin_registration_does_not_import_torch():
    check_listing_is_torch_free("model", "dcgan")
