"""Registration through core's hooks, without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from core_difflut.configs import ENCODER_NAMES, NODE_NAMES, ModelConfig

from core import list_components
from core.config import Config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_every_component_is_registered() -> None:
    assert set(ENCODER_NAMES) <= set(list_components("encoder"))
    assert set(NODE_NAMES) <= set(list_components("node"))
    assert {"random", "learnable", "convolutional", "groupsum"} <= set(list_components("layer"))
    assert {"feedforward", "conv-feedforward"} <= set(list_components("model"))


def test_registration_and_listing_do_not_import_torch() -> None:
    code = (
        "import sys, core\n"
        "from core.plugins import get_manager\n"
        "m = get_manager()\n"
        "assert m.records['difflut'].status == 'loaded', m.records['difflut']\n"
        "import core_difflut, core_difflut.configs, core_difflut.plugin\n"
        "core.list_components('node')\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_validate(path: Path) -> None:
    section = Config(path).to_dict()["model"]
    section.pop("type")
    ModelConfig(**section)
