"""core: a plugin-based framework for deep generative and lookup-table model families.

Importing ``core`` is cheap: every name below is resolved on first use, and torch is
imported only by what needs it (``BaseModel``, weights, building a component).
"""

from __future__ import annotations

from typing import Any

from core import errors as _errors
from core._version import __version__
from core.kinds import BUILTIN_KINDS
from core.lazy import lazy_exports

_LAZY = {
    "hookimpl": "core.hookspecs",
    "Kind": "core.kinds",
    "get_kind": "core.components",
    "list_kinds": "core.components",
    "Config": "core.config",
    "ComponentConfig": "core.schema",
    "Component": "core.component",
    "BaseModel": "core.modules",
    "build": "core.components",
    "build_model": "core.components",
    "get_component": "core.components",
    "list_components": "core.components",
    "get_manager": "core.plugins",
    "save_weights": "core.weights",
    "load_weights": "core.weights",
    "save_to_pretrained": "core.pretrained",
    "load_pretrained": "core.pretrained",
    "list_pretrained": "core.pretrained",
    "pretrained_info": "core.pretrained",
}
_LAZY.update(dict.fromkeys(_errors.__all__, "core.errors"))
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
    *_errors.__all__,  # the exception tree of core.errors
]


def _kind_function(name: str) -> Any:
    """``get_<kind>`` / ``register_<kind>`` for a kind declared by core or a plugin."""
    if name in _GENERATED or name.startswith(("get_", "register_")):
        from core import components as _build

        kind = _GENERATED.get(name) or _build.declared_kind(name.partition("_")[2])
        if kind is not None:
            return (
                _build.make_getter(kind) if name.startswith("get_") else _build.make_decorator(kind)
            )
    raise AttributeError(f"module 'core' has no attribute '{name}'")


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, fallback=_kind_function)
