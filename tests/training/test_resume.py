"""Checkpoints and exact resume, including a run killed with SIGKILL."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import yaml

from core.errors import TrainingError
from core.training import Trainer
from core.weights import read_weights

from .conftest import tiny_run

#: 24 steps of 16 (two accumulated) after a warm-up, with EMA, a checkpoint every 5 steps
TRAIN = dict(steps=24, batch_size=16, grad_accumulation=2, lr=0.01, warmup_steps=3, log_every=1)
CONFIG = tiny_run(size=72, ema={"decay": 0.8}, checkpoint_every=5, keep_checkpoints=10, **TRAIN)


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = read_weights(a), read_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert wa[key].equal(wb[key]), f"{key} differs"


@pytest.mark.parametrize("workers", [0, 1])
def test_resume_in_process_is_exact(tiny, tmp_path, workers):
    config = {**CONFIG, "train": {**CONFIG["train"], "num_workers": workers}}
    Trainer(config, run_dir=tmp_path / "full", quiet=True).fit()
    # stopped after step 10 (data position mid-epoch), then resumed to 24
    Trainer(config, run_dir=tmp_path / "part", quiet=True).fit(stop_at=10)
    assert not (tmp_path / "part/final").exists()
    Trainer(config, run_dir=tmp_path / "part", resume=True, quiet=True).fit()
    for name in ("model", "ema"):
        _assert_same_weights(
            tmp_path / f"full/checkpoints/step_24/{name}.safetensors",
            tmp_path / f"part/checkpoints/step_24/{name}.safetensors",
        )
    steps = [
        yaml.safe_load(line)["step"]
        for line in (tmp_path / "part/metrics.jsonl").read_text().splitlines()
    ]
    assert steps == list(range(1, 25))


def test_resume_without_checkpoint_is_an_error(tiny, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingError, match="no complete checkpoint"):
        Trainer(CONFIG, run_dir=tmp_path / "empty", resume=True, quiet=True).fit()


def test_half_written_checkpoint_is_ignored(tiny, tmp_path):
    short = {**CONFIG, "train": {**CONFIG["train"], "steps": 5}}
    Trainer(short, run_dir=tmp_path / "r", quiet=True).fit()
    staging = tmp_path / "r/checkpoints/.staging-step_9"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"garbage")
    from core.training.checkpoint import latest_checkpoint

    assert latest_checkpoint(tmp_path / "r").name == "step_5"


def test_sigkill_then_resume_is_bitwise_identical(start_cli, tmp_path):
    config = {
        **CONFIG,
        "model": {"type": "tiny-denoiser", "delay": 0.01},
        "train": {**CONFIG["train"], "steps": 80, "checkpoint_every": 7},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    full = start_cli("train", str(path), "--run-name", "full", "--quiet", cwd=tmp_path)
    killed = start_cli("train", str(path), "--run-name", "killed", "--quiet", cwd=tmp_path)
    checkpoint = tmp_path / "runs/killed/checkpoints/step_14/state.json"
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, killed.stderr.read()
    assert not (tmp_path / "runs/killed/final").exists(), "the run finished before the kill"
    out, err = full.communicate(timeout=120)
    assert full.returncode == 0, err
    resumed = start_cli("train", "--resume", "runs/killed", "--quiet", cwd=tmp_path)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    for name in ("model", "ema"):
        _assert_same_weights(
            tmp_path / f"runs/full/checkpoints/step_80/{name}.safetensors",
            tmp_path / f"runs/killed/checkpoints/step_80/{name}.safetensors",
        )
    _assert_same_weights(
        tmp_path / "runs/full/final/tiny-denoiser.safetensors",
        tmp_path / "runs/killed/final/tiny-denoiser.safetensors",
    )
