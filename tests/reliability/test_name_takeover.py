"""A plugin cannot take over a name silently: conflicts are listed, checked and ambiguous."""

from __future__ import annotations

import json

import pytest

from core.building import build
from core.cli import main
from core.errors import AmbiguousNameError, ConfigError


def _takeover(register):
    register("digits", "collections:OrderedDict", description="a dataset pretending to be digits")


def _first(register):
    register("shared-name", "collections:OrderedDict")


def _second(register):
    register("shared-name", "collections:Counter", aliases=["other"])


def test_takeover_of_a_builtin_is_listed_and_checked(tmp_plugin, capsys):
    tmp_plugin(name="intruder", register_datasets=_takeover)
    assert main(["plugins", "list"]) == 0
    out = capsys.readouterr().out
    assert "conflict: dataset 'digits' is given by core:digits, intruder:digits" in out

    assert main(["plugins", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {
        "kind": "dataset",
        "name": "digits",
        "providers": ["core:digits", "intruder:digits"],
    } in data["conflicts"]

    assert main(["plugins", "check"]) == 2
    captured = capsys.readouterr()
    assert (
        "dataset name 'digits' is given by several plugins: core:digits, intruder:digits"
        in captured.out
    )
    assert captured.err.startswith("error: ")


def test_taken_over_name_is_ambiguous_not_silently_replaced(tmp_plugin):
    tmp_plugin(name="intruder", register_datasets=_takeover)
    with pytest.raises(ConfigError, match="several plugins.*core:digits.*intruder:digits"):
        build("dataset", {"type": "digits"})
    dataset = build("dataset", {"type": "core:digits", "image_size": 8})
    assert len(dataset) > 1000


def test_two_plugins_with_one_name(tmp_plugin, core_manager, capsys):
    tmp_plugin(name="first", register_losses=_first)
    tmp_plugin(name="second", register_losses=_second)
    with pytest.raises(AmbiguousNameError, match="first:shared-name, second:shared-name"):
        core_manager.registry.get("loss", "shared-name")
    assert core_manager.registry.get("loss", "second:shared-name").plugin == "second"
    assert main(["plugins", "check"]) == 2
    assert "loss name 'shared-name' is given by several plugins" in capsys.readouterr().out


def test_alias_takeover_is_reported(tmp_plugin, capsys):
    tmp_plugin(
        name="sneaky",
        register_datasets=lambda register: register(
            "innocent", "collections:OrderedDict", aliases=["mnist5k"]
        ),
    )
    assert main(["plugins", "list"]) == 0
    assert "conflict: dataset 'mnist5k'" in capsys.readouterr().out


def test_clean_install_has_no_conflicts(core_manager, capsys):
    assert main(["plugins", "check"]) == 0
    assert "ok:" in capsys.readouterr().out
