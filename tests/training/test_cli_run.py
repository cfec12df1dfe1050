"""``core train``, ``core sample`` and ``core evaluate`` end to end (tiny models)."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from core.cli import main

from .conftest import tiny_run


def write(path, config):
    path.write_text(yaml.safe_dump(config))
    return path


def toy_config(**train):
    return tiny_run(size=128, samples=64, **{"steps": 4, "batch_size": 32, "log_every": 2, **train})


def test_train_sample_evaluate(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = write(tmp_path / "toy.yaml", toy_config())
    assert main(["train", str(cfg), "train.steps=6", "train.ema_decay=0.9", "--quiet"]) == 0
    run = tmp_path / "runs/toy"
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["steps"] == 6
    assert main(["sample", str(run), "-n", "50", "-o", "s.png"]) == 0
    assert (tmp_path / "s.png").is_file()
    assert "ema" in capsys.readouterr().out
    code = main(["evaluate", str(run), "--metric", "sliced-wasserstein", "-n", "200", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["key"] == "sliced_wasserstein" and result["value"] > 0 and result["floor"] >= 0
    assert "train" in result["floor_description"]
    assert (
        json.loads((run / "eval_sliced-wasserstein_seed0.json").read_text())["value"]
        == result["value"]
    )


def test_resume_continues_with_more_steps(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = write(tmp_path / "toy.yaml", toy_config(lr_schedule="constant"))
    assert main(["train", str(cfg), "--run-name", "r", "--quiet"]) == 0
    assert main(["train", "--resume", "runs/r", "train.steps=8", "--quiet"]) == 0
    steps = [
        json.loads(x)["step"] for x in (tmp_path / "runs/r/metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [2, 4, 6, 8]
    changed = write(
        tmp_path / "other.yaml", {**toy_config(), "model": {"type": "tiny-denoiser", "hidden": 8}}
    )
    assert main(["train", str(changed), "--resume", "runs/r"]) == 2


def test_errors_exit_2_with_one_line(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = write(tmp_path / "bad.yaml", toy_config(batch_sise=3))
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "train.batch_sise" in err and "bad.yaml" in err and "did you mean 'batch_size'" in err
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert main(["sample", str(tmp_path / "no-such-run")]) == 2
    assert main(["train", str(write(tmp_path / "t.yaml", toy_config())), "--quiet"]) == 0
    assert main(["train", str(tmp_path / "t.yaml")]) == 2
    assert "--resume" in capsys.readouterr().err


def test_sample_class_and_sampler_reach_model(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = {
        "model": {"type": "tiny-image", "size": 8},
        "data": {"type": "digits", "subset": 64},
        "train": {"steps": 2, "batch_size": 32},
    }
    write(tmp_path / "img.yaml", cfg)
    assert main(["train", "img.yaml", "--quiet"]) == 0
    import core.metrics.evaluate as ev

    seen = {}
    original = ev.load_model

    def spy(*args, **kwargs):
        model, info = original(*args, **kwargs)
        seen["model"] = model
        return model, info

    monkeypatch.setattr(ev, "load_model", spy)
    code = main(
        [
            "sample",
            "runs/img",
            "-n",
            "4",
            "--class",
            "3",
            "--sampler",
            "ddim",
            "--steps",
            "5",
            "--sampler-option",
            "eta=0.5",
            "--sampler-option",
            "stochastic=true",
            "-o",
            "g.png",
        ]
    )
    assert code == 0
    kwargs = seen["model"].last_kwargs
    assert kwargs["sampler"] == "ddim" and kwargs["steps"] == 5 and kwargs["y"].tolist() == [3] * 4
    assert kwargs["eta"] == 0.5 and kwargs["stochastic"] is True
    args = ["evaluate", "runs/img", "-m", "sliced-wasserstein", "-n", "8"]
    assert main([*args, "--sampler-option", "eta=1"]) == 0
    assert seen["model"].last_kwargs["eta"] == 1
    # the file name holds sampler, steps and seed: runs with other settings do not overwrite it
    result = json.loads((tmp_path / "runs/img/eval_sliced-wasserstein_seed0.json").read_text())
    assert result["sampler_options"] == {"eta": 1}


def test_bad_sampler_option_is_a_one_line_error(capsys):
    assert main(["sample", "no-run", "--sampler-option", "eta"]) == 2
    assert "--sampler-option 'eta' must look like KEY=VALUE" in capsys.readouterr().err
    assert main(["evaluate", "no-run", "--sampler-option", "a.b=1"]) == 2
    assert "must look like KEY=VALUE" in capsys.readouterr().err


def test_listing_stays_torch_free():
    code = (
        "import sys; import core._builtins, core.cli.run_cmd, core.training, core.metrics, "
        "core.data, core.data.configs, core.training.configs, core.metrics.configs; "
        "from core.plugins import get_manager; get_manager(); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_evaluate_feature_fid_with_shipped_classifier(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = {
        "model": {"type": "tiny-image", "size": 8},
        "data": {"type": "digits"},
        "train": {"steps": 2, "batch_size": 32},
        "evaluate": {"metric": "feature-fid", "n": 60},
    }
    write(tmp_path / "fid.yaml", cfg)
    assert main(["train", "fid.yaml", "--quiet"]) == 0
    assert main(["evaluate", "runs/fid"]) == 0  # metric and n from the run's evaluate section
    out = capsys.readouterr().out
    assert out.startswith("feature_fid: ") and "floor" in out
    result = json.loads((tmp_path / "runs/fid/eval_feature-fid_seed0.json").read_text())
    assert result["n"] == 60 and result["value"] > result["floor"] > 0
    assert result["reference"]["split"] == "test"
