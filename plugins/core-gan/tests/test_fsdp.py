"""DCGAN under ``train.strategy: fsdp``: its blocks, and a 2-process torchrun run on CPU."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import yaml

import core
from core.testing.checks import check_fsdp_blocks
from core.testing.processes import free_port

TINY = {"image_size": 16, "channels": 1, "ngf": 8, "ndf": 8, "latent_dim": 12}


def test_blocks_are_generator_and_discriminator_and_hold_every_parameter():
    gan = core.build("model", {"type": "dcgan", **TINY})
    assert check_fsdp_blocks(gan) == [gan.generator, gan.discriminator]


def _train(config_path, name: str, strategy: str) -> None:
    """``core train`` under torchrun, 2 CPU processes (gloo), on a free port."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    command += [f"--master_port={free_port()}", "--master_addr=127.0.0.1", "-m", "core"]
    command += ["train", str(config_path), "--run-name", name, "-q"]
    command += [f"train.strategy={strategy}"]
    done = subprocess.run(
        command,
        cwd=config_path.parent,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_dcgan_trains_under_fsdp_and_final_loads_in_one_process(tmp_path):
    config = {
        "model": {"type": "dcgan", **TINY},
        "data": {"type": "digits", "image_size": 16, "channels": 1, "value_range": [-1, 1]},
        "train": {"steps": 4, "batch_size": 8, "log_every": 1, "lr_schedule": "constant"},
        "sample": {"n": 4},
    }
    path = tmp_path / "gan.yaml"
    path.write_text(yaml.safe_dump(config))
    _train(path, "fsdp", "fsdp")
    run = tmp_path / "runs/fsdp"
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [yaml.safe_load(x)["step"] for x in lines] == [1, 2, 3, 4]
    assert (run / "checkpoints/step_4/.metadata").is_file()  # a DCP checkpoint
    loaded = core.BaseModel.from_pretrained(run / "final")  # one process, no process group
    assert loaded.sample(2).shape == (2, 1, 16, 16)
    _train(path, "ddp", "ddp")  # the same run under DDP: FSDP must train it the same way
    ddp = core.BaseModel.from_pretrained(run.parent / "ddp" / "final").state_dict()
    torch.manual_seed(0)  # train.seed 0: the run's initial weights
    start = core.build("model", {"type": "dcgan", **TINY}).state_dict()
    weights = {k: v for k, v in loaded.state_dict().items() if "running" not in k}
    moved = [
        k for k, v in weights.items() if v.is_floating_point() and not torch.equal(v, start[k])
    ]
    assert len(moved) == len([v for v in weights.values() if v.is_floating_point()])
    for key, value in weights.items():  # batch-norm running statistics are each rank's own
        assert torch.allclose(value, ddp[key], atol=1e-5), key
