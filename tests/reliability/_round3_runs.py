"""Round 3, area "runs": one owner per run directory, and no logger writes a file the run owns.

A run being trained is held by its trainer: a second ``core train`` of the same name, a
``--resume``, an ``--overwrite``, ``core evaluate`` and ``core sample`` are refused in one line
naming the holder's pid, and nothing of the run is touched; a lock left by a dead process never
blocks. A logger whose file is the run's own (``config.yaml``, ``final``...), another logger's,
or outside the run is refused before anything is written. Loaded by ``_hostile.py``, which
injects itself as ``hostile``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from core.testing.refusals import run_cli

hostile: Any = globals()["hostile"]  # set by _hostile.py before this module runs


def _config(steps: int, **train: Any) -> dict[str, Any]:
    """A tiny DDPM run on 2-D points (about 3 ms a step on one thread)."""
    return {
        "model": {
            "type": "ddpm",
            "timesteps": 4,
            "data_dim": 2,
            "scheduler": {"type": "linear"},
            "network": {"type": "mlp-denoiser", "hidden_dim": 8, "num_timesteps": 4},
        },
        "data": {"type": "toy2d", "size": 64},
        "train": {"steps": steps, "batch_size": 16, "log_every": 1, **train},
        "sample": {"n": 4},
    }


def _write_config(work: Path, steps: int, **train: Any) -> Path:
    path = work / "run.yaml"
    path.write_text(yaml.safe_dump(_config(steps, **train)), encoding="utf-8")
    return path


def _trained(work: Path) -> Path:
    """A run trained for two steps by ``core train run.yaml --run-name cc``."""
    _write_config(work, 2)
    code, _, err = run_cli("train", "run.yaml", "--run-name", "cc", "--quiet")
    assert code == 0, f"core train: exit {code}: {err.strip()[-200:]}"
    return work / "runs" / "cc"


def _start(work: Path, *args: str) -> subprocess.Popen[str]:
    """``core ARGS`` in a process of its own (one torch thread), from ``work``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "core", *args],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextlib.contextmanager
def _training(work: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A long ``core train --run-name cc`` in another process, past its first checkpoint;
    killed when the block ends."""
    _write_config(work, 100_000, checkpoint_every=20, keep_checkpoints=2)
    trainer = _start(work, "train", "run.yaml", "--run-name", "cc", "--quiet")
    run = work / "runs" / "cc"
    try:
        deadline = time.monotonic() + 90
        while not any((run / "checkpoints").glob("step_*")):
            if trainer.poll() is not None:
                raise AssertionError(f"the trainer ended: {trainer.communicate()[1][-300:]}")
            assert time.monotonic() < deadline, "no checkpoint within 90 s"
            time.sleep(0.05)
        yield trainer, run
    finally:
        trainer.kill()
        trainer.communicate()


def _while_training(*args: str) -> Callable[[Path], str]:
    """``core ARGS`` (``RUN`` is the run being trained) while another process trains it."""

    def check(work: Path) -> str:
        with _training(work) as (trainer, run):
            given = [str(run) if a == "RUN" else a for a in args]
            config = (run / "config.yaml").read_bytes()
            result = hostile.expect_cli_refused(*given)
            assert f"pid {trainer.pid}" in result, f"the holder's pid is not named: {result}"
            assert trainer.poll() is None, "the trainer was disturbed"
            assert (run / "config.yaml").read_bytes() == config, "the run's config changed"
            assert any((run / "checkpoints").glob("step_*")), "the checkpoints are gone"
            assert not list(run.glob("eval_*.json")), "an evaluation record was written"
            assert not (work / "s.png").exists(), "a sample grid was written"
            return result.replace(str(trainer.pid), "PID")

    return check


def _two_together(work: Path) -> str:
    _write_config(work, 2000)
    both = [_start(work, "train", "run.yaml", "--run-name", "cc", "--quiet") for _ in range(2)]
    try:
        results = [(p.wait(timeout=100), p.communicate()[1]) for p in both]
    finally:
        for process in both:
            process.kill()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], f"exit codes {codes}: {[err[-200:] for _, err in results]}"
    winner = next(p for p, (code, _) in zip(both, results, strict=True) if code == 0)
    refusal = next(err for code, err in results if code == 2).strip().splitlines()
    assert len(refusal) == 1 and f"in use by pid {winner.pid}" in refusal[0], refusal[:3]
    lines = (work / "runs" / "cc" / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == list(range(1, 2001)), f"{len(steps)} lines, {len(set(steps))} steps"
    return refusal[0].replace(str(winner.pid), "PID") + "; metrics.jsonl: steps 1..2000 once"


_HOLD = """\
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()} core train\\n".encode())
print("held", flush=True)
time.sleep(600)
"""


def _stale_lock(recorded: str) -> Callable[[Path], str]:
    """A ``.lock`` left behind: by a process killed while it held it (``recorded`` "dead"),
    or naming a live pid that holds no lock (``recorded`` "1 core train")."""

    def check(work: Path) -> str:
        run = _trained(work)
        if recorded == "dead":
            holder = subprocess.Popen(
                [sys.executable, "-c", _HOLD, str(run / ".lock")], stdout=subprocess.PIPE, text=True
            )
            assert holder.stdout.readline().strip() == "held", "the holder did not start"
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        else:
            (run / ".lock").write_text(recorded + "\n")
        commands = [
            ("sample", str(run), "-n", "4", "-o", "s.png"),
            ("evaluate", str(run), "-m", "sliced-wasserstein", "-n", "8"),
            ("train", "--resume", str(run), "train.steps=4", "--quiet"),
        ]
        for args in commands:
            code, _, err = run_cli(*args)
            assert code == 0, f"core {args[0]}: exit {code}: {err.strip()[-200:]}"
        return "core sample, evaluate and train --resume ran (exit 0)"

    return check


def _lock_hard_link(work: Path) -> str:
    run = _trained(work)
    (work / "precious.txt").write_text("keep me")
    (run / ".lock").unlink(missing_ok=True)
    os.link(work / "precious.txt", run / ".lock")
    result = hostile.expect_cli_refused("train", "--resume", str(run), "train.steps=4", "-q")
    assert (work / "precious.txt").read_text() == "keep me", "the linked file was written"
    return result


def _logger(loggers: str, *, resume: bool = False) -> Callable[[Path], str]:
    """``core train run.yaml train.loggers=LOGGERS``: exit 2, one line, nothing written (or,
    with ``resume``, the same loggers written into a trained run's config, then --resume)."""

    def check(work: Path) -> str:
        value = loggers.replace("ABS", str(work / "abs")).replace("RUN", str(work / "runs/cc"))
        if resume:
            run = _trained(work)
            config = yaml.safe_load((run / "config.yaml").read_text())
            config["train"]["loggers"] = yaml.safe_load(value)
            (run / "config.yaml").write_text(yaml.safe_dump(config))
            before = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
            result = hostile.expect_cli_refused("train", "--resume", str(run), "--quiet")
            after = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
            changed = sorted(str(p.relative_to(run)) for p in set(before) ^ set(after))
            changed += [str(p.relative_to(run)) for p in before if after.get(p) != before[p]]
            assert not [c for c in changed if c != ".lock"], f"the run changed: {changed}"
            return result
        _write_config(work, 2)
        override = f"train.loggers={value}"
        args = ("train", "run.yaml", override, "--run-name", "cc", "--quiet")
        result = hostile.expect_cli_refused(*args)
        written = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.name != "run.yaml")
        assert not written, f"written before the refusal: {written[:5]}"
        return result

    return check


CASES = {
    "train-twice-together": (
        "runs",
        "two `core train run.yaml --run-name cc` started together",
        "one exits 2 naming the other's pid; metrics.jsonl holds each step once",
        _two_together,
    ),
    "resume-while-training": (
        "runs",
        "`core train --resume RUN` while another process trains RUN",
        "exit 2, one line naming the trainer's pid; the run untouched",
        _while_training("train", "--resume", "RUN", "train.steps=40", "--quiet"),
    ),
    "overwrite-while-training": (
        "runs",
        "`core train run.yaml --run-name cc --overwrite` while another process trains cc",
        "exit 2, one line naming the trainer's pid; nothing deleted",
        _while_training("train", "run.yaml", "train.steps=2", "--run-name", "cc", "--overwrite"),
    ),
    "evaluate-while-training": (
        "runs",
        "`core evaluate RUN` while another process trains RUN",
        "exit 2, one line naming the trainer's pid; no record written",
        _while_training("evaluate", "RUN", "-m", "sliced-wasserstein", "-n", "8"),
    ),
    "sample-while-training": (
        "runs",
        "`core sample RUN` while another process trains RUN",
        "exit 2, one line naming the trainer's pid; no grid written",
        _while_training("sample", "RUN", "-n", "4", "-o", "s.png"),
    ),
    "lock-of-a-killed-holder": (
        "runs",
        "RUN/.lock left by a process killed (-9) while it held the lock",
        "sample, evaluate and --resume run (held before: no lock existed)",
        _stale_lock("dead"),
    ),
    "lock-naming-a-live-pid": (
        "runs",
        "RUN/.lock reads `1 core train` (a live pid that holds no lock)",
        "sample, evaluate and --resume run (held before: no lock existed)",
        _stale_lock("1 core train"),
    ),
    "lock-hard-link": (
        "runs",
        "`core train --resume RUN`, RUN/.lock a hard link to a file elsewhere",
        "exit 2, one line; the other file untouched",
        _lock_hard_link,
    ),
    "logger-config-yaml": (
        "runs",
        "`core train run.yaml 'train.loggers=[{type: jsonl, filename: config.yaml}]'`",
        "exit 2, one line, nothing written",
        _logger("[{type: jsonl, filename: config.yaml}]"),
    ),
    "logger-config-yaml-upper": (
        "runs",
        "`train.loggers=[{type: jsonl, filename: CONFIG.YAML}]`",
        "exit 2, one line, nothing written",
        _logger("[{type: jsonl, filename: CONFIG.YAML}]"),
    ),
    "logger-dotdot": (
        "runs",
        "`train.loggers=[{type: jsonl, filename: ../x.jsonl}]`",
        "exit 2, one line, nothing written (held before: jsonl's file name has no '/')",
        _logger("[{type: jsonl, filename: ../x.jsonl}]"),
    ),
    "logger-absolute": (
        "runs",
        "`train.loggers=[{type: jsonl, filename: /…/abs.jsonl}]`",
        "exit 2, one line, nothing written (held before: jsonl's file name has no '/')",
        _logger("[{type: jsonl, filename: ABS.jsonl}]"),
    ),
    "logger-in-checkpoints": (
        "runs",
        "`train.loggers=[{type: jsonl, filename: checkpoints/x.jsonl}]`",
        "exit 2, one line, nothing written (held before: jsonl's file name has no '/')",
        _logger("[{type: jsonl, filename: checkpoints/x.jsonl}]"),
    ),
    "logger-tb-in-checkpoints": (
        "runs",
        "`train.loggers=[{type: tensorboard, log_dir: checkpoints/tb}]`",
        "exit 2, one line, nothing written",
        _logger("[{type: tensorboard, log_dir: checkpoints/tb}]"),
    ),
    "logger-absolute-into-final": (
        "runs",
        "`train.loggers=[{type: tensorboard, log_dir: /abs/path/of/runs/cc/final}]`",
        "exit 2, one line, nothing written",
        _logger("[{type: tensorboard, log_dir: RUN/final}]"),
    ),
    "logger-file-uri-into-checkpoints": (
        "runs",
        "`train.loggers=[{type: mlflow, tracking_uri: 'file:///abs/path/of/runs/cc/checkpoints'}]`",
        "exit 2, one line, nothing written",
        _logger("[{type: mlflow, tracking_uri: 'file://RUN/checkpoints'}]"),
    ),
    "logger-final": (
        "runs",
        "`train.loggers=[{type: jsonl, filename: final}]`",
        "exit 2, one line, nothing written",
        _logger("[{type: jsonl, filename: final}]"),
    ),
    "logger-dot-slash-config": (
        "runs",
        "`train.loggers=[{type: tensorboard, log_dir: ./x/../config.yaml}]`",
        "exit 2, one line, nothing written",
        _logger("[{type: tensorboard, log_dir: ./x/../config.yaml}]"),
    ),
    "logger-two-one-file": (
        "runs",
        "`train.loggers=[jsonl, {type: tensorboard, log_dir: metrics.jsonl}]` (one file)",
        "exit 2, one line, nothing written",
        _logger("[jsonl, {type: tensorboard, log_dir: metrics.jsonl}]"),
    ),
    "logger-lock-file": (
        "runs",
        "`train.loggers=[{type: jsonl, filename: .lock}]`",
        "exit 2, one line, nothing written",
        _logger("[{type: jsonl, filename: .lock}]"),
    ),
    "resume-logger-config-yaml": (
        "runs",
        "`core train --resume RUN`, RUN/config.yaml edited to log into config.yaml",
        "exit 2, one line; the run unchanged",
        _logger("[{type: jsonl, filename: config.yaml}]", resume=True),
    ),
}
