"""DiffLUT's model API as thin layers over core's config system, loader and pretrained store."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import core
from core.config import parse_override
from core.errors import ConfigError
from core.validation import validate_section
from core_difflut.configs import RUNTIME_KEYS, ModelConfig

if TYPE_CHECKING:
    from core.loading import Overrides

__all__ = ["build_model", "load_pretrained", "list_pretrained_models", "get_pretrained_model_info"]


def _pairs(overrides: Overrides) -> dict[str, Any]:
    if not overrides:
        return {}
    if isinstance(overrides, Mapping):
        return dict(overrides)
    return dict(parse_override(o) if isinstance(o, str) else tuple(o) for o in overrides)


def _split_runtime(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(runtime values, other values): ``temperature`` and ``runtime.temperature`` are runtime."""
    runtime: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for key, value in values.items():
        short = key.split(".", 1)[1] if key.startswith("runtime.") else key
        if key == "runtime" and isinstance(value, Mapping):
            runtime.update(value)
        elif short in RUNTIME_KEYS:
            runtime[short] = value
        else:
            other[key] = value
    return runtime, other


def _config_class(kind: Any) -> type[ModelConfig]:
    """``ModelConfig`` or ``ConvModelConfig`` for a model type name."""
    name = str(kind).removeprefix("difflut:")
    if name == "conv-feedforward":
        from core_difflut.conv_configs import ConvModelConfig

        return ConvModelConfig
    return ModelConfig


def _yaml_model_type(path: Any) -> str:
    from core.config import Config

    data = Config(path).to_dict()
    section = data["model"] if isinstance(data.get("model"), dict) else data
    return str(section.get("type") or section.get("model_type") or "feedforward")


def build_model(
    source: Any,
    load_weights: bool = True,
    overrides: Overrides = None,
    *,
    device: Any = None,
) -> Any:
    """A ``feedforward`` or ``conv-feedforward`` model from a pretrained name (latest),
    ``type/name/vN``, a YAML path, a dict or a ``ModelConfig`` (``ConvModelConfig``).

    Overrides are ``{"temperature": 0.5}``, ``{"runtime.eval_mode": "sampling"}`` or
    ``["runtime.tau=3"]``; on a pretrained model only runtime parameters may change (a
    structural one is a ConfigError naming it).
    """
    runtime, other = _split_runtime(_pairs(overrides))
    pairs = [*((f"runtime.{k}", v) for k, v in runtime.items()), *other.items()]
    return core.build_model(_model_config(source), load_weights, pairs, device=device)


def _model_config(source: Any) -> Any:
    """The validated ``ModelConfig`` of a YAML path, dict or config; a pretrained name or folder
    unchanged (core's loader takes it)."""
    if isinstance(source, ModelConfig):
        return source
    if isinstance(source, Mapping):
        section = dict(source.get("model", source))
        kind = section.pop("type", None) or section.get("model_type") or "feedforward"
        schema = _config_class(kind)
        return validate_section(
            schema, section, component=f"model '{kind}' (core-difflut)", where="model"
        )
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix not in {".yaml", ".yml"} and not path.is_file():
            return source
        return _config_class(_yaml_model_type(source)).from_yaml(source)
    raise ConfigError(
        "build_model: source must be a pretrained name, a YAML path, a dict or a "
        f"ModelConfig, got {type(source).__name__}"
    )


def load_pretrained(name: str, *, device: Any = None, **runtime_overrides: Any) -> Any:
    """Build and load a pretrained DiffLUT model (``name``, ``feedforward/name/vN``)."""
    return build_model(name, True, runtime_overrides, device=device).eval()


def list_pretrained_models(root: str | os.PathLike[str] | None = None) -> dict[str, list[str]]:
    """Pretrained models by model type: ``{"feedforward": ["digits-dwn", "mine/v1", ...]}``.

    Versioned entries appear as ``name/vN``, unversioned (plugin-shipped) ones as ``name``.
    """
    from core.pretrained import list_pretrained

    grouped: dict[str, list[str]] = {}
    for info in list_pretrained(root):
        label = f"{info.name}/v{info.version}" if info.version is not None else info.name
        grouped.setdefault(info.model_type, []).append(label)
    return {k: sorted(set(v)) for k, v in sorted(grouped.items())}


def get_pretrained_model_info(
    name: str, root: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Reference, path, version, metadata (accuracy, parameters, ...) and model config."""
    from core.loading import locate
    from core.pretrained import pretrained_info

    info = pretrained_info(name, root)
    data = info.to_dict()
    data["config"] = locate(info.path).model
    return data
