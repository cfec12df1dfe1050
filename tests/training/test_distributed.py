"""torchrun with 2 CPU processes (gloo) matches one process with the same global batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import yaml

from core.weights import read_weights


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(cli_script, config_path, name: str, *, ranks: int = 1) -> None:
    """``core train CONFIG --run-name NAME`` in the config's folder, under torchrun with ranks > 1."""
    launcher = [sys.executable]
    if ranks > 1:
        launcher += [
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={ranks}",
            f"--master_port={_free_port()}",
            "--master_addr=127.0.0.1",
        ]
    done = subprocess.run(
        [*launcher, str(cli_script), "train", str(config_path), "--run-name", name, "--quiet"],
        cwd=config_path.parent,
        env={**os.environ, "CORE_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_torchrun_two_processes_match_single_process(cli_script, tmp_path):
    config = {
        "model": {"type": "tiny-regressor", "hidden": 32},
        "data": {"type": "toy2d", "size": 96},
        "train": {
            "steps": 8,
            "batch_size": 16,
            "lr": 0.01,
            "grad_accumulation": 2,
            "log_every": 2,
            "checkpoint_every": 4,
        },
    }
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(config))
    _train(cli_script, path, "single")
    _train(cli_script, path, "ddp", ranks=2)
    a = read_weights(tmp_path / "runs/single/final/tiny-regressor.safetensors")
    b = read_weights(tmp_path / "runs/ddp/final/tiny-regressor.safetensors")
    start = read_weights(tmp_path / "runs/ddp/checkpoints/step_8/model.safetensors")
    import torch

    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
        assert torch.equal(b[key], start[key])
    # both ranks wrote their random state; only rank 0 wrote the rest
    assert (tmp_path / "runs/ddp/checkpoints/step_8/rng_rank1.json").is_file()
    lines = (tmp_path / "runs/ddp/metrics.jsonl").read_text().splitlines()
    assert [yaml.safe_load(x)["step"] for x in lines] == [2, 4, 6, 8]


@pytest.mark.slow
def test_torchrun_two_optimizer_model(cli_script, tmp_path):
    """A training_step model under torchrun: gradients are averaged by hand, rank 0 writes."""
    config = {
        "model": {"type": "tiny-gan"},
        "data": {"type": "toy2d", "size": 64},
        "train": {"steps": 4, "batch_size": 16, "log_every": 2},
        "sample": {"n": 32},
    }
    path = tmp_path / "gan.yaml"
    path.write_text(yaml.safe_dump(config))
    _train(cli_script, path, "gan", ranks=2)
    run = tmp_path / "runs/gan"
    assert (run / "final/tiny-gan.safetensors").is_file() and (run / "samples.png").is_file()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [yaml.safe_load(x)["step"] for x in lines] == [2, 4]
