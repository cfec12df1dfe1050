"""Renamed names keep working for a release, with a DeprecationWarning: the kind ``scheduler``
(now ``noise-schedule``) and the contracts' short names (now ``...Protocol``); attribute probes
of ``core`` discover no plugin."""

from __future__ import annotations

import subprocess
import sys

import pytest

import core
from core import contracts
from core.errors import RegistryError
from core.registry import Registry


class Schedule:
    pass


def test_kind_scheduler_is_noise_schedule_with_a_warning():
    reg = Registry()
    reg.register("noise-schedule", "flat", Schedule)
    with pytest.warns(DeprecationWarning, match="'scheduler' is now 'noise-schedule'"):
        assert reg.get("scheduler", "flat").target is Schedule
    with pytest.warns(DeprecationWarning):
        assert reg.normalize_kind("schedulers") == "noise-schedule"
    with pytest.warns(DeprecationWarning):
        assert reg.names("scheduler") == ["flat"]


def test_the_former_hook_still_registers_with_a_warning(tmp_plugin):
    def register_schedulers(register):
        register("flat", Schedule)

    with pytest.warns(DeprecationWarning, match="register_schedulers.*register_noise_schedules"):
        record = tmp_plugin(register_schedulers=register_schedulers, name="old-style")
    assert record.status == "loaded" and record.components == {"noise-schedule": 1}
    assert core.get_noise_schedule("flat") is Schedule


def test_core_get_scheduler_and_register_scheduler_warn(tmp_plugin):
    tmp_plugin(register_noise_schedules=lambda register: register("flat", Schedule), name="s")
    assert "get_scheduler" not in core.__all__ and "get_noise_schedule" in core.__all__
    with pytest.warns(DeprecationWarning, match="core.get_noise_schedule"):
        assert core.get_scheduler("flat") is Schedule
    with pytest.warns(DeprecationWarning):

        @core.register_scheduler("flat-too")
        class Other:
            pass

    assert core.get_noise_schedule("flat-too") is Other


def test_no_plugin_may_take_the_former_name():
    with pytest.raises(RegistryError, match="'scheduler' already names the kind 'noise-schedule'"):
        Registry().add_kind("scheduler", plugin="late")


@pytest.mark.parametrize("old", ["Logger", "NoiseSchedule", "Sampler", "Dataset", "LRSchedule"])
def test_contracts_former_names_warn(old):
    with pytest.warns(DeprecationWarning, match=f"core.contracts.{old}Protocol"):
        assert getattr(contracts, old) is getattr(contracts, f"{old}Protocol")
    with pytest.raises(AttributeError):
        contracts.NoSuchProtocolName  # noqa: B018


def test_probing_core_for_a_kind_function_discovers_no_plugin():
    code = (
        "import sys, core, core.plugins as p\n"
        "assert not hasattr(core, 'get_x') and not hasattr(core, 'register_nothing')\n"
        "assert hasattr(core, 'get_model') and hasattr(core, 'get_scheduler')\n"
        "assert p._manager is None, 'a probe created the plugin manager'\n"
        "loaded = [m for m in sys.modules if m.startswith('core_')]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_plugin_kind_has_its_getter_once_plugins_are_loaded(tmp_plugin):
    tmp_plugin(register_kinds=lambda register: register("gadget", "gadgets"), name="gadgets")
    tmp_plugin(register_gadgets=lambda register: register("g", Schedule), name="g")
    assert core.get_gadget("g") is Schedule


def test_user_docs_name_no_private_module_of_core():
    """Underscore modules are core's own business: the user docs name public modules only
    (ARCHITECTURE.md, the contributors' map, names them all)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pages = [*root.joinpath("docs").rglob("*.md"), root / "README.md"]
    pages += root.joinpath("plugins").glob("*/README.md")
    private = re.compile(r"\bcore\._[a-z]\w*")
    found = [f"{p.relative_to(root)}: {m}" for p in pages for m in private.findall(p.read_text())]
    assert not found, found


@pytest.mark.parametrize(("old", "new"), [("components", "building"), ("modules", "base_model")])
def test_old_module_paths_warn_and_give_the_new_module(old, new):
    code = (
        "import importlib, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module('core.{old}')\n"
        f"assert old is importlib.import_module('core.{new}'), old\n"
        "assert any(issubclass(w.category, DeprecationWarning)\n"
        f"           and 'core.{old} is now core.{new}' in str(w.message) for w in caught)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
