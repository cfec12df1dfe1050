"""``core sample --class K --guidance S``, ``sample.guidance_scale`` and the evaluation file names."""

from __future__ import annotations

import json

import pytest
import yaml

from core.cli import main

UNET = {
    "type": "unet",
    "base_channels": 8,
    "channel_mults": [1, 2],
    "num_res_blocks": 1,
    "num_classes": 10,
}


@pytest.fixture
def run_config(digits_ddpm_config):
    def make(**model):
        config = digits_ddpm_config(UNET, **model)
        config["sample"] = {"n": 20, "guidance_scale": 2.0}
        config["evaluate"] = {"metric": "accuracy", "n": 20}
        return config

    return make


@pytest.fixture
def guided_run(tmp_path, monkeypatch, run_config):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(run_config(label_dropout=0.1)))
    assert main(["train", "c.yaml", "--quiet"]) == 0  # the grid uses sample.guidance_scale
    assert (tmp_path / "runs/c/samples.png").is_file()
    return tmp_path / "runs/c"


def test_core_sample_with_class_and_guidance(guided_run, capsys):
    assert main(["sample", str(guided_run), "-n", "4", "--class", "7", "--guidance", "3"]) == 0
    assert "wrote 4 samples" in capsys.readouterr().out
    assert main(["sample", str(guided_run), "-n", "4", "--guidance", "-1"]) == 2
    interval = ["--sampler-option", "guidance_interval=[0.3,5]"]
    assert main(["sample", str(guided_run), "-n", "4", "--guidance", "3", *interval]) == 0
    capsys.readouterr()
    bad = ["--sampler-option", "guidance_interval=[5,0.3]"]
    assert main(["sample", str(guided_run), "-n", "4", "--guidance", "3", *bad]) == 2
    assert "guidance_interval needs 0 <= low < high" in capsys.readouterr().err


def test_a_model_without_label_dropout_refuses_guidance(tmp_path, monkeypatch, capsys, run_config):
    monkeypatch.chdir(tmp_path)
    config = run_config()
    config["sample"] = {"n": 4}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "c.yaml", "--quiet"]) == 0
    assert main(["sample", "runs/c", "-n", "2", "--class", "7", "--guidance", "3"]) == 2
    assert "trained with label dropout" in capsys.readouterr().err
    assert main(["sample", "runs/c", "-n", "2", "--class", "7"]) == 0


def test_evaluations_with_other_settings_do_not_overwrite_each_other(guided_run, capsys):
    assert main(["evaluate", str(guided_run)]) == 0  # sampler and steps: the model's defaults
    assert main(["evaluate", str(guided_run), "--steps", "2", "--seed", "1"]) == 0
    assert main(["evaluate", str(guided_run), "--sampler", "heun-karras", "--guidance", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("accuracy: ") and "ceiling" in out
    names = sorted(p.name for p in guided_run.glob("eval_*.json"))
    assert names == [
        "eval_accuracy_ddim-2_cfg2_seed1.json",
        "eval_accuracy_ddim-3_cfg2_seed0.json",
        "eval_accuracy_heun-karras-3_cfg1_seed0.json",  # the model's sample_steps
    ]
    result = json.loads((guided_run / names[0]).read_text())
    assert (result["steps"], result["seed"], result["guidance_scale"]) == (2, 1, 2.0)
