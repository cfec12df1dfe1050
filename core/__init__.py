"""core: a plugin-based framework for deep generative and lookup-table model families.

Importing ``core`` is cheap: every name below is resolved on first use, and torch is
imported only by what needs it (``BaseModel``, weights, building a component).
"""

from __future__ import annotations

import importlib
from typing import Any

from core._version import __version__
from core.kinds import BUILTIN_KINDS

_LAZY = {
    "hookimpl": ("core.hookspecs", "hookimpl"),
    "Kind": ("core.kinds", "Kind"),
    "get_kind": ("core.components", "get_kind"),
    "list_kinds": ("core.components", "list_kinds"),
    "Config": ("core.config", "Config"),
    "ComponentConfig": ("core.schema", "ComponentConfig"),
    "Component": ("core.component", "Component"),
    "BaseModel": ("core.modules", "BaseModel"),
    "build": ("core.components", "build"),
    "build_model": ("core.components", "build_model"),
    "get_component": ("core.components", "get_component"),
    "list_components": ("core.components", "list_components"),
    "get_manager": ("core.plugins", "get_manager"),
    "save_weights": ("core.weights", "save_weights"),
    "load_weights": ("core.weights", "load_weights"),
    "save_to_pretrained": ("core.pretrained", "save_to_pretrained"),
    "load_pretrained": ("core.pretrained", "load_pretrained"),
    "list_pretrained": ("core.pretrained", "list_pretrained"),
    "pretrained_info": ("core.pretrained", "pretrained_info"),
    "CoreError": ("core.errors", "CoreError"),
    "PluginError": ("core.errors", "PluginError"),
    "RegistryError": ("core.errors", "RegistryError"),
    "UnknownComponentError": ("core.errors", "UnknownComponentError"),
    "AmbiguousNameError": ("core.errors", "AmbiguousNameError"),
    "ConfigError": ("core.errors", "ConfigError"),
    "WeightsError": ("core.errors", "WeightsError"),
    "PretrainedError": ("core.errors", "PretrainedError"),
    "DataError": ("core.errors", "DataError"),
    "AtomicWriteError": ("core.errors", "AtomicWriteError"),
    "TrainingError": ("core.errors", "TrainingError"),
}
#: ``get_<kind>`` / ``register_<kind>`` for every built-in kind, derived from core.kinds.
_GENERATED = {
    f"{verb}_{k.identifier}": k.name for k in BUILTIN_KINDS for verb in ("get", "register")
}

__all__ = [
    "__version__",
    "hookimpl",
    "Kind",
    "get_kind",
    "list_kinds",
    "Config",
    "ComponentConfig",
    "Component",
    "BaseModel",
    "build",
    "build_model",
    "get_component",
    "list_components",
    "get_manager",
    "save_weights",
    "load_weights",
    "save_to_pretrained",
    "load_pretrained",
    "list_pretrained",
    "pretrained_info",
    *_GENERATED,
    "CoreError",
    "PluginError",
    "RegistryError",
    "UnknownComponentError",
    "AmbiguousNameError",
    "ConfigError",
    "WeightsError",
    "PretrainedError",
    "DataError",
    "AtomicWriteError",
    "TrainingError",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
    elif name in _GENERATED or name.startswith(("get_", "register_")):
        from core import components as _build

        kind = _GENERATED.get(name) or _build.declared_kind(name.partition("_")[2])
        if kind is None:
            raise AttributeError(f"module 'core' has no attribute '{name}'")
        value = _build.make_getter(kind) if name.startswith("get_") else _build.make_decorator(kind)
    else:
        raise AttributeError(f"module 'core' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
