"""Config handling shared by every component class (torch-free)."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel as PydanticModel

from core.config import Config, deep_merge
from core.errors import ConfigError
from core.schema import runtime_fields
from core.validation import describe_component, validate_section

__all__ = ["Component"]


class Component:
    """A component built from a config.

    ``config_class`` (a ``core.schema.ComponentConfig``) declares the parameters; without
    one the component receives the config as given, wrapped in ``core.Config``.
    """

    config_class: ClassVar[type[PydanticModel] | None] = None
    model_type: ClassVar[str | None] = None
    #: the run-config section a whole run config is read from.
    config_section: ClassVar[str] = "model"
    kind: ClassVar[str] = "model"

    config: Any

    @classmethod
    def describe(cls) -> str:
        """``model 'my-gan' from mine (core-mine 0.1.0)`` for messages."""
        name = cls.model_type or cls.__name__
        return describe_component(cls.kind, name, getattr(cls, "_core_provider", None))

    @classmethod
    def resolve_config(cls, config: Any = None, /, **overrides: Any) -> Any:
        """Validate ``config`` (a run config, its section, a dict, a YAML path or a config)."""
        schema = cls.config_class
        if schema is not None and isinstance(config, schema) and not overrides:
            return config
        source: str | None = None
        if isinstance(config, (str, os.PathLike)):
            config = Config(config)
        if isinstance(config, Config):
            source, data = config.source, config.to_dict()
        elif config is None:
            data = {}
        elif isinstance(config, PydanticModel):
            data = config.model_dump(mode="python")
        elif isinstance(config, Mapping):
            data = copy.deepcopy(dict(config))
        else:
            raise ConfigError(
                f"{cls.describe()}: config must be a mapping, a Config, a YAML path or a "
                f"pydantic model, got {type(config).__name__}"
            )
        if schema is None:
            resolved = Config(deep_merge(data, overrides))
            object.__setattr__(resolved, "_source", source)
            return resolved
        where = ""
        section = cls.config_section
        section_value = data.get(section)
        if isinstance(section_value, Mapping) and section not in schema.model_fields:
            data, where = dict(section_value), section
        data.pop("type", None)
        data.update(overrides)
        return validate_section(schema, data, component=cls.describe(), where=where, source=source)

    def get_config(self) -> dict[str, Any]:
        """The config as a plain dict, with ``type`` first."""
        if isinstance(self.config, PydanticModel):
            body = self.config.model_dump(mode="json")
        else:
            body = Config(self.config).to_dict()
            body.pop("type", None)
        return {"type": self.model_type, **body}

    @classmethod
    def from_config(cls, config: Any = None, /, **overrides: Any) -> Any:
        """Build from a config (same forms as the constructor)."""
        return cls(config, **overrides)

    def apply_runtime_overrides(self, **overrides: Any) -> dict[str, Any]:
        """Change runtime parameters in place; a structural one is a ConfigError."""
        schema = self.config_class
        if schema is None:
            raise ConfigError(
                f"{self.describe()} declares no config schema, so no runtime parameters"
            )
        allowed = runtime_fields(schema)
        unknown = sorted(set(overrides) - set(schema.model_fields))
        structural = sorted(set(overrides) & (set(schema.model_fields) - allowed))
        if unknown:
            raise ConfigError(f"{self.describe()}: unknown parameter(s) {', '.join(unknown)}")
        if structural:
            raise ConfigError(
                f"{self.describe()}: {', '.join(structural)} "
                f"{'is a structural parameter' if len(structural) == 1 else 'are structural parameters'}"
                " (it defines the weights) and cannot change on a built model; runtime "
                f"parameters are: {', '.join(sorted(allowed)) or 'none'}"
            )
        updated = self.resolve_config({**self.config.model_dump(mode="python"), **overrides})
        changed = {
            k: getattr(updated, k)
            for k in overrides
            if getattr(self.config, k) != getattr(updated, k)
        }
        self.config = updated
        self.on_runtime_change(changed)
        return changed

    def on_runtime_change(self, changed: dict[str, Any]) -> None:
        """Called after ``apply_runtime_overrides`` with the parameters that changed."""
