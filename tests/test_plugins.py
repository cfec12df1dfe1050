"""Plugin discovery through entry points: isolation, rollback, allow and block lists, checks."""

from __future__ import annotations

import sys

import pytest

from core.errors import PluginError
from core.plugins import PluginManager

GOOD = """
from core import hookimpl

@hookimpl
def register_models(register):
    register("good-model", "json:dumps", description="a good one")
"""

RAISES_AT_IMPORT = """
raise RuntimeError("broken at import")
"""

RAISES_IN_HOOK = """
from core import hookimpl

@hookimpl
def register_models(register):
    register("half-registered", "json:dumps")
    raise ValueError("broken in hook")
"""

MISSPELLED = """
from core import hookimpl

@hookimpl
def register_modles(register):
    pass

@hookimpl
def register_losses(register):
    register("typo-loss", "json:dumps")
"""


def _manager(monkeypatch, allow="", strict=False):
    monkeypatch.setenv("CORE_LOAD_PLUGINS", allow)
    monkeypatch.delenv("CORE_DISABLE_PLUGINS", raising=False)
    return PluginManager(strict=strict).load()


def test_failing_plugins_are_isolated_and_the_rest_works(fake_dist, monkeypatch):
    fake_dist("core-good", "good", GOOD)
    fake_dist("core-bad", "bad", RAISES_AT_IMPORT)
    fake_dist("core-half", "half", RAISES_IN_HOOK)
    manager = _manager(monkeypatch, "good,bad,half")
    records = manager.records
    assert records["good"].status == "loaded"
    assert records["good"].distribution == "core-good" and records["good"].version == "0.1.0"
    assert records["good"].components == {"model": 1}
    assert records["bad"].status == "failed" and "broken at import" in records["bad"].error
    assert records["half"].status == "failed" and "broken in hook" in records["half"].error
    names = manager.registry.names("model")
    assert "good-model" in names
    assert "half-registered" not in names  # partial registrations rolled back


def test_strict_mode_turns_a_failure_into_an_error(fake_dist, monkeypatch):
    fake_dist("core-bad", "bad", RAISES_AT_IMPORT)
    monkeypatch.setenv("CORE_STRICT_PLUGINS", "1")
    monkeypatch.setenv("CORE_LOAD_PLUGINS", "bad")
    with pytest.raises(PluginError, match=r"plugin 'bad' failed to import.*CORE_STRICT_PLUGINS"):
        PluginManager().load()


def test_allowlist_is_applied_before_import(fake_dist, monkeypatch):
    fake_dist("core-good", "good", GOOD)
    fake_dist("core-other", "other", RAISES_AT_IMPORT)
    manager = _manager(monkeypatch, "core-good")  # distribution names work too
    assert manager.records["good"].status == "loaded"
    assert manager.records["other"].status == "disabled"
    assert "fake_other_plugin" not in sys.modules


def test_empty_allowlist_loads_no_plugin(fake_dist, monkeypatch):
    fake_dist("core-good", "good", GOOD)
    manager = _manager(monkeypatch, "")
    assert all(r.status == "disabled" for r in manager.plugins(include_builtins=False))
    assert "fake_good_plugin" not in sys.modules
    assert manager.records["core"].status == "loaded"  # built-ins always load


def test_blocklist_is_applied_before_import(fake_dist, monkeypatch):
    fake_dist("core-good", "good", GOOD)
    monkeypatch.delenv("CORE_LOAD_PLUGINS", raising=False)
    monkeypatch.setenv("CORE_DISABLE_PLUGINS", "good")
    manager = PluginManager().load()
    assert manager.records["good"].status == "disabled"
    assert "CORE_DISABLE_PLUGINS" in manager.records["good"].error
    assert "fake_good_plugin" not in sys.modules


def test_misspelled_hook_is_reported_by_check(fake_dist, monkeypatch):
    fake_dist("core-typo", "typo", MISSPELLED)
    manager = _manager(monkeypatch, "typo")
    assert manager.records["typo"].unknown_hooks == ["register_modles"]
    problems = manager.check()
    assert any(
        "unknown hook 'register_modles'" in p and "did you mean 'register_models'" in p
        for p in problems
    )


def test_check_reports_unimportable_targets(core_manager):
    core_manager.registry.register("model", "ghost", "no_such_mod_abc:Ghost", plugin="p")
    assert any("no_such_mod_abc" in p for p in core_manager.check())


def test_builtins_register_through_the_same_hooks(core_manager):
    record = core_manager.records["core"]
    assert record.builtin and record.status == "loaded"
    assert "register_datasets" in record.hooks
    assert core_manager.registry.get("dataset", "toy2d").plugin == "core"


def test_plugin_with_invalid_hook_signature_is_isolated(tmp_plugin, core_manager):
    from core import hookimpl

    @hookimpl
    def register_models(register, extra_argument):
        pass

    record = tmp_plugin(register_models=register_models, name="wrongsig")
    assert record.status == "failed" and "extra_argument" in record.error
    assert core_manager.records["core"].status == "loaded"
