"""FSDP against DDP on CPU (gloo): the loss history of 50 steps at 2 processes under each
``train.strategy``, and the sharded (DCP) checkpoint of the FSDP run read back at 1, 2 and 4
processes (largest absolute weight difference to each other and to the run's ``final/``).

    .venv/bin/python benchmarks/fsdp.py [--steps 50]

Uses the tiny regressor of ``tests/training`` (``_cli.py``, ``_restore.py``). Writes
benchmarks/results/fsdp.json. Goals: loss histories within 1e-5; every difference 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import save_record, start_record
from _common.markdown import Section

from core.testing.processes import free_port

TESTS = Path(__file__).resolve().parents[1] / "tests/training"


def _launch(script: str, args: list[str], cwd: Path, ranks: int) -> None:
    """``tests/training/<script> ARGS`` under torchrun with ``ranks`` processes (plain when 1)."""
    command = [sys.executable]
    if ranks > 1:
        command += ["-m", "torch.distributed.run", f"--nproc_per_node={ranks}"]
        command += [f"--master_port={free_port()}", "--master_addr=127.0.0.1"]
    env = {**os.environ, "CORE_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    subprocess.run([*command, str(TESTS / script), *args], cwd=cwd, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    from core.weights import read_weights

    record = start_record("fsdp", steps=args.steps)
    train = {"steps": args.steps, "batch_size": 16, "lr": 0.01, "log_every": 1}
    train |= {"ema_decay": 0.9, "grad_clip": 1.0}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        losses = {}
        for strategy in ("ddp", "fsdp"):
            config = {
                "model": {"type": "tiny-regressor", "hidden": 64},
                "data": {"type": "toy2d", "size": 256},
                "train": {**train, "strategy": strategy},
            }
            path = root / f"{strategy}.yaml"
            path.write_text(json.dumps(config))
            _launch("_cli.py", ["train", str(path), "--quiet"], root, 2)
            lines = (root / f"runs/{strategy}/metrics.jsonl").read_text().splitlines()
            losses[strategy] = [json.loads(line)["loss"] for line in lines]
        diffs = [abs(a - b) for a, b in zip(losses["ddp"], losses["fsdp"], strict=True)]
        run = root / "runs/fsdp"
        restored = {}
        for ranks in (1, 2, 4):
            out = root / f"restored_{ranks}.safetensors"
            _launch("_restore.py", [str(run), str(out)], root, ranks)
            restored[ranks] = read_weights(out)
        final = read_weights(run / "final/tiny-regressor.safetensors")

        def largest(a: dict, b: dict) -> float:
            return max(float((a[k] - b[k]).abs().max()) for k in a)

        resume = [
            {
                "processes": ranks,
                "max_abs_diff_to_2": largest(restored[ranks], restored[2]),
                "ema_max_abs_diff_to_final": largest(
                    final, {k[4:]: v for k, v in restored[ranks].items() if k.startswith("ema.")}
                ),
            }
            for ranks in (1, 4)
        ]
    record.update(
        {
            "loss_ddp": losses["ddp"],
            "loss_fsdp": losses["fsdp"],
            "loss_max_abs_diff": max(diffs),
            "last_loss": {"ddp": losses["ddp"][-1], "fsdp": losses["fsdp"][-1]},
            "resume": resume,
        }
    )
    print(f"loss history: largest |ddp - fsdp| over {len(diffs)} steps = {max(diffs):.3g}")
    for row in resume:
        print(row)
    save_record("fsdp", record)


def render(record: dict[str, Any], name: str = "fsdp") -> Section:
    """The loss-history difference and the resume differences at 1 and 4 processes."""
    section = Section.of(record, name, __doc__)
    section.pairs(
        [
            ("steps, 2 processes each (gloo)", str(record["steps"])),
            (
                "largest |loss DDP - loss FSDP| over the history",
                f"{record['loss_max_abs_diff']:.3g}",
            ),
            (
                "last loss DDP / FSDP",
                f"{record['last_loss']['ddp']:.6g} / {record['last_loss']['fsdp']:.6g}",
            ),
        ]
    )
    section.pairs(
        [
            (
                f"FSDP checkpoint (2 processes) read at {row['processes']}",
                f"weights {row['max_abs_diff_to_2']:g}, EMA vs final/ {row['ema_max_abs_diff_to_final']:g}",
            )
            for row in record["resume"]
        ],
        headers=("resumed at", "max abs difference"),
    )
    return section


if __name__ == "__main__":
    main()
