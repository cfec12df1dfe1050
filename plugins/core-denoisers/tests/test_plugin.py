"""Registration, the conformance kit and the `core denoisers params` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.cli import main
from core.testing import check_component


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("mlp-denoiser", {"hidden_dim": 16}),
        ("mlp-denoiser", {"hidden_dim": 16, "data_dim": 3, "num_classes": 4}),
        ("cnn-denoiser", {"base_channels": 4}),
        ("cnn-denoiser", {"in_channels": 3, "base_channels": 4, "num_classes": 10}),
        ("cnn-denoiser-large", {"base_channels": 4}),
    ],
)
def test_conformance(name, config):
    report = check_component("model", name, config)
    assert "save-load" in report.checks
    assert "bad-config" in report.checks


@pytest.mark.parametrize(
    "bad", [{"base_channels": 0}, {"in_channels": "three"}, {"num_classes": -1}]
)
def test_bad_values_are_config_errors(bad):
    check_component("model", "cnn-denoiser", {"base_channels": 4}, bad_config=bad)


def test_registration_is_torch_free():
    code = (
        "import sys, core\n"
        "from core.building import get_entry\n"
        "for n in ('mlp-denoiser', 'cnn-denoiser', 'cnn-denoiser-large', 'CNNDenoiser'):\n"
        "    e = get_entry('model', n); e.load_config()\n"
        "    assert e.plugin == 'denoisers', e.plugin\n"
        "import core_denoisers, core_denoisers.plugin, core_denoisers.commands\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_params_command_prints_the_reference_counts(capsys):
    assert main(["denoisers", "params"]) == 0
    out = capsys.readouterr().out
    for count in ("17,282", "3,321,475", "858,305", "53,441,795"):
        assert count in out


def test_params_command_with_values(capsys):
    assert main(["denoisers", "params", "cnn-denoiser", "--set", "base_channels=32"]) == 0
    assert "858,305" in capsys.readouterr().out
    assert main(["denoisers", "params", "cnn-denoiser", "--set", "base_channels=0"]) == 2
    assert "base_channels" in capsys.readouterr().err
