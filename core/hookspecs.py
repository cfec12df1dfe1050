"""Every hook a plugin can implement.

One ``register_<kinds>`` hook per kind declared in ``core.kinds`` (generated below from the
declarations), plus four hooks of their own: ``register_kinds``, ``register_components``,
``register_pretrained`` and ``register_commands``. A per-kind hook receives a ``register``
callback::

    register(name, target, config=None, aliases=(), description="", **meta)

``target`` is the object itself or a lazy ``"module:attr"`` string; ``config`` is the
component's pydantic config class (or a lazy string to a torch-free module). Hook
implementations must not import torch: the target is imported only when the component is
built. Hooks return nothing; wrapper hooks are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from core.kinds import BUILTIN_KINDS, Kind

__all__ = ["hookspec", "hookimpl", "HOOKS", "PLATFORM_HOOKS", "KIND_HOOKS", "FORMER_KIND_HOOKS"]

hookspec = pluggy.HookspecMarker("core")
hookimpl = pluggy.HookimplMarker("core")

Register = Callable[..., Any]


@hookspec
def register_kinds(register: Register) -> None:
    """Declare new kinds of component: ``register(name, description="", base=None)``.

    ``base`` is the class or ``typing.Protocol`` (or a lazy ``"module:attr"`` string) that the
    kind's targets satisfy; the conformance kit checks it. A declared kind gets everything a
    built-in kind has: listing, ``core info``, ``core schema``, ``core.build`` and conformance.
    """


@hookspec
def register_components(register: Register) -> None:
    """Register components of any kind, built-in or declared by a plugin.

    ``register(kind, name, target, config=None, aliases=(), description="", **meta)``.
    """


@hookspec
def register_pretrained(register: Register) -> None:
    """Register pretrained weights shipped by a plugin.

    ``register(name, path, model_type=..., description="")`` where ``path`` is a
    directory holding ``<name>.yaml`` and ``<name>.safetensors``.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``core`` command line; ``cli`` is the root ``click.Group``."""


def _kind_hookspec(kind: Kind) -> Callable[[Register], None]:
    def spec(register: Register) -> None:
        pass

    spec.__name__ = spec.__qualname__ = kind.hook
    spec.__module__ = __name__
    spec.__doc__ = f"Register {kind.plural}: {kind.description}."
    return hookspec(spec)


def _former_hookspec(kind: Kind, hook: str) -> Callable[[Register], None]:
    spec = _kind_hookspec(kind)
    spec.__name__ = spec.__qualname__ = hook
    spec.__doc__ = f"Deprecated: the former name of ``{kind.hook}`` (called, with a warning)."
    return spec


for _kind in BUILTIN_KINDS:
    globals()[_kind.hook] = _kind_hookspec(_kind)
    for _hook in _kind.former_hooks:
        globals()[_hook] = _former_hookspec(_kind, _hook)
del _kind

#: kind name -> its hook name, for the built-in kinds.
KIND_HOOKS: dict[str, str] = {kind.name: kind.hook for kind in BUILTIN_KINDS}
#: the hooks that are not per-kind, in documentation order.
PLATFORM_HOOKS: tuple[str, ...] = (
    "register_kinds",
    "register_components",
    "register_pretrained",
    "register_commands",
)
#: former hook name -> kind name, for kinds that were renamed (still called, with a warning).
FORMER_KIND_HOOKS: dict[str, str] = {
    hook: kind.name for kind in BUILTIN_KINDS for hook in kind.former_hooks
}
#: every hook name, in documentation order.
HOOKS: tuple[str, ...] = (*KIND_HOOKS.values(), *PLATFORM_HOOKS, *FORMER_KIND_HOOKS)
