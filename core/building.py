"""Looking up and building components through the process-wide registry."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel as PydanticModel

from core.config import Config, origin_of
from core.errors import ConfigError, RegistryError
from core.kinds import Kind
from core.plugins import get_manager
from core.registry import Entry
from core.validation import describe_component, validate_section

__all__ = [
    "get_entry",
    "get_component",
    "build",
    "build_model",
    "list_components",
    "list_kinds",
    "get_kind",
    "declared_kind",
    "register_component",
    "make_getter",
    "make_decorator",
]


def _registry() -> Any:

    return get_manager().registry


def list_kinds() -> list[Kind]:
    """Every kind known in this process: the built-in ones, then those plugins declared."""
    return list(_registry().kinds.values())


def get_kind(name: str) -> Kind:
    """The declaration of a kind (``model``, ``lr-schedule``, or one a plugin declared)."""
    return _registry().kind(name)


def declared_kind(identifier: str) -> str | None:
    """The kind whose Python spelling is ``identifier`` (``lr_schedule``), or None."""
    kinds = _registry().kinds.values()
    return next((k.name for k in kinds if k.identifier == identifier), None)


def get_entry(kind: str, name: str) -> Entry:
    """The registry entry of a component (nothing imported)."""
    return _registry().get(kind, name)


def get_component(kind: str, name: str) -> Any:
    """The component's class or factory, imported on demand."""
    return get_entry(kind, name).load()


def list_components(kind: str | None = None, pattern: str = "*") -> list[str]:
    """Sorted names of registered components, filtered by an fnmatch pattern like ``*gan*``."""
    return _registry().names(kind, pattern)


def _as_section(config: Any) -> tuple[dict[str, Any], str | None]:
    if config is None:
        return {}, None
    if isinstance(config, (str, os.PathLike)) and Path(config).suffix in {".yaml", ".yml"}:
        config = Config(config)
    if isinstance(config, Config):
        return config.to_dict(), config.source
    if isinstance(config, PydanticModel):
        return config.model_dump(mode="python"), None
    if isinstance(config, Mapping):
        return dict(config), None
    raise ConfigError(
        f"a component config must be a mapping or a Config, got {type(config).__name__}"
    )


def build(
    kind: str,
    config: Any = None,
    /,
    *,
    where: str = "",
    source: str | None = None,
    origins: Mapping[str, str] | None = None,
    **values: Any,
) -> Any:
    """Build a component from a section holding ``type`` (``build("model", {"type": "dcgan"})``).

    ``where`` (the section's dotted path) and ``source`` (its file) go into error messages;
    ``origins`` (as ``Config.origins``; a Config section brings its own) names the keys
    set on the command line.
    """
    kind = _registry().normalize_kind(kind, pretrained=False)
    section, found_source = _as_section(config)
    source = source or found_source
    if origins is None:  # overrides: <command line>
        origins = config.origins if isinstance(config, Config) else {}
    section.update(values)
    name = section.pop("type", None)
    if not name:
        origin = origin_of(origins, where, source) if where else source
        prefix = f"{origin}: " if origin else ""
        label = where or kind
        raise ConfigError(f"{prefix}{label}: a {kind} section needs 'type: <name>'")
    try:
        entry = get_entry(kind, name)
    except RegistryError as exc:
        type_key = f"{where}.type" if where else "type"
        origin = origin_of(origins, type_key, source)
        prefix = f"{origin}: " if origin else ""
        raise ConfigError(f"{prefix}{type_key}: {exc}") from None
    return instantiate(entry, section, where=where, source=source, origins=origins)


def instantiate(
    entry: Entry,
    section: Mapping[str, Any],
    *,
    where: str = "",
    source: str | None = None,
    origins: Mapping[str, str] | None = None,
) -> Any:
    """Validate ``section`` against the entry's schema and call its target with the config.

    ``origins`` (dotted path -> file or ``<command line>``) names where a bad key was set.
    """
    target = entry.load()
    schema = entry.load_config() or getattr(target, "config_class", None)
    if schema is None:
        config: Any = Config(dict(section))
    else:
        config = validate_section(
            schema,
            section,
            component=describe_component(entry.kind, entry.name, entry.provider),
            where=where,
            source=source,
            origins=origins,
        )
    return target(config)


def build_model(
    source: Any,
    load_weights: bool = True,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    *,
    device: Any = None,
) -> Any:
    """A model from a run config, a model section, a YAML path, a pydantic config or a pretrained name.

    A pretrained name (``name``, ``type/name/vN``) or a folder (a run, a checkpoint, ``final/``,
    a ``save_pretrained`` folder) goes to the one loader (``core.loading``): weights are loaded
    when ``load_weights``, and ``overrides`` may change runtime parameters only.
    """
    overrides = overrides or {}
    pairs = list(overrides.items()) if isinstance(overrides, Mapping) else list(overrides)
    if _is_pretrained_reference(source):
        return _build_pretrained(str(source), load_weights, pairs, device)
    if isinstance(source, PydanticModel) and not isinstance(source, Config):
        model_type = getattr(source, "model_type", None) or getattr(source, "type", None)
        data = source.model_dump(mode="python")
        data.setdefault("type", model_type)
        config = Config({"model": data})
    else:
        config = Config(source)
        if "model" not in config:
            config = Config({"model": config.to_dict()}) if "type" in config else config
    if "model" not in config:
        where = config.source or "config"
        raise ConfigError(f"{where}: a run config needs a 'model' section with a 'type'")
    config = Config(config, overrides=_under("model", pairs))
    model = build("model", config["model"], where="model", source=config.source)
    return model.to(device) if device is not None else model


def _under(section: str, pairs: list[Any]) -> list[Any]:
    """Overrides given inside a section (``width=4``) as dotted overrides (``model.width=4``)."""
    return [f"{section}.{p}" if isinstance(p, str) else (f"{section}.{p[0]}", p[1]) for p in pairs]


def _is_pretrained_reference(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = Path(source)
    if path.suffix in {".yaml", ".yml"}:
        return False
    return path.is_dir() or not path.exists()


def _build_pretrained(reference: str, load_weights: bool, pairs: list[Any], device: Any) -> Any:
    from core.loading import load_model  # lazy: the loader is a layer up

    return load_model(reference, overrides=pairs, load_weights=load_weights, device=device)


def register_component(kind: str, name: str, target: Any, **kwargs: Any) -> Entry:
    """Register a component in the process-wide registry (plugin ``user`` unless given)."""
    return _registry().register(kind, name, target, **kwargs)


def make_getter(kind: str) -> Callable[[str], Any]:
    def getter(name: str) -> Any:
        return get_component(kind, name)

    getter.__name__ = f"get_{kind.replace('-', '_')}"
    getter.__doc__ = f"The {kind} class or factory registered as ``name``."
    return getter


def make_decorator(kind: str) -> Callable[..., Any]:
    def decorator(name: Any = None, /, **kwargs: Any) -> Any:
        def apply(target: Any, label: Any = name) -> Any:
            label = label or _kebab(getattr(target, "__name__", ""))
            register_component(kind, label, target, **kwargs)
            return target

        if callable(name) and not isinstance(name, str):  # used bare: @register_model
            return apply(name, None)
        return apply

    identifier = kind.replace("-", "_")
    decorator.__name__ = f"register_{identifier}"
    decorator.__doc__ = (
        f'Register a {kind} in this process: ``@register_{identifier}("name", config=Schema)``.'
    )
    return decorator


def _kebab(name: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
