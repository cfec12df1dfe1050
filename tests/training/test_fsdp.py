"""``train.strategy: fsdp`` at 2 CPU processes (gloo): DDP's loss history, a DCP checkpoint
read back at 1 and 4 processes with the same weights, a plain ``final/``."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from core.weights import read_weights

from .test_distributed import _train
from .test_elastic import _run


@pytest.mark.slow
def test_fsdp_matches_ddp_and_resumes_at_other_world_sizes(cli_script, tmp_path):
    train = {"steps": 4, "batch_size": 16, "lr": 0.01, "log_every": 1, "grad_accumulation": 2}
    train |= {"ema_decay": 0.9, "grad_clip": 1.0}
    for strategy in ("ddp", "fsdp"):
        config = {
            "model": {"type": "tiny-regressor", "hidden": 32},
            "data": {"type": "toy2d", "size": 96},
            "train": {**train, "strategy": strategy},
        }
        (tmp_path / f"{strategy}.yaml").write_text(yaml.safe_dump(config))
        _train(cli_script, tmp_path / f"{strategy}.yaml", strategy, ranks=2)
    runs = tmp_path / "runs"
    history = {
        s: [json.loads(x)["loss"] for x in (runs / s / "metrics.jsonl").read_text().splitlines()]
        for s in ("ddp", "fsdp")
    }
    assert history["fsdp"] == pytest.approx(history["ddp"], abs=1e-5)
    step = runs / "fsdp/checkpoints/step_4"
    assert (step / ".metadata").is_file() and not (step / "model.safetensors").exists()
    final = read_weights(runs / "fsdp/final/tiny-regressor.safetensors")
    restore = str(cli_script.with_name("_restore.py"))
    _run([*_launcher(1), restore, str(runs / "fsdp"), "w1.safetensors"], tmp_path)
    _run([*_launcher(4), restore, str(runs / "fsdp"), "w4.safetensors"], tmp_path)
    one, four = read_weights(tmp_path / "w1.safetensors"), read_weights(tmp_path / "w4.safetensors")
    assert one.keys() == four.keys()
    for key in one:
        assert torch.equal(one[key], four[key]), key
    for key in final:
        assert torch.equal(one[f"ema.{key}"], final[key]), key


def _launcher(ranks: int) -> list[str]:
    import sys

    from .test_distributed import _free_port

    if ranks == 1:
        return [sys.executable]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={ranks}",
        f"--master_port={_free_port()}",
        "--master_addr=127.0.0.1",
    ]
