"""A host no plugin can take down, and kinds as declared contracts.

Each case of issue 17 has a test here: a plugin calling ``sys.exit``, wrapper hooks, hooks
returning values, an incompatible core requirement, an import that pulls in torch, the lazy
command line and config declared twice (no second list of kinds: tests/test_kind_lists.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import core
from core.errors import PluginError
from core.kinds import BUILTIN_KINDS
from core.plugins import PluginManager

REPO = Path(__file__).resolve().parents[1]

EXITS_AT_IMPORT = "import sys\nsys.exit(3)\n"
EXITS_IN_HOOK = """
from core import hookimpl

@hookimpl
def register_models(register):
    register("left-behind", "json:dumps")
    raise SystemExit("bye")
"""
GOOD = """
import click
from core import hookimpl

@hookimpl
def register_models(register):
    register("good-model", "json:dumps")

@hookimpl
def register_commands(cli):
    @cli.command("good-hello")
    def hello():
        click.echo("hello from good")
"""
IMPORTS_TORCH = """
import torch
from core import hookimpl

@hookimpl
def register_models(register):
    register("heavy-model", "json:dumps")
"""


def _manager(monkeypatch, allow, strict=False):
    monkeypatch.setenv("CORE_LOAD_PLUGINS", allow)
    monkeypatch.delenv("CORE_DISABLE_PLUGINS", raising=False)
    return PluginManager(strict=strict).load()


def _core(*args, site=None, extra_env=None, check_modules=None):
    """Run ``core`` in a subprocess; optionally assert modules absent from sys.modules after."""
    env = {**os.environ, **(extra_env or {})}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    code = "import sys; from core.cli import main; code = main(sys.argv[1:]); "
    for module in check_modules or ():
        code += f"assert {module!r} not in sys.modules, '{module} was imported'; "
    code += "sys.exit(code)"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )


# -- isolation ------------------------------------------------------------------------------------
def test_sys_exit_at_import_fails_only_that_plugin(fake_dist, monkeypatch):
    fake_dist("core-quitter", "quitter", EXITS_AT_IMPORT)
    fake_dist("core-good", "good", GOOD)
    manager = _manager(monkeypatch, "quitter,good")
    assert manager.records["quitter"].status == "failed"
    assert "SystemExit" in manager.records["quitter"].error
    assert manager.records["good"].status == "loaded"


def test_sys_exit_in_a_hook_rolls_back_and_keeps_the_rest(fake_dist, monkeypatch):
    fake_dist("core-quitter", "quitter", EXITS_IN_HOOK)
    fake_dist("core-good", "good", GOOD)
    manager = _manager(monkeypatch, "quitter,good")
    assert manager.records["quitter"].status == "failed"
    assert "good-model" in manager.registry.names("model")
    assert "left-behind" not in manager.registry.names("model")


def test_every_command_survives_a_plugin_calling_sys_exit(fake_dist):
    site = fake_dist("core-quitter", "quitter", EXITS_AT_IMPORT)
    fake_dist("core-good", "good", GOOD)
    env = {"CORE_LOAD_PLUGINS": "quitter,good"}
    shown = _core("--help", site=site, extra_env=env)
    assert shown.returncode == 0 and "good-hello" in shown.stdout, shown.stderr
    listed = _core("plugins", "list", site=site, extra_env=env)
    assert listed.returncode == 0
    assert "quitter: failed to import: SystemExit" in listed.stdout
    assert _core("good-hello", site=site, extra_env=env).stdout == "hello from good\n"


def test_keyboard_interrupt_is_not_swallowed(tmp_plugin):
    def register_models(register):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tmp_plugin(register_models=register_models, name="interrupted")


@pytest.mark.parametrize("style", ["wrapper", "hookwrapper"])
def test_wrapper_hooks_are_refused_with_a_plugin_error(tmp_plugin, core_manager, style):
    from core import hookimpl

    @hookimpl(**{style: True})
    def register_models(register):
        register("wrapped", "json:dumps")
        yield

    record = tmp_plugin(register_models=register_models, name="wrapping")
    assert record.status == "failed"
    assert f"hook 'register_models' is marked {style}=True" in record.error
    assert "wrapped" not in core_manager.registry.names("model")
    with pytest.raises(PluginError, match="plugin 'wrapping'.*register_models"):
        PluginManager(autoload=False, builtins=False, strict=True).add_plugin(
            type("P", (), {"register_models": staticmethod(register_models)}), name="wrapping"
        )


def test_a_hook_returning_a_value_is_refused(tmp_plugin, core_manager):
    def register_losses(register):
        register("returned", "json:dumps")
        return ["returned"]

    record = tmp_plugin(register_losses=register_losses, name="returner")
    assert record.status == "failed"
    assert "hook 'register_losses' returned a list" in record.error
    assert "returned" not in core_manager.registry.names("loss")


def test_a_one_line_lambda_hook_is_not_a_returned_value(tmp_plugin, core_manager):
    record = tmp_plugin(
        register_losses=lambda register: register("one-liner", "json:dumps"), name="terse"
    )
    assert record.status == "loaded" and "one-liner" in core_manager.registry.names("loss")


# -- compatibility ---------------------------------------------------------------------------------
def test_incompatible_core_requirement_is_never_imported(fake_dist, monkeypatch):
    fake_dist("core-future", "future", GOOD, requires_core=">=9.0")
    fake_dist("core-fits", "fits", GOOD.replace("good", "fits"), requires_core=">=0.1,<1")
    manager = _manager(monkeypatch, "future,fits")
    record = manager.records["future"]
    assert record.status == "incompatible" and record.requires_core == ">=9.0"
    assert f"requires core>=9.0, this is core {core.__version__}" in record.error
    assert "fake_future_plugin" not in sys.modules
    assert manager.records["fits"].status == "loaded"


def test_unknown_name_of_an_unavailable_distribution_says_why():
    from core.registry import Registry

    registry = Registry()
    registry.unavailable["core-diffusion"] = "disabled by CORE_DISABLE_PLUGINS"
    with pytest.raises(core.UnknownComponentError, match="installed but not loaded .disabled by"):
        registry.get("model", "ddpm")


def test_incompatible_plugin_is_shown_with_its_range_and_strict_mode_exits_2(fake_dist):
    site = fake_dist("core-future", "future", GOOD, requires_core=">=9.0")
    env = {"CORE_LOAD_PLUGINS": "future"}
    listed = _core("plugins", "list", site=site, extra_env=env)
    assert listed.returncode == 0
    assert "incompatible" in listed.stdout and "requires core>=9.0" in listed.stdout
    strict = _core("plugins", "list", site=site, extra_env={**env, "CORE_STRICT_PLUGINS": "1"})
    assert strict.returncode == 2
    assert strict.stderr.startswith("error: plugin 'future'") and "Traceback" not in strict.stderr


# -- what core plugins check reports ---------------------------------------------------------------
def test_plugins_check_warns_about_a_plugin_importing_torch(fake_dist):
    site = fake_dist("core-heavy", "heavy", IMPORTS_TORCH)
    done = _core("plugins", "check", site=site, extra_env={"CORE_LOAD_PLUGINS": "heavy"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning: plugin 'heavy' imports torch when it loads (" in done.stdout
    assert " s added to every core command" in done.stdout


def test_plugins_check_reports_a_config_declared_twice_differently(tmp_path, monkeypatch):
    (tmp_path / "twice_mod.py").write_text(
        "from core import Component\n"
        "from core.schema import ComponentConfig\n"
        "class A(ComponentConfig):\n    pass\n"
        "class B(ComponentConfig):\n    pass\n"
        "class Thing(Component):\n    config_class = B\n"
        "class Child(ComponentConfig):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    manager = PluginManager(autoload=False).load()
    manager.registry.register("model", "twice", "twice_mod:Thing", config="twice_mod:A")
    manager.registry.register("model", "once", "twice_mod:Thing", config="twice_mod:B")
    problems = manager.check()
    assert any("model 'twice'" in p and "twice_mod:A" in p and "twice_mod:B" in p for p in problems)
    assert not any("model 'once'" in p for p in problems)


# -- the command line stays lazy -----------------------------------------------------------------------
PLUGIN_MODULES = [f"core_{p}" for p in ("gan", "vae", "diffusion", "difflut", "denoisers")]


@pytest.mark.parametrize(
    "args", [["--version"], ["train", "--help"], ["plugins", "--help"], ["sample", "--help"]]
)
def test_version_and_core_command_help_import_no_plugin(args):
    done = _core(*args, check_modules=[*PLUGIN_MODULES, "core_autoencoder", "torch"])
    assert done.returncode == 0, done.stderr


def test_root_help_lists_plugin_commands():
    done = _core("--help")
    assert done.returncode == 0
    assert "difflut" in done.stdout  # a first-party plugin's command group


# -- one declaration of the kinds (the second-list guard: tests/test_kind_lists.py) ----------
def test_core_names_no_plugin():
    """Only the generated provider index (a JSON file) knows first-party distributions."""
    packages = [p.name for p in (REPO / "plugins").iterdir() if (p / "pyproject.toml").is_file()]
    pattern = [*packages, *(name.replace("-", "_") for name in packages)]
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "core").rglob("*.py")
        if any(name in path.read_text(encoding="utf-8") for name in pattern)
    ]
    assert offenders == []


def test_first_party_plugins_use_only_declared_kinds():
    manager = core.get_manager()
    declared = {kind.name for kind in BUILTIN_KINDS}
    for record in manager.plugins(include_builtins=False):
        if record.distribution and record.distribution.startswith("core-"):
            assert set(record.components) - {"pretrained"} <= declared, record.name
            assert record.kinds == [] and record.unknown_hooks == [], record.name


@pytest.mark.parametrize(
    "specifier",
    [">=0.1,<0.2", ">=0.1", "<0.1", "==0.1.0", "==0.1", "!=0.1.0", ">0.0.9", "<=0.1", ">=1.0"],
)
@pytest.mark.parametrize("version", ["0.1.0", "0.2", "1.0.0", "0.0.9"])
def test_release_ranges_are_judged_as_packaging_does(specifier, version):
    from packaging.specifiers import SpecifierSet

    from core._plugin_guard import _accepts_release

    expected = SpecifierSet(specifier).contains(version, prereleases=True)
    assert _accepts_release(specifier, version) is expected


def test_other_ranges_are_left_to_packaging():
    from core._plugin_guard import _accepts_release

    assert _accepts_release("~=0.1", "0.1.0") is None
    assert _accepts_release("==0.1.*", "0.1.0") is None
    assert _accepts_release(">=0.1", "0.2.0.dev1") is None
