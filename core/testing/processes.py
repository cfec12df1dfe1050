"""Whether processes still run, for tests of commands that start tools (Linux ``/proc``).

``running(pid)`` is true while the process exists and is not a zombie; ``gone_within(pids,
seconds)`` waits up to ``seconds`` for all of them to end, as a killed tool's group should;
``check_tool_dies_with(process, pids_file)`` kills a command once its tool runs and asserts
the tool went with it; ``free_port()`` gives a free TCP port on 127.0.0.1 (a torchrun
rendezvous).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["running", "gone_within", "check_tool_dies_with", "free_port"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it; closed again before returning)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def check_tool_dies_with(
    process: subprocess.Popen[Any], pids_file: Path, seconds: float = 1.0, start_s: float = 60.0
) -> float:
    """SIGKILL ``process`` once the pids its tool wrote to ``pids_file`` (one line) run;
    AssertionError unless all are gone within ``seconds``. Gives the seconds they took; reaps
    ``process`` and kills what is left either way."""
    pids: list[int] = []
    try:
        end = time.monotonic() + start_s
        while not pids_file.is_file() or not pids_file.read_text().strip():
            assert time.monotonic() < end and process.poll() is None, "the tool never started"
            time.sleep(0.05)
        pids = [int(p) for p in pids_file.read_text().split()]
        assert all(map(running, pids)), f"the tool is not running: {pids}"
        os.kill(process.pid, signal.SIGKILL)
        start = time.monotonic()
        assert gone_within(pids, seconds), f"still running {seconds:g} s after kill -9: {pids}"
        return time.monotonic() - start
    finally:
        process.kill()
        process.wait()
        for pid in filter(running, pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
