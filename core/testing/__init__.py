"""Testing kit for plugin authors: isolated managers, temporary plugins, a conformance check.

The pytest plugin (``core.testing.pytest_plugin``, loaded through ``pytest11``) gives the
fixtures ``core_manager`` and ``tmp_plugin``; ``check_component`` works anywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from core.lazy import lazy_exports
from core.plugins import PluginManager, set_manager

__all__ = [
    "isolated_manager",
    "check_component",
    "ConformanceReport",
    "check_writes_through_atomic",
]


@contextlib.contextmanager
def isolated_manager(
    *, builtins: bool = True, autoload: bool = False, strict: bool = False
) -> Iterator[PluginManager]:
    """A fresh manager installed as the process-wide one for the duration of the block."""
    manager = PluginManager(autoload=autoload, builtins=builtins, strict=strict).load()
    previous = set_manager(manager)
    try:
        yield manager
    finally:
        set_manager(previous)


__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "check_component": "core.testing.conformance",
        "ConformanceReport": "core.testing.conformance",
        "check_writes_through_atomic": "core.testing.writes",
    },
)
