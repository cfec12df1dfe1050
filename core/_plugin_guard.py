"""How core holds a plugin at arm's length: guards, hook callbacks, compatibility.

Everything a plugin does (import, each hook) runs inside :func:`guard`, which turns any
exception but ``KeyboardInterrupt`` (``SystemExit`` included) into a :class:`PluginFailure`,
turns ``os._exit`` into an exception for the step's length, names the plugin in a
``KeyboardInterrupt`` and notes the non-daemon threads the step left running.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from core._version import __version__
from core.errors import PluginError

__all__ = [
    "PluginFailure",
    "PluginInterrupt",
    "ExitCalled",
    "Watch",
    "guard",
    "callback",
    "HookManager",
    "incompatibility",
]


_RELEASE = re.compile(r"^\d+(\.\d+)*$")
_CLAUSE = re.compile(r"^(>=|<=|==|!=|<|>)(\d+(?:\.\d+)*)$")


@functools.lru_cache(maxsize=64)
def incompatibility(requires_core: str | None) -> str | None:
    """Why a ``Requires-Dist: core <range>`` excludes the running core, or None."""
    if not requires_core:
        return None
    accepted = _accepts_release(requires_core, __version__)
    if accepted is None:  # anything beyond plain release ranges: packaging decides
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            accepted = SpecifierSet(requires_core).contains(__version__, prereleases=True)
        except InvalidSpecifier:
            return f"declares an unreadable core requirement {requires_core!r}"
    if accepted:
        return None
    return f"requires core{requires_core}, this is core {__version__}"


def _accepts_release(specifier: str, version: str) -> bool | None:
    """PEP 440 for plain release versions and ``>=, <=, ==, !=, <, >`` clauses, else None.

    Importing ``packaging`` costs every command about 25 ms; first-party ranges need none of it.
    """
    if not _RELEASE.match(version):
        return None
    clauses = [_CLAUSE.match(part.strip()) for part in specifier.split(",")]
    if not all(clauses):
        return None
    mine = _release(version)
    for clause in clauses:
        op, other = clause[1], _release(clause[2])  # type: ignore[index]
        width = max(len(mine), len(other))
        a, b = mine + (0,) * (width - len(mine)), other + (0,) * (width - len(other))
        holds = {
            ">=": a >= b,
            "<=": a <= b,
            "==": a == b,
            "!=": a != b,
            "<": a < b,
            ">": a > b,
        }[op]
        if not holds:
            return False
    return True


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def callback(function: Any, *args: Any, **kwargs: Any) -> Any:
    """A ``register`` callback for hooks: ``function`` with bound arguments, returning None.

    Returning nothing keeps one-line hooks (``lambda register: register(...)``) valid under
    the rule that hooks return nothing.
    """

    def register(*more: Any, **options: Any) -> None:
        function(*args, *more, **kwargs, **options)

    return register


class HookManager(pluggy.PluginManager):
    """pluggy's manager, reading a module plugin's hook implementations from its namespace.

    pluggy inspects every attribute of a plugin with ``inspect.getattr_static``; a plugin
    module's functions are found directly in its ``__dict__`` at a fraction of the cost.
    """

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        if isinstance(plugin, ModuleType):
            value = plugin.__dict__.get(name)
            opts = getattr(value, f"{self.project_name}_impl", None)
            if not inspect.isfunction(value) or not isinstance(opts, dict):
                return None
            return opts  # what pluggy's static lookup finds for a plain module function
        return super().parse_hookimpl_opts(plugin, name)

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        """pluggy's ``register``, refusing a taken name or object in one line, not a dump."""
        for taken, other in self.list_name_plugin():
            if taken == name:
                raise PluginError(f"a plugin named '{name}' is already registered")
            if other is plugin:
                raise PluginError(f"the same object is already registered as plugin '{taken}'")
        return super().register(plugin, name)

    def own_hookimpls(self, plugin: Any) -> dict[str, list[Any]]:
        """Hook name -> this plugin's implementations of it (only the hooks it implements)."""
        if isinstance(plugin, ModuleType):
            marker = f"{self.project_name}_impl"
            names = {
                (getattr(value, marker).get("specname") or attr)
                for attr, value in plugin.__dict__.items()
                if callable(value) and isinstance(getattr(value, marker, None), dict)
            }
            callers = [c for c in (getattr(self.hook, n, None) for n in names) if c is not None]
        else:
            callers = self.get_hookcallers(plugin) or []
        return {
            caller.name: [impl for impl in caller.get_hookimpls() if impl.plugin is plugin]
            for caller in callers
        }


class PluginFailure(Exception):
    """A plugin step failed; carries what was being done."""

    def __init__(self, what: str, exc: BaseException) -> None:
        super().__init__(what)
        self.what, self.exc = what, exc


class PluginInterrupt(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` (Ctrl-C) met while a plugin step ran; the message names it."""


class ExitCalled(SystemExit):
    """What ``os._exit(status)`` raises while a plugin step runs, instead of ending the process."""

    def __str__(self) -> str:
        return f"it called os._exit({self.code!r})"


@dataclass
class Watch:
    """What a guarded step left behind: the non-daemon threads it started that still run."""

    threads: list[threading.Thread] = field(default_factory=list)


@contextlib.contextmanager
def guard(what: str, plugin: str = "") -> Iterator[Watch]:
    """Run one step of ``plugin``: anything it raises but KeyboardInterrupt is a PluginFailure.

    ``os._exit`` raises :class:`ExitCalled` in this process for the step's length (a forked
    child still exits); a ``KeyboardInterrupt`` comes out as a :class:`PluginInterrupt` naming
    the plugin; the yielded :class:`Watch` gets the non-daemon threads the step left running.
    """
    watch, before = Watch(), set(threading.enumerate())
    real_exit, pid = os._exit, os.getpid()

    def refuse_exit(status: int) -> None:
        if os.getpid() != pid:
            real_exit(status)
        raise ExitCalled(status)

    os._exit = refuse_exit
    try:
        yield watch
    except PluginInterrupt:
        raise
    except KeyboardInterrupt as exc:
        if not plugin:
            raise
        raise PluginInterrupt(f"interrupted inside plugin '{plugin}'") from exc
    except PluginFailure:
        raise
    except BaseException as exc:
        raise PluginFailure(what, exc) from exc
    finally:
        os._exit = real_exit
        watch.threads = [
            t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon
        ]
