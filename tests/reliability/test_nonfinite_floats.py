"""Non-finite floats (``.inf``, ``.nan``, ``1e309``) are refused by every config schema unless
a field allows them with ``Field(..., allow_inf_nan=True)``."""

from __future__ import annotations

import math
import typing
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic.types import AllowInfNan

from core.config import Config
from core.errors import ConfigError
from core.plugins import get_manager
from core.schema import ComponentConfig, Field
from core.testing.refusals import expect_cli_refused
from core.training.trainer import validate_run_config

RUN = {"model": {"type": "mlp-denoiser"}, "data": {"type": "toy2d"}, "train": {"steps": 2}}


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", "1e309", "-1e309"])
@pytest.mark.parametrize("key", ["lr", "eps", "weight_decay", "grad_clip", "min_lr_ratio"])
def test_non_finite_train_values_are_refused(key, text):
    config = Config(RUN, overrides=[f"train.{key}={text}"])
    with pytest.raises(ConfigError, match=rf"train\.{key}: got -?(inf|nan); expected a finite"):
        validate_run_config(config)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(value=st.sampled_from([math.inf, -math.inf, math.nan, 1e308]) | st.floats())
def test_train_lr_is_accepted_exactly_when_finite_and_positive(value):
    config = Config(RUN, overrides=[("train.lr", value)])
    if math.isfinite(value) and value > 0:
        assert validate_run_config(config)[0].lr == value
    else:
        with pytest.raises(ConfigError, match=r"train\.lr: got"):
            validate_run_config(config)


def test_core_train_refuses_inf_before_writing_anything(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump(RUN), encoding="utf-8")
    runs = ("--runs-dir", str(tmp_path / "runs"))
    assert "train.lr: got inf" in expect_cli_refused("train", str(run), "train.lr=1e309", *runs)
    assert not (tmp_path / "runs").exists()


class _Opted(ComponentConfig):
    limit: float = Field(math.inf, allow_inf_nan=True, description="may be infinite")
    scale: float = Field(1.0, description="must be finite")


def test_a_field_can_allow_non_finite_values_explicitly():
    assert _Opted(limit=math.inf).limit == math.inf
    assert math.isnan(_Opted(limit=math.nan).limit)
    with pytest.raises(ValidationError, match="finite"):
        _Opted(scale=math.inf)
    opted = _Opted()
    with pytest.raises(ValidationError, match="finite"):
        opted.scale = -math.inf  # assignments are validated too


def _non_finite_like(annotation: Any, value: float) -> Any:
    """A value of ``annotation``'s shape with ``value`` in every float place (None: no float)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is float:
        return value
    if origin is typing.Annotated:
        return _non_finite_like(args[0], value)
    if origin in (tuple, list):
        items = [_non_finite_like(a, value) for a in args if a is not Ellipsis]
        return None if any(i is None for i in items) or not items else items
    for arg in args:  # unions
        found = _non_finite_like(arg, value)
        if found is not None:
            return found
    return None


def _float_fields() -> list[tuple[str, str, type, str]]:
    found = []
    for entry in get_manager().registry.entries():
        schema = entry.load_config() if entry.config is not None else None
        if schema is None:
            continue
        for name, field in schema.model_fields.items():
            allowed = any(isinstance(m, AllowInfNan) and m.allow_inf_nan for m in field.metadata)
            if not allowed and _non_finite_like(field.annotation, math.inf) is not None:
                found.append((entry.kind, entry.name, schema, name))
    return found


FLOAT_FIELDS = _float_fields()


def test_registered_components_have_float_fields():
    assert len(FLOAT_FIELDS) > 20


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_every_float_field_of_every_component_refuses_non_finite_values(value):
    accepted = []
    for kind, component, schema, name in FLOAT_FIELDS:
        given = _non_finite_like(schema.model_fields[name].annotation, value)
        try:
            schema.model_validate({name: given})
        except ValidationError as exc:
            if any(e["loc"][0] == name and e["type"] == "finite_number" for e in exc.errors()):
                continue
        accepted.append(f"{kind}:{component}.{name}")
    assert not accepted, f"non-finite {value} not refused as such by: {', '.join(accepted)}"
