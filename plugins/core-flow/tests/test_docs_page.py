"""docs/models/flow.md agrees with the schemas and with the shipped example's size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core_flow.configs import FlowConfig, FlowSamplerConfig

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "models" / "flow.md"


@pytest.mark.skipif(not PAGE.is_file(), reason="docs page not in this checkout")
@pytest.mark.parametrize("schema", [FlowConfig, FlowSamplerConfig])
def test_config_reference_matches_schema(schema):
    section = PAGE.read_text().split(f"(`{schema.__name__}`)", 1)[1].split("\n\n", 2)[1]
    rows = {line.split("|")[1].strip(" `"): line for line in section.splitlines()[2:]}
    assert set(rows) == set(schema.model_fields)
    for key, field in schema.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default
        assert f"`{json.dumps(default)}`" in rows[key], key
        assert field.description in rows[key], key


@pytest.mark.skipif(not PAGE.is_file(), reason="docs page not in this checkout")
def test_page_states_the_example_model_size():
    import core

    config = core.Config(str(ROOT / "examples" / "flow-digits.yaml")).to_dict()
    model = core.build("model", config["model"])
    assert f"{model.count_parameters():,} parameters" in PAGE.read_text()
