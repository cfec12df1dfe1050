"""``--overwrite`` without losing the previous run before the new one has a checkpoint."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

__all__ = ["PreviousRun"]


class PreviousRun:
    """A run directory set aside as ``.<name>.old-<hex>`` beside it, for a new run to take its place.

    ``discard()`` deletes it (the new run has written a checkpoint); ``restore()`` puts it
    back in place of the new run's files (the new run failed first).
    """

    def __init__(self, run: Path) -> None:
        self.run = run
        self.aside = run.parent / f".{run.name}.old-{uuid.uuid4().hex}"
        os.rename(run, self.aside)

    def discard(self) -> None:
        """Delete the previous run."""
        shutil.rmtree(self.aside, ignore_errors=True)

    def restore(self) -> None:
        """Delete what the new run wrote and move the previous run back."""
        if self.run.exists():
            shutil.rmtree(self.run)
        os.rename(self.aside, self.run)
