"""Whether processes still run, for tests of commands that start tools (Linux ``/proc``).

``running(pid)`` is true while the process exists and is not a zombie; ``gone_within(pids,
seconds)`` waits up to ``seconds`` for all of them to end, as a killed tool's group should.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["running", "gone_within"]


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (read from ``/proc/<pid>/stat``)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def gone_within(pids: Iterable[int], seconds: float) -> bool:
    """Wait up to ``seconds`` until none of ``pids`` runs; True when none does."""
    pids = list(pids)
    end = time.monotonic() + seconds
    while any(map(running, pids)) and time.monotonic() < end:
        time.sleep(0.02)
    return not any(map(running, pids))
