"""docs/models/denoisers.md agrees with the schemas and the pinned parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_denoisers.configs import CNNDenoiserConfig, CNNDenoiserLargeConfig, MLPDenoiserConfig

PAGE = Path(__file__).resolve().parents[3] / "docs" / "models" / "denoisers.md"


@pytest.mark.skipif(not PAGE.is_file(), reason="docs page not in this checkout")
@pytest.mark.parametrize("schema", [MLPDenoiserConfig, CNNDenoiserConfig, CNNDenoiserLargeConfig])
def test_config_reference_matches_schema(schema):
    text = PAGE.read_text()
    section = text.split(f"(`{schema.__name__}`)", 1)[1].split("\n\n", 2)[1]
    rows = {line.split("|")[1].strip(" `"): line for line in section.splitlines()[2:]}
    assert set(rows) == set(schema.model_fields)
    for key, field in schema.model_fields.items():
        assert f"`{json.dumps(field.default)}`" in rows[key], key
        assert field.description in rows[key], key


@pytest.mark.skipif(not PAGE.is_file(), reason="docs page not in this checkout")
def test_page_shows_the_pinned_counts():
    text = PAGE.read_text()
    for count in ("17,282", "3,321,475", "858,305", "53,441,795"):
        assert count in text
