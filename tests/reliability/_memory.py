"""Peak resident memory per epoch of a small training run: python _memory.py EPOCHS RUN_DIR.

``measure`` runs it in a fresh process, for the test and the benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from _toy import child_env, toy_run  # this folder is on sys.path: a script's own, or load_helper's


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(epochs: int, run_dir: Path, timeout: float) -> dict[str, Any]:
    """This script's record in a fresh process on one thread, core's own plugins only."""
    result = subprocess.run(
        [sys.executable, __file__, str(epochs), str(run_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(epochs: int, run_dir: str) -> None:
    import torch

    from core.training import Trainer

    torch.set_num_threads(1)
    config = toy_run(
        timesteps=50,
        hidden=64,
        size=1024,
        samples=16,
        epochs=epochs,
        batch_size=64,
        log_every=4,
        checkpoint_every=16,
        ema_decay=0.99,
        device="cpu",
    )
    trainer = Trainer(config, run_dir=run_dir, quiet=True)
    peaks: dict[int, float] = {}
    original = trainer._train_step

    def step(batches):
        out = original(batches)
        epoch = trainer.epoch
        peaks[epoch] = max(peaks.get(epoch, 0.0), rss_mb())
        return out

    trainer._train_step = step
    trainer.fit()
    ordered = [round(peaks[e], 2) for e in sorted(peaks)]
    print(json.dumps({"epochs": epochs, "steps": trainer.step, "peak_rss_mb": ordered}))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
