"""The command line: listing stays torch-free, errors are one line with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHECK_NO_TORCH = (
    "import sys; from core.cli import main; code = main(sys.argv[1:]); "
    "assert 'torch' not in sys.modules, 'torch was imported'; "
    "assert 'pydantic' not in sys.modules or sys.argv[1] in {'info', 'schema'}, 'pydantic'; "
    "sys.exit(code)"
)


def core_cli(*args, env=None, check=True, no_torch=False):
    command = (
        [sys.executable, "-c", CHECK_NO_TORCH, *args]
        if no_torch
        else [
            sys.executable,
            "-m",
            "core",
            *args,
        ]
    )
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["train", "--help"],
        ["plugins", "--help"],
        ["plugins", "list"],
        ["plugins", "list", "--all", "--json"],
        ["components", "list"],
        ["components", "list", "dataset", "toy*"],
        ["components", "list", "lr-schedule"],
        ["info", "toy2d"],
        ["info", "cosine", "--kind", "lr-schedule"],
        ["schema", "toy2d"],
        ["pretrained", "list"],
        ["pretrained", "info", "digit-classifier"],
    ],
)
def test_listing_and_describing_never_import_torch(args):
    core_cli(*args, no_torch=True)


def test_importtime_shows_no_torch():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "core", "plugins", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert not [line for line in result.stderr.splitlines() if line.rstrip().endswith("| torch")]


def test_plugins_list_json_includes_builtins_with_all():
    data = json.loads(core_cli("plugins", "list", "--all", "--json").stdout)
    core_record = next(p for p in data["plugins"] if p["name"] == "core")
    assert core_record["status"] == "loaded" and core_record["components"]["dataset"] >= 1
    plain = json.loads(core_cli("plugins", "list", "--json").stdout)
    assert all(not p["builtin"] for p in plain["plugins"])


def test_failed_plugin_is_shown_in_one_line_and_exit_code_stays_zero(fake_dist):
    site = fake_dist("core-bad", "bad", "raise RuntimeError('kaboom')\n")
    env = {"PYTHONPATH": str(site), "CORE_LOAD_PLUGINS": "bad"}
    result = core_cli("plugins", "list", env=env)
    assert "bad: failed to import: RuntimeError: kaboom" in result.stdout
    strict = core_cli("plugins", "list", env={**env, "CORE_STRICT_PLUGINS": "1"}, check=False)
    assert strict.returncode == 2
    assert strict.stderr.count("\n") == 1 and "CORE_STRICT_PLUGINS" in strict.stderr


def test_plugins_check_reports_misspelled_hook_with_exit_2(fake_dist):
    site = fake_dist(
        "core-typo",
        "typo",
        "from core import hookimpl\n\n@hookimpl\ndef register_modles(register):\n    pass\n",
    )
    result = core_cli(
        "plugins", "check", env={"PYTHONPATH": str(site), "CORE_LOAD_PLUGINS": "typo"}, check=False
    )
    assert result.returncode == 2
    assert "unknown hook 'register_modles'" in result.stdout


def test_unknown_component_is_one_line_exit_2_and_debug_shows_traceback():
    result = core_cli("info", "toy2e", check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown component 'toy2e'; did you mean 'toy2d'?"
    ]
    debug = core_cli("--debug", "info", "toy2e", check=False)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_info_shows_provider_and_parameters():
    out = core_cli("info", "toy2d").stdout
    assert "provider:    core (core 0.1.0)" in out
    assert "moons|swiss-roll|gaussian-mixture" in out and "number of points" in out


def test_schema_is_json_schema():
    document = json.loads(core_cli("schema", "toy2d").stdout)
    assert document["additionalProperties"] is False
    assert document["properties"]["size"]["minimum"] == 1


def test_components_list_filters_by_pattern_and_kind():
    data = json.loads(core_cli("components", "list", "toy*", "--json").stdout)
    assert [d["name"] for d in data] == ["toy2d"]
    assert json.loads(core_cli("components", "list", "model", "toy*", "--json").stdout) == []
    bad = core_cli("components", "list", "modle", "x*", check=False)
    assert bad.returncode == 2 and "did you mean 'model'" in bad.stderr


def test_usage_errors_exit_2():
    assert core_cli("no-such-command", check=False).returncode == 2


def test_pretrained_list_uses_core_home(tmp_path):
    out = core_cli("pretrained", "list", env={"CORE_HOME": str(tmp_path)}).stdout
    assert str(tmp_path) in out or "REFERENCE" in out
