"""``_cli.py`` whose rank-1 worker SIGKILLs itself once, after step ``CORE_TEST_KILL_AT_STEP``;
``CORE_TEST_KILL_MARK`` is the file that records the kill (a restarted worker finds it and
lives)."""

import os
import runpy
import signal
from pathlib import Path

from core.training.loop import TrainingLoop

step_at, mark = int(os.environ["CORE_TEST_KILL_AT_STEP"]), Path(os.environ["CORE_TEST_KILL_MARK"])
train_step = TrainingLoop.train_step


def train_step_then_die(self, batches):
    values = train_step(self, batches)
    if self.step == step_at and os.environ.get("RANK") == "1" and not mark.exists():
        mark.write_text(f"killed after step {self.step}\n")
        os.kill(os.getpid(), signal.SIGKILL)
    return values


TrainingLoop.train_step = train_step_then_die
runpy.run_path(str(Path(__file__).with_name("_cli.py")), run_name="__main__")
