"""``core train`` and ``core sample --steps 1|2|4`` on a tiny flow digits run; the configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from core.cli import main
from core.testing.checks import check_example_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT.parents[1] / "examples" / "flow-digits.yaml"


@pytest.fixture
def tiny_run(tmp_path, monkeypatch):
    config = yaml.safe_load((ROOT / "configs" / "flow-digits.yaml").read_text())
    config["model"]["network"].update(base_channels=4, time_dim=8)
    config["train"].update(steps=3, batch_size=8, warmup_steps=0, log_every=1)
    config["sample"] = {"n": 10, "nrow": 5, "guidance_scale": 1.5}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "c.yaml", "--quiet"]) == 0
    assert (tmp_path / "runs/c/samples.png").is_file()
    return tmp_path / "runs/c"


def test_core_sample_at_one_two_and_four_steps(tiny_run, capsys):
    for steps in ("1", "2", "4"):
        out = f"s{steps}.png"
        assert main(["sample", str(tiny_run), "-n", "4", "--steps", steps, "-o", out]) == 0
        assert Path(out).is_file()
    heun = ["--sampler", "flow-heun", "--sampler-option", "shift=3", "--class", "7"]
    assert main(["sample", str(tiny_run), "-n", "4", "--steps", "2", *heun]) == 0
    assert "wrote 4 samples" in capsys.readouterr().out
    assert main(["sample", str(tiny_run), "-n", "2", "--sampler", "ddim"]) == 2
    assert "not a flow sampler" in capsys.readouterr().err


def test_the_few_step_example_trains_and_samples_in_one_step(tmp_path, monkeypatch):
    """examples/flow-digits.yaml (a shortcut model) tiny: train, then one network evaluation."""
    if not EXAMPLE.is_file():
        pytest.skip(f"{EXAMPLE} is not in this checkout")
    config = yaml.safe_load(EXAMPLE.read_text())
    assert config["model"]["objective"] == "shortcut"
    config["model"]["network"].update(base_channels=4, time_dim=8)
    config["train"].update(steps=3, batch_size=8, warmup_steps=0, checkpoint_every=None)
    config["sample"].update(n=4, nrow=2)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "m.yaml", "--quiet"]) == 0
    assert main(["sample", "runs/m", "-n", "4", "--steps", "1", "-o", "one.png"]) == 0
    assert (tmp_path / "one.png").is_file()


@pytest.mark.parametrize(
    "path",
    [ROOT / "configs" / "flow-digits.yaml", EXAMPLE, EXAMPLE.with_name("flow-mnist5k.yaml")],
)
def test_configs_build_and_agree_with_their_data(path):
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    check_example_config(path)
