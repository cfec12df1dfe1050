"""A DDP run (torchrun, 2 CPU processes, gloo) where rank 1 raises stops within a bounded time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import HERE, load_helper

pytestmark = pytest.mark.slow

BOUND_S = 120


def test_one_failing_rank_stops_the_run(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    env = load_helper("_toy").child_env(TORCH_NCCL_ASYNC_ERROR_HANDLING="1")
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [
                str(torchrun),
                "--nproc_per_node=2",
                "--standalone",
                "--max-restarts=0",
                str(HERE / "_worker.py"),
                "ddp-fail",
                str(tmp_path / "run"),
            ],
            capture_output=True,
            text=True,
            timeout=BOUND_S,
            env=env,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the DDP run hung for more than {BOUND_S}s after one rank raised: {exc}")
    elapsed = time.perf_counter() - start
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "injected failure on rank 1 at step 3" in output
    assert "ChildFailedError" in output or "failed" in output.lower()
    assert elapsed < BOUND_S
    # the surviving rank did not finish the 1000 steps on its own
    assert not (tmp_path / "run" / "final").exists()
