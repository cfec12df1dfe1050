"""`core train` and `core sample --class` with the example configs (tiny overrides)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from core.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

TINY = [
    "model.network.base_channels=4",
    "model.timesteps=10",
    "data.subset=40",
    "train.steps=3",
    "train.batch_size=8",
    "train.sample_every=null",
    "train.warmup_steps=0",
    "sample.n=4",
    "sample.steps=2",
]


def test_train_then_sample_a_class(tmp_path, capsys):
    config = str(CONFIGS / "cnn_digits_conditional.yaml")
    args = ["train", config, *TINY, "--runs-dir", str(tmp_path), "--run-name", "c", "-q"]
    assert main(args) == 0
    run = tmp_path / "c"
    assert (run / "metrics.jsonl").is_file()
    out = tmp_path / "threes.png"
    code = main(["sample", str(run), "--class", "3", "-n", "4", "--steps", "2", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    assert Image.open(out).size[0] >= 16
    bad = main(["sample", str(run), "--class", "12", "-n", "2", "-o", str(tmp_path / "x.png")])
    assert bad == 2
    assert "class 12 is not a class of ddpm: it has classes 0 to 9" in capsys.readouterr().err


def test_train_mlp_on_moons(tmp_path):
    config = str(CONFIGS / "mlp_moons.yaml")
    overrides = ["train.steps=3", "data.size=64", "train.batch_size=16", "sample.n=8"]
    args = ["train", config, *overrides, "--runs-dir", str(tmp_path), "--run-name", "m", "-q"]
    assert main(args) == 0
    assert (tmp_path / "m" / "final").is_dir()
