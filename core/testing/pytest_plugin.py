"""pytest fixtures for core and its plugins (registered through ``pytest11``)."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.hookspecs import hookimpl
from core.plugins import PluginManager
from core.testing import isolated_manager


@pytest.fixture
def core_manager() -> Iterator[PluginManager]:
    """An isolated plugin manager (built-ins only, no entry points) used by ``core.*`` calls."""
    with isolated_manager() as manager:
        yield manager


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread for one test (tiny models run fastest so, above all on a shared machine).

    A plugin's conftest makes it automatic: ``@pytest.fixture(autouse=True)`` over
    ``def _one_thread(one_torch_thread): pass``.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tmp_plugin(core_manager: PluginManager) -> Callable[..., Any]:
    """Register an in-process plugin for one test: ``tmp_plugin(obj_with_hookimpls, name=...)``.

    ``obj`` may be a module, a class or an instance holding ``@core.hookimpl`` functions, or
    omitted with ``hooks={"register_models": fn}``. Returns the plugin's record.
    """
    counter = iter(range(1_000_000))

    def add(plugin: Any = None, *, name: str | None = None, **hooks: Any) -> Any:
        label = name or f"tmp{next(counter)}"
        if plugin is None:
            marked = {
                k: fn if hasattr(fn, "core_impl") else hookimpl(fn) for k, fn in hooks.items()
            }
            plugin = types.SimpleNamespace(**marked)
        return core_manager.add_plugin(plugin, name=label)

    return add
