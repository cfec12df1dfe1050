"""``core train --resume auto``: a run starts or continues itself, so ``torchrun
--max-restarts=1`` recovers a worker killed with SIGKILL without a human."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from core.testing.processes import free_port
from core.weights import read_weights

from .conftest import tiny_run

HERE = Path(__file__).parent


#: a restarted attempt once read the dead attempt's gloo addresses from torchrun's store and
#: hung (CI); core now joins a restarted attempt under a prefix of its own. Restarts to spare
#: and a short ``train.dist_timeout_s`` keep a failure of another kind from hanging the suite.
RESTARTS = 3
TIMEOUT_S = 45


def _run(args: list[str], cwd: Path, env: dict | None = None) -> Any:
    done = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, "CORE_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=(RESTARTS + 1) * 3 * TIMEOUT_S + 60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _torchrun(script: Path, *args: str, cwd: Path, env: dict | None = None) -> None:
    """``script`` under torchrun: 2 processes, restarts allowed, c10d on a free port."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1"]
    launcher += ["--nproc_per_node=2", f"--max-restarts={RESTARTS}", "--rdzv-backend=c10d"]
    launcher += [f"--rdzv-endpoint=127.0.0.1:{free_port()}", str(script)]
    _run([*launcher, *args], cwd, env)


def test_resume_auto_starts_then_continues(cli_script, tmp_path):
    """No run: it starts; a run with a checkpoint: it continues (longer steps); a run
    without one (a first attempt killed early): it starts afresh."""
    path = tmp_path / "auto.yaml"
    path.write_text(yaml.safe_dump(tiny_run(steps=4, batch_size=16, log_every=2)))
    train = [sys.executable, str(cli_script), "train", str(path), "--resume", "auto", "-q"]
    _run(train, tmp_path)
    run = tmp_path / "runs/auto"
    assert (run / "checkpoints/step_4").is_dir()
    _run([*train, "train.steps=6"], tmp_path)
    steps = [yaml.safe_load(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]  # continued, not restarted
    for child in (run / "checkpoints").iterdir():
        child.rename(tmp_path / child.name)  # a run without a complete checkpoint
    _run(train, tmp_path)
    steps = [yaml.safe_load(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_killed_worker_restarts_and_matches_uninterrupted(cli_script, tmp_path, strategy):
    config = tiny_run(
        size=96,
        steps=6,
        batch_size=16,
        lr=0.01,
        log_every=1,
        checkpoint_every=2,
        ema_decay=0.9,
        strategy=strategy,
        dist_timeout_s=TIMEOUT_S,
    )
    path = tmp_path / "elastic.yaml"
    path.write_text(yaml.safe_dump(config))
    for name in ("clean", "killed"):
        env = {"CORE_TEST_KILL_AT_STEP": "3", "CORE_TEST_KILL_MARK": str(tmp_path / "mark")}
        script = HERE / ("_elastic_cli.py" if name == "killed" else "_cli.py")
        args = ("train", str(path), "--run-name", name, "--resume", "auto", "-q")
        _torchrun(script, *args, cwd=tmp_path, env=env if name == "killed" else None)
    assert (tmp_path / "mark").read_text() == "killed after step 3\n"
    runs = tmp_path / "runs"
    clean = read_weights(runs / "clean/final/tiny-denoiser.safetensors")
    killed = read_weights(runs / "killed/final/tiny-denoiser.safetensors")
    assert clean.keys() == killed.keys()
    for key in clean:
        assert torch.equal(clean[key], killed[key]), key
    steps = [
        yaml.safe_load(x)["step"] for x in (runs / "killed/metrics.jsonl").read_text().splitlines()
    ]
    assert steps[-1] == 6 and 3 in steps
