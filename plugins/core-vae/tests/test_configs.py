"""The example configs validate and the registration module stays torch-free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import core
from core.components import get_entry
from core.config import Config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_configs_exist():
    assert {p.name for p in CONFIGS} == {"vae.yaml", "vae-digits.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_config_is_valid_and_matches_the_data_range(path):
    config = Config(path)
    model = core.build("model", config["model"], where="model", source=str(path))
    data = config.to_dict()["data"]
    data_schema = get_entry("dataset", data["type"]).load_config()
    data_cfg = data_schema.model_validate({k: v for k, v in data.items() if k != "type"})
    assert tuple(data_cfg.value_range) == model.sample_range
    assert data_cfg.image_size == model.config.image_size
    assert data_cfg.channels == model.config.channels
    trainer = pytest.importorskip("core.training.trainer")
    trainer.validate_run_config(config)


def test_plugin_registration_does_not_import_torch():
    code = (
        "import sys, core; core.get_manager(); "
        "assert 'vae' in core.list_components('model'); "
        ""
        "from core.components import get_entry; get_entry('model', 'vae').load_config(); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
