"""Torch-free building blocks for component configs (pydantic v2)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel as _PydanticModel
from pydantic import ConfigDict, Field

__all__ = ["ComponentConfig", "Field", "runtime", "runtime_fields", "structural_fields"]

_RUNTIME_KEY = "runtime"


class ComponentConfig(_PydanticModel):
    """Base of every component's config: unknown keys are errors, assignments are validated.

    Floats must be finite (``inf``, ``nan`` and ``1e309`` are refused); a field that means
    to take them says so: ``Field(float("inf"), allow_inf_nan=True)``.
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False
    )


def runtime(default: Any = ..., description: str = "", **kwargs: Any) -> Any:
    """A field that is safe to change on loaded weights (temperature, sampling steps...)."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra[_RUNTIME_KEY] = True
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


def _is_runtime(field: Any) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get(_RUNTIME_KEY))


def runtime_fields(config_class: type[_PydanticModel]) -> set[str]:
    """Names of the runtime fields of a config class."""
    return {name for name, f in config_class.model_fields.items() if _is_runtime(f)}


def structural_fields(config_class: type[_PydanticModel]) -> set[str]:
    """Names of the fields that define the weights."""
    return set(config_class.model_fields) - runtime_fields(config_class)
