"""Plugins checked at the boundary: kinds, case, exits, threads, Ctrl-C, duplicates, commands."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import click
import pytest

from core import hookimpl
from core.cli import build_cli, main
from core.errors import AmbiguousNameError, PluginError, RegistryError
from core.plugins import PluginManager, set_manager
from core.registry import Registry
from core.testing import isolated_manager


def _manager(monkeypatch, allow):
    monkeypatch.setenv("CORE_LOAD_PLUGINS", allow)
    monkeypatch.delenv("CORE_DISABLE_PLUGINS", raising=False)
    return PluginManager().load()


def _kinds(*declarations):
    def register_kinds(register):
        for name, options in declarations:
            register(name, "a kind", **options)

    return register_kinds


# -- kinds ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "options", "word"),
    [
        ("models", {}, "'models' already names the kind 'model' of core"),
        ("gizmo", {"plural": "models"}, "'models' already names the kind 'model' of core"),
        ("los", {}, "'loss' already names the kind 'loss' of core"),
        ("pretrain", {"plural": "pretrained"}, "'pretrained' already names the kind 'pretrained'"),
        ("command", {}, "hook 'register_commands' is one core already calls"),
        ("component", {}, "hook 'register_components' is one core already calls"),
        ("kind", {}, "hook 'register_kinds' is one core already calls"),
        ("gizmo", {"plural": "gizmo s"}, "invalid plural 'gizmo s'"),
    ],
)
def test_a_kind_that_collides_is_refused_naming_its_plugin(
    tmp_plugin, core_manager, name, options, word
):
    record = tmp_plugin(register_kinds=_kinds((name, options)), name="grabber")
    assert record.status == "failed"
    assert f"declares the kind '{name}'" in record.error and word in record.error
    assert name not in core_manager.registry.kinds


def test_a_plural_taking_models_leaves_every_model_a_model(tmp_plugin, core_manager):
    tmp_plugin(register_kinds=_kinds(("gizmo", {"plural": "models"})), name="grabber")
    victim = tmp_plugin(
        register_models=lambda register: register("victim-model", "json:dumps"), name="victim"
    )
    assert victim.status == "loaded" and victim.components == {"model": 1}
    assert core_manager.registry.get("model", "victim-model").kind == "model"
    assert core_manager.registry.normalize_kind("models") == "model"
    problems = core_manager.check()
    assert any(p.startswith("plugin 'grabber' declares the kind 'gizmo'") for p in problems)
    assert not any("victim" in p for p in problems)


def test_a_kind_that_collides_with_another_plugins_kind_is_refused(tmp_plugin, core_manager):
    assert tmp_plugin(register_kinds=_kinds(("gizmo", {})), name="first").status == "loaded"
    second = tmp_plugin(register_kinds=_kinds(("gizmos", {})), name="second")
    assert second.status == "failed"
    assert "'gizmos' already names the kind 'gizmo' of plugin 'first'" in second.error


def test_a_plain_new_kind_is_still_accepted(tmp_plugin, core_manager):
    record = tmp_plugin(register_kinds=_kinds(("gizmo", {}), ("mouse", {"plural": "mice"})))
    assert record.status == "loaded" and record.kinds == ["gizmo", "mouse"]
    assert core_manager.registry.normalize_kind("mice") == "mouse"


# -- names differing in case -----------------------------------------------------------------------
def test_names_differing_only_in_case_are_a_conflict(tmp_plugin, core_manager):
    tmp_plugin(
        name="shouter",
        register_datasets=lambda register: register("Digits", "collections:OrderedDict"),
    )
    conflicts = core_manager.registry.conflicts()
    assert ("dataset", "Digits", ["core:digits", "shouter:Digits"]) in conflicts
    with pytest.raises(AmbiguousNameError, match="core:digits, shouter:Digits"):
        core_manager.registry.get("dataset", "digits")
    with pytest.raises(AmbiguousNameError, match="core:digits, shouter:Digits"):
        core_manager.registry.get("dataset", "Digits")
    assert core_manager.registry.get("dataset", "core:digits").plugin == "core"
    assert any(
        "dataset name 'Digits' is given by several plugins" in p for p in core_manager.check()
    )


def test_one_plugin_may_register_names_differing_in_case():
    registry = Registry()
    registry.register("model", "Net", "json:dumps", plugin="a")
    registry.register("model", "net", "json:loads", plugin="a")
    assert registry.conflicts() == []
    assert registry.get("model", "net").target == "json:loads"


# -- registration stays linear ----------------------------------------------------------------------
def _registration_seconds(count):
    @hookimpl
    def register_models(register):
        for n in range(count):
            register(f"model-{n}", "json:dumps")

    manager = PluginManager(autoload=False, builtins=False)
    gc.collect()
    gc.disable()  # the collector's passes are noise here, not the cost under test
    try:
        start = time.perf_counter()
        record = manager.add_plugin(SimpleNamespace(register_models=register_models), name="n")
        manager.registry.conflicts()
        seconds = time.perf_counter() - start
    finally:
        gc.enable()
    assert record.components == {"model": count}, record.error
    return seconds


def test_registering_20000_components_is_not_quadratic():
    small = min(_registration_seconds(5_000) for _ in range(3))
    large = min(_registration_seconds(20_000) for _ in range(3))
    assert large / small < 8, f"5,000 took {small:.3f} s, 20,000 took {large:.3f} s"


# -- the guard: os._exit, threads, Ctrl-C -----------------------------------------------------------
EXITS = "import os\nos._exit(0)\n"
STARTS_A_THREAD = """
import threading
from core import hookimpl

STOP = threading.Event()
threading.Thread(target=STOP.wait, args=(600,), name="forever").start()

@hookimpl
def register_models(register):
    register("threaded-model", "json:dumps")
"""
INTERRUPTS = "raise KeyboardInterrupt\n"
GOOD = """
from core import hookimpl

@hookimpl
def register_models(register):
    register("good-model", "json:dumps")
"""


def test_os_exit_at_import_fails_that_plugin_and_the_rest_loads(fake_dist, monkeypatch):
    fake_dist("core-quitter", "quitter", EXITS)
    fake_dist("core-good", "good", GOOD)
    manager = _manager(monkeypatch, "quitter,good")
    assert manager.records["quitter"].status == "failed"
    assert manager.records["quitter"].error == "failed to import: it called os._exit(0)"
    assert manager.records["good"].status == "loaded"
    assert os._exit.__name__ == "_exit"  # the real one again


def _run_core(site, *args, allow):
    paths = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": paths, "CORE_LOAD_PLUGINS": allow}
    return subprocess.run(
        [sys.executable, "-m", "core", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_a_thread_left_by_a_plugin_does_not_hang_the_command(fake_dist):
    site = fake_dist("core-threads", "threads", STARTS_A_THREAD)
    start = time.monotonic()
    done = _run_core(site, "components", "list", "model", "threaded*", allow="threads")
    assert time.monotonic() - start < 30
    assert done.returncode == 0, done.stderr
    assert "threaded-model" in done.stdout
    assert "warning: plugin 'threads' left thread(s) forever running" in done.stderr


def test_check_reports_a_thread_left_by_a_plugin(fake_dist, monkeypatch):
    fake_dist("core-threads", "threads", STARTS_A_THREAD)
    manager = _manager(monkeypatch, "threads")
    try:
        assert manager.records["threads"].threads == ["forever"]
        assert any("plugin 'threads' left non-daemon thread(s)" in p for p in manager.check())
        assert manager.lingering_threads() == {"threads": ["forever"]}
    finally:
        sys.modules["fake_threads_plugin"].STOP.set()


def test_keyboard_interrupt_at_import_names_the_plugin(fake_dist, monkeypatch, capsys):
    fake_dist("core-ctrlc", "ctrlc", INTERRUPTS)
    with pytest.raises(KeyboardInterrupt, match="interrupted inside plugin 'ctrlc'"):
        _manager(monkeypatch, "ctrlc")
    previous = set_manager(PluginManager())
    try:
        assert main(["plugins", "list"]) == 1
    finally:
        set_manager(previous)
    assert capsys.readouterr().err.strip() == "aborted: interrupted inside plugin 'ctrlc'"


def test_plugins_check_warns_about_a_slow_import(fake_dist, monkeypatch, capsys):
    site = fake_dist("core-slow", "slow", "import time\ntime.sleep(1.1)\n")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("CORE_LOAD_PLUGINS", "slow")
    with isolated_manager(autoload=True):
        main(["plugins", "check"])
    out = capsys.readouterr().out
    assert "warning: plugin 'slow' takes 1." in out and "s to import" in out


# -- entry points ------------------------------------------------------------------------------------
def test_two_distributions_with_one_entry_point_name_are_both_listed(fake_dist, monkeypatch):
    fake_dist("core-first", "twin", GOOD, module="fake_first_twin")
    fake_dist("core-second", "twin", GOOD, module="fake_second_twin")
    manager = _manager(monkeypatch, "twin")
    twins = [r for r in manager.plugins() if r.name == "twin"]
    assert sorted(r.distribution for r in twins) == ["core-first", "core-second"]
    loaded = [r for r in twins if r.status == "loaded"]
    refused = [r for r in twins if r.status == "failed"]
    assert len(loaded) == 1 and len(refused) == 1
    message = refused[0].error
    assert f"taken by {loaded[0].distribution}" in message and "\n" not in message
    assert len(message) < 200
    assert refused[0].module not in sys.modules  # never imported


def test_registering_one_object_twice_is_one_line(core_manager):
    plugin = type("P", (), {})
    core_manager.add_plugin(plugin, name="once")
    record = core_manager.add_plugin(plugin, name="twice")
    assert record.status == "failed"
    assert "already registered as plugin 'once'" in record.error and len(record.error) < 200


# -- commands ------------------------------------------------------------------------------------------
def test_core_commands_are_built_by_the_cli_not_the_hook(core_manager):
    assert "register_commands" not in core_manager.records["core"].hooks
    commands = build_cli().commands
    assert {"train", "sample", "evaluate", "new-plugin"} <= set(commands)


def _fake_train():
    @click.command("train", help="Totally core's train, trust me.")
    def train():
        click.echo("hijacked")

    return train


def test_a_plugin_cannot_replace_a_core_command(tmp_plugin, core_manager, capsys):
    tmp_plugin(name="hijacker", register_commands=lambda cli: cli.add_command(_fake_train()))
    assert main(["--help"]) == 0
    assert "Totally core's train" not in capsys.readouterr().out
    record = core_manager.records["hijacker"]
    assert record.status == "failed"
    assert "adds the command 'train', which is one of core's own" in record.error
    assert main(["plugins", "check"]) == 2
    assert "plugin 'hijacker' adds the command 'train'" in capsys.readouterr().out


def test_a_plugin_cannot_edit_the_help_of_a_core_command(tmp_plugin, core_manager, capsys):
    def edit(cli):
        cli.commands["sample"].help = "Send your weights to evil.example."

    tmp_plugin(name="editor", register_commands=edit)
    assert main(["sample", "--help"]) == 0
    assert main(["--help"]) == 0
    assert "evil.example" not in capsys.readouterr().out
    assert build_cli().commands["sample"].help != "Send your weights to evil.example."


def test_a_second_plugin_cannot_replace_a_plugin_command(tmp_plugin, core_manager, capsys):
    def hello(text):
        @click.command("hello")
        def command():
            click.echo(text)

        return lambda cli: cli.add_command(command)

    tmp_plugin(name="first", register_commands=hello("first"))
    tmp_plugin(name="second", register_commands=hello("second"))
    assert main(["hello"]) == 0
    assert capsys.readouterr().out == "first\n"
    assert "which plugin 'first' adds" in core_manager.records["second"].error


@pytest.mark.parametrize("name", ["two words", "fake\nrow", "-x"])
def test_a_command_name_that_could_fake_help_lines_is_refused(tmp_plugin, core_manager, name):
    command = click.Command(name, callback=lambda: None)
    tmp_plugin(name="odd", register_commands=lambda cli: cli.add_command(command))
    main(["--help"])
    assert core_manager.records["odd"].status == "failed"
    assert "invalid name" in core_manager.records["odd"].error


# -- tables ---------------------------------------------------------------------------------------------
def test_a_newline_in_a_description_cannot_fake_a_row(tmp_plugin, core_manager, capsys):
    fake_row = "fine\nmodel  trusted-model  core  the official one"
    tmp_plugin(
        name="faker",
        register_models=lambda register: register(
            "faker-model", "json:dumps", description=fake_row
        ),
    )
    assert main(["components", "list", "model"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not any(line.startswith("model  trusted-model") for line in lines)
    assert any(
        line.startswith("model") and "faker-model" in line and "official" in line for line in lines
    )
    assert main(["info", "faker-model"]) == 0
    assert "\nmodel  trusted-model" not in capsys.readouterr().out


def test_a_registry_without_a_manager_still_refuses_spellings():
    registry = Registry()
    with pytest.raises(RegistryError, match="'models' already names the kind 'model'"):
        registry.add_kind("models", plugin="p")


def test_strict_mode_fails_on_a_duplicate_entry_point(fake_dist, monkeypatch):
    fake_dist("core-first", "twin", GOOD, module="fake_first_twin")
    fake_dist("core-second", "twin", GOOD, module="fake_second_twin")
    monkeypatch.setenv("CORE_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="entry point name 'twin' is taken by core-first"):
        _manager(monkeypatch, "twin")
