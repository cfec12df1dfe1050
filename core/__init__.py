"""core: a plugin-based framework for deep generative and lookup-table model families.

Importing ``core`` is cheap: every name below is resolved on first use, and torch is
imported only by what needs it (``BaseModel``, weights, building a component).
"""

from __future__ import annotations

import functools
from typing import Any

from core import errors as _errors
from core import kinds as _kinds
from core._version import __version__
from core.lazy import lazy_exports

_LAZY = {
    "hookimpl": "core.hookspecs",
    "Kind": "core.kinds",
    "get_kind": "core.building",
    "list_kinds": "core.building",
    "Config": "core.config",
    "ComponentConfig": "core.schema",
    "Component": "core.component",
    "BaseModel": "core.base_model",
    "build": "core.building",
    "build_model": "core.building",
    "get_component": "core.building",
    "list_components": "core.building",
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
    f"{verb}_{k.identifier}": k.name for k in _kinds.BUILTIN_KINDS for verb in ("get", "register")
}

#: the same under a kind's former name (``get_scheduler``): they warn, and are not in __all__.
_FORMER = {
    f"{verb}_{old.replace('-', '_')}": (old, k)
    for k in _kinds.BUILTIN_KINDS
    for old in k.former_names
    for verb in ("get", "register")
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
    """``get_<kind>`` / ``register_<kind>`` of a kind known now; discovers no plugin.

    The built-in kinds always have them; a kind a plugin declares, once plugins are loaded
    (``core.get_component(kind, name)`` loads them). Any other name is an AttributeError.
    """
    verb, _, identifier = name.partition("_")
    if verb in ("get", "register"):
        from core import plugins  # lazy: keeps `import core` light (pluggy, the manager)

        former = _FORMER.get(name)
        known = {k.identifier: k for k in plugins.known_kinds().values()}
        kind = former[1] if former else known.get(identifier)
        if kind is not None:
            from core import building as _build  # lazy: keeps `import core` light

            make = _build.make_getter if verb == "get" else _build.make_decorator
            return _renamed(make(kind.name), *former) if former else make(kind.name)
    raise AttributeError(f"module 'core' has no attribute '{name}'")


def _renamed(function: Any, old: str, kind: _kinds.Kind) -> Any:
    """``function`` under a kind's former name: each call warns (DeprecationWarning)."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        _kinds.warn_renamed(old, kind)
        return function(*args, **kwargs)

    return call


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, fallback=_kind_function)
