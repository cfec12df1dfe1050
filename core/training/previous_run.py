"""``--overwrite`` without losing the previous run before the new one has a checkpoint."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PreviousRun"]

#: what a set-aside previous run is called inside its run directory.
ASIDE_PREFIX = ".previous-"


class PreviousRun:
    """A run's files set aside in ``<run>/.previous-<hex>/``, for a new run to take their place.

    The run directory itself stays (with ``keep``, its lock file), so whoever holds its lock
    keeps holding it. ``discard()`` deletes the previous run (the new run has written a
    checkpoint); ``restore()`` puts it back in place of the new run's files (the new run failed
    first).
    """

    def __init__(self, run: Path, *, keep: Iterable[str] = ()) -> None:
        self.run = Path(run)
        self.keep = set(keep)
        self.aside = self.run / f"{ASIDE_PREFIX}{uuid.uuid4().hex}"
        self.aside.mkdir()
        for entry in self._entries():
            os.rename(entry, self.aside / entry.name)

    def discard(self) -> None:
        """Delete the previous run."""
        shutil.rmtree(self.aside, ignore_errors=True)

    def restore(self) -> None:
        """Delete what the new run wrote and move the previous run back."""
        for entry in self._entries():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in list(self.aside.iterdir()):
            os.rename(entry, self.run / entry.name)
        self.aside.rmdir()

    def _entries(self) -> list[Path]:
        """The run's entries but the kept ones and the set-aside folder."""
        skip = self.keep | {self.aside.name}
        return [entry for entry in self.run.iterdir() if entry.name not in skip]
