"""scripts/gpu_check.py: one line and status 1 without CUDA; its table."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


def test_without_cuda_one_line_and_nothing_checked():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "gpu_check: no CUDA device visible (torch.cuda.is_available() is False); nothing checked"
    ]


def test_table_has_one_row_per_case_and_names_failures():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [
        {
            "case": "bf16",
            "processes": 1,
            "steps": 300,
            "seconds": 12.34,
            "images_per_s": 1555.2,
            "loss": 0.04321,
        },
        {"case": "bf16 DDP nccl", "processes": 2, "error": "NCCL error"},
    ]
    lines = module.table(rows, "2 x NVIDIA H100").splitlines()
    assert lines[0] == "device: 2 x NVIDIA H100"
    assert lines[4] == "| bf16 | 1 | 300 | 12.3 | 1555 | 0.0432 |"
    assert lines[5].startswith("| bf16 DDP nccl | 2 | failed: NCCL error")
