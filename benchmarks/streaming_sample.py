"""Streaming sampling: ``core sample -n N --out-dir`` on the demo model, its time and peak RSS, a kill and rerun, and two torchrun processes.

Each ``core sample RUN -n N --out-dir DIR`` runs under ``/usr/bin/time -v`` (peak RSS of the
process). Then a draw is killed (SIGKILL of its process group) once a few shards exist and
rerun with the same settings: every index must appear exactly once. Last, two processes under
``torchrun --standalone --nproc_per_node=2`` draw one folder: each must write half the shards.
The run is ``--run`` (``examples/quickstart.yaml`` trained, ``OMP_NUM_THREADS=1``). Writes
benchmarks/results/streaming_sample.json.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/streaming_sample.py --run runs/quickstart --n 50000

(``--n`` takes several sizes, ``--shard-size`` the samples per shard, default 1000.)
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import save_record, start_record
from _common.markdown import Col, Section, sig

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "CORE_LOAD_PLUGINS": "core-diffusion"}
CORE = [sys.executable, "-m", "core"]


def timed_draw(run: str, n: int, out: Path, shard_size: int) -> dict[str, Any]:
    """``core sample -n n --out-dir out`` under ``/usr/bin/time -v``: seconds and peak RSS."""
    command = [*CORE, "sample", run, "-n", str(n), "--out-dir", str(out)]
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command, "--shard-size", str(shard_size)],
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    return {
        "n": n,
        "shard_size": shard_size,
        "seconds": seconds,
        "samples_per_s": n / seconds,
        "peak_rss_mib": rss_kib / 1024,
    }


def indices(out: Path) -> list[int]:
    import numpy as np

    return sorted(int(i) for f in out.glob("*.npz") for i in np.load(f)["indices"])


def kill_and_rerun(run: str, n: int, out: Path, shard_size: int) -> dict[str, Any]:
    """Kill a draw once 3 shards exist, rerun it: each index exactly once?"""
    command = [*CORE, "sample", run, "-n", str(n), "--out-dir", str(out)]
    command += ["--shard-size", str(shard_size)]
    child = subprocess.Popen(command, env=ENV, start_new_session=True)
    try:
        while len(list(out.glob("*.npz"))) < 3 and child.poll() is None:
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    before = len(list(out.glob("*.npz")))
    subprocess.run(command, env=ENV, check=True, capture_output=True)
    found = indices(out)
    return {
        "n": n,
        "shard_size": shard_size,
        "shards_before_kill": before,
        "exactly_once": found == list(range(n)),
    }


def two_ranks(run: str, n: int, out: Path, shard_size: int) -> dict[str, Any]:
    """Two processes under torchrun draw one folder: shards written by each rank."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command = [*launcher, "--nproc_per_node=2", "-m", "core", "sample", run, "-n", str(n)]
    command += ["--out-dir", str(out), "--shard-size", str(shard_size)]
    done = subprocess.run(command, env=ENV, capture_output=True, text=True, check=True)
    written = {
        int(rank): int(count)
        for rank, count in re.findall(r"rank (\d) of 2: wrote (\d+) shards", done.stdout)
    }
    return {
        "n": n,
        "shard_size": shard_size,
        "shards_by_rank": [written.get(0), written.get(1)],
        "exactly_once": indices(out) == list(range(n)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/quickstart")
    parser.add_argument("--n", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--shard-size", type=int, default=1000)
    args = parser.parse_args()
    record = start_record("streaming_sample")
    rows = []
    with tempfile.TemporaryDirectory(prefix="core-bench-samples-") as tmp:
        for n in args.n:
            rows.append(timed_draw(args.run, n, Path(tmp) / f"n{n}", args.shard_size))
            print(f"  n={n}: {rows[-1]}", flush=True)
        killed = kill_and_rerun(args.run, 2000, Path(tmp) / "killed", 100)
        print(f"  kill and rerun: {killed}", flush=True)
        ranks = two_ranks(args.run, 2000, Path(tmp) / "ranks", 100)
        print(f"  torchrun: {ranks}", flush=True)
    record |= {
        "run": args.run,
        "rows": rows,
        "kill_and_rerun": killed,
        "torchrun": ranks,
        "note": "demo model (examples/quickstart.yaml: 16x16 digits DDPM, dpm-solver++ 20 steps "
        "with guidance 1.25) on 2 CPU cores shared with other work; peak RSS is the sampling "
        "process's (torch and the model included)",
    }
    print(f"wrote {save_record('streaming_sample', record)}")


def render(record: dict[str, Any], name: str = "streaming_sample") -> Section:
    """Time and peak RSS per sample count; the kill/rerun and torchrun checks."""
    s = Section.of(record, name, __doc__)
    s.table(
        [
            Col("samples", "n"),
            Col("shard size", "shard_size"),
            Col("seconds", "seconds", sig),
            Col("samples/s", "samples_per_s", sig),
            Col("peak RSS (MiB)", "peak_rss_mib", sig),
        ],
        record["rows"],
        f"core sample --out-dir on {record['run']}",
    )
    killed, ranks = record["kill_and_rerun"], record["torchrun"]
    s.pairs(
        [
            (
                f"killed after {killed['shards_before_kill']} shards, rerun ({killed['n']} samples)",
                "each index exactly once" if killed["exactly_once"] else "INDICES WRONG",
            ),
            (
                f"torchrun, 2 processes ({ranks['n']} samples, shards of {ranks['shard_size']})",
                f"shards by rank {ranks['shards_by_rank']}; "
                + ("each index exactly once" if ranks["exactly_once"] else "INDICES WRONG"),
            ),
        ]
    )
    if record.get("note"):
        s.add(f"Notes: {record['note'].rstrip('.')}.")
    return s


if __name__ == "__main__":
    main()
