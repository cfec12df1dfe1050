"""``train.dist_timeout_s`` bounds joining the process group, even when gloo's connect ignores
its own timeout: the process prints one line and exits with ``JOIN_TIMEOUT_EXIT``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from core.training.distributed import JOIN_TIMEOUT_EXIT

HANGING_JOIN = textwrap.dedent(
    """
    import time
    import torch.distributed as dist
    from core.training.distributed import setup_distributed

    dist.init_process_group = lambda **kwargs: time.sleep(60)  # a connect that never returns
    setup_distributed("cpu", timeout_s=0.5)
    """
)


def test_a_join_that_hangs_exits_for_torchrun_to_restart():
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "1", "CORE_LOAD_PLUGINS": ""}
    done = subprocess.run(
        [sys.executable, "-c", HANGING_JOIN], env=env, capture_output=True, text=True, timeout=50
    )
    assert done.returncode == JOIN_TIMEOUT_EXIT, done.stderr
    assert done.stderr.strip() == (
        "core: rank 1 could not join the process group in 0.5 s (train.dist_timeout_s); "
        "exiting so that torchrun can restart the workers"
    )


def test_a_join_that_succeeds_cancels_the_watchdog(monkeypatch):
    import torch.distributed as dist

    from core.training.distributed import setup_distributed

    calls = []
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    info = setup_distributed("cpu", timeout_s=0.2)
    assert (info.rank, info.world_size) == (1, 2)
    assert calls[0]["backend"] == "gloo" and calls[0]["timeout"].total_seconds() == 0.2
    time.sleep(0.5)  # the process is still alive: the watchdog was cancelled
