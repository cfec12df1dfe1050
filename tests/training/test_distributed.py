"""torchrun with 2 CPU processes (gloo) matches one process with the same global batch."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import pytest
import yaml

from core.testing.processes import free_port as _free_port
from core.weights import read_weights


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


#: a run that two processes and one process train to the same weights
DDP_CONFIG = {
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


@pytest.mark.slow
def test_torchrun_two_processes_match_single_process(cli_script, tmp_path):
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(DDP_CONFIG))
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


def _two_node_agents(cli_script, config_path, name: str) -> None:
    """``core train`` under two torchrun agents (``--nnodes=2``, one process each) that meet
    by c10d rendezvous on 127.0.0.1, as two machines would; their process groups are killed
    at the end, whatever happens."""
    endpoint = f"127.0.0.1:{_free_port()}"
    agent = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--nproc_per_node=1",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint={endpoint}",
        f"--rdzv_id=two-nodes-{name}",
        "--max_restarts=0",
    ]
    command = [str(cli_script), "train", str(config_path), "--run-name", name, "--quiet"]
    env = {**os.environ, "CORE_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    agents = []
    try:
        for _ in range(2):
            agents.append(
                subprocess.Popen(
                    [*agent, *command],
                    cwd=config_path.parent,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
            )
        outputs = [a.communicate(timeout=240)[0] for a in agents]
        for a, out in zip(agents, outputs, strict=True):
            assert a.returncode == 0, out[-3000:]
    finally:
        for a in agents:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(a.pid, signal.SIGKILL)
            a.wait()


@pytest.mark.slow
def test_two_torchrun_agents_on_one_host_match_single_process(cli_script, tmp_path):
    """``--nnodes=2`` with c10d rendezvous on 127.0.0.1: the same weights and logged steps as
    one process with the same global batch."""
    path = tmp_path / "nodes.yaml"
    path.write_text(yaml.safe_dump(DDP_CONFIG))
    _train(cli_script, path, "single")
    _two_node_agents(cli_script, path, "nodes")
    a = read_weights(tmp_path / "runs/single/final/tiny-regressor.safetensors")
    b = read_weights(tmp_path / "runs/nodes/final/tiny-regressor.safetensors")
    import torch

    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    single = (tmp_path / "runs/single/metrics.jsonl").read_text().splitlines()
    nodes = (tmp_path / "runs/nodes/metrics.jsonl").read_text().splitlines()
    losses = [[yaml.safe_load(x)["loss"] for x in lines] for lines in (single, nodes)]
    assert [yaml.safe_load(x)["step"] for x in nodes] == [2, 4, 6, 8]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5, abs=1e-6)
    assert (tmp_path / "runs/nodes/checkpoints/step_8/rng_rank1.json").is_file()


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
