"""Lazy exports for a package's ``__init__``: public names imported on first use.

``__getattr__, __dir__ = lazy_exports(__name__, {"Trainer": "pkg.trainer"})`` makes
``pkg.Trainer`` import ``pkg.trainer`` only when asked for, which keeps importing the package
cheap (no torch). A value is ``"module"`` (the attribute has the public name) or
``"module:attr"``. Torch-free; imports only the standard library.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["lazy_exports", "moved_module"]


def lazy_exports(
    module_name: str,
    names: Mapping[str, str],
    fallback: Callable[[str], Any] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the module ``module_name`` exporting ``names`` lazily.

    A resolved name is stored in the module, so it is imported once. ``fallback(name)``, where
    given, answers the names ``names`` lacks (it raises ``AttributeError`` for unknown ones).
    """
    table = dict(names)

    def __getattr__(name: str) -> Any:
        if name in table:
            module, _, attr = table[name].partition(":")
            value = getattr(importlib.import_module(module), attr or name)
        elif fallback is not None:
            value = fallback(name)
        else:
            raise AttributeError(f"module '{module_name}' has no attribute '{name}'")
        setattr(sys.modules[module_name], name, value)
        return value

    def __dir__() -> list[str]:
        module = sys.modules[module_name]
        return sorted(set(vars(module)) | set(getattr(module, "__all__", ())) | set(table))

    return __getattr__, __dir__


def moved_module(old: str, new: ModuleType) -> None:
    """Let the module ``old`` (being imported) be ``new`` for a release, with a DeprecationWarning.

    A module that moved keeps its old path as a two-line shim:
    ``from core import building; moved_module(__name__, building)``.
    """
    warnings.warn(
        f"{old} is now {new.__name__}; the old module name will stop working in the next release",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = new
