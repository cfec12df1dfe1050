"""Round 3, area "loading": run directories read as data, ``core evaluate`` that never rewrites
a run, one loader. Loaded by ``_hostile.py``, which injects itself as ``hostile``."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from core.testing.refusals import run_cli

hostile: Any = globals()["hostile"]  # set by _hostile.py before this module runs

EVALUATE = ("evaluate", "run", "--metric", "sliced-wasserstein", "-n", "8")


def _run_with(work: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A trained toy run whose ``config.yaml`` was changed by ``change`` (as a hostile writer)."""
    run = hostile.trained_toy_run(work)
    config = yaml.safe_load((run / "config.yaml").read_text())
    change(config)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return run


def _loggers(*sections: Any) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        config["train"]["loggers"] = list(sections)

    return change


def _evaluate_env(work: Path) -> str:
    os.environ["SECRET_TOKEN"] = "hunter2-secret"
    run = _run_with(work, _loggers({"type": "mlflow", "experiment": "exp-${SECRET_TOKEN}"}))
    code, _, err = run_cli(*EVALUATE)
    assert code == 0, f"exit {code}: {err[-300:]}"
    assert not (run / "mlflow.db").exists(), "evaluate opened the run's mlflow logger without --log"
    code, _, err = run_cli(*EVALUATE, "--log")
    assert code == 0, f"--log: exit {code}: {err[-300:]}"
    leaked = [
        str(path.relative_to(run))
        for path in [run / "mlflow.db", *(run / "mlartifacts").rglob("*")]
        if path.is_file() and b"hunter2-secret" in path.read_bytes()
    ]
    assert not leaked, f"the secret was expanded into {leaked[:3]}"
    return "no logger opened without --log; with --log the experiment is named literally"


def _evaluate_logger(work: Path) -> str:
    unreachable = {"type": "mlflow", "tracking_uri": "http://127.0.0.1:9", "connect_timeout_s": 1}
    run = _run_with(work, _loggers("jsonl", unreachable))
    code, out, err = run_cli(*EVALUATE)
    assert code == 0, f"exit {code}: {err.strip()[-300:]}"
    assert list(run.glob("eval_*.json")), "no result written"
    return f"exit 0, {out.splitlines()[0][:60]}; the folder's tracking server was not contacted"


def _evaluate_truncate(work: Path) -> str:
    run = hostile.trained_toy_run(work)
    metrics = run / "metrics.jsonl"
    killed = metrics.read_bytes() + b'{"step": 9, "loss": 0.5}\n{"step": 10, "loss": 0.4}\n'
    metrics.write_bytes(killed)  # a kill after the last checkpoint leaves such lines
    code, _, err = run_cli(*EVALUATE)
    assert code == 0, f"exit {code}: {err[-300:]}"
    assert metrics.read_bytes() == killed, (
        f"metrics.jsonl rewritten: {len(killed)} bytes became {len(metrics.read_bytes())}"
    )
    code, _, err = run_cli(*EVALUATE, "--log")
    assert code == 0 and metrics.read_bytes().startswith(killed), "--log did not only append"
    return "metrics.jsonl byte-identical; --log appends one line"


def _evaluate_readonly(work: Path) -> str:
    hostile.trained_toy_run(work)
    hostile.fail_temp_file_writes(setattr, errno.EROFS)  # every atomic write fails mid-way
    code, out, err = run_cli(*EVALUATE)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (
        f"exit {code}: {lines[:3]}"
    )
    assert "sliced_wasserstein:" in out, f"the result was not printed before the write: {out!r}"
    return f"result printed, then exit 2: {lines[0][:90]}"


def _run_config_shape(make: Callable[[Path], None], named: str) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        run = hostile.trained_toy_run(work)
        (run / "config.yaml").unlink()
        make(run / "config.yaml")
        code, _, err = run_cli("sample", "run", "-n", "4", "-o", str(work / "s.png"))
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, f"exit {code}: {lines[:3]}"
        assert "config.yaml" in lines[0] and named in lines[0], f"not named: {lines[0]}"
        return f"exit 2: {lines[0][:110]}"

    return check


def _linked_out(part: str, *args: str) -> Callable[[Path], str]:
    """``core sample run ARGS`` where the run's ``part`` is a link to a copy outside the run."""

    def check(work: Path) -> str:
        run = hostile.trained_toy_run(work)
        target = run / part
        if not target.exists():  # a checkpoint newer than the run's own: step_99
            newest = sorted((run / "checkpoints").glob("step_*"))[-1]
            shutil.copytree(newest, work / "copy")
        else:
            shutil.move(target, work / "copy")
        target.symlink_to(work / "copy")
        code, _, err = run_cli("sample", "run", *args, "-n", "4", "-o", str(work / "s.png"))
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, f"exit {code}: {lines[:3]}"
        assert "resolves outside" in lines[0], f"not refused as a link out: {lines[0]}"
        assert not (work / "s.png").exists()
        return f"exit 2: {lines[0][:110]}"

    return check


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()


def _base_outside(path: Path) -> None:
    (path.parent.parent / "elsewhere.yaml").write_text("sample: {n: 4}\n")
    path.write_text(
        "_base_: ../elsewhere.yaml\n"
        "model: {type: ddpm, timesteps: 4, data_dim: 2, noise_schedule: {type: linear},\n"
        "  network: {type: mlp-denoiser, hidden_dim: 8, num_timesteps: 4}}\n"
    )


def _env_unset(work: Path) -> str:
    os.environ.pop("NOT_SET_ANYWHERE", None)
    _run_with(work, _loggers({"type": "mlflow", "experiment": "${NOT_SET_ANYWHERE}"}))
    code, out, err = run_cli("sample", "run", "-n", "4", "-o", str(work / "s.png"))
    assert code == 0, f"exit {code}: {err.strip()[-200:]}"
    return f"exit 0: {out.strip()[:80]}"


CASES = {
    "evaluate-env": (
        "loading",
        "`core evaluate RUN [--log]`, the run's mlflow logger named `exp-${SECRET_TOKEN}`",
        "no logger without --log; with it the name is literal",
        _evaluate_env,
    ),
    "evaluate-logger": (
        "loading",
        "`core evaluate RUN`, the run's config names an unreachable mlflow server",
        "exit 0, no logger opened, result written",
        _evaluate_logger,
    ),
    "evaluate-truncate": (
        "loading",
        "`core evaluate RUN` on a killed run (metrics.jsonl lines after the last checkpoint)",
        "metrics.jsonl byte-identical; --log appends",
        _evaluate_truncate,
    ),
    "evaluate-readonly": (
        "loading",
        "`core evaluate RUN` where writing into the run fails (read-only)",
        "result printed, then exit 2, one line",
        _evaluate_readonly,
    ),
    "run-config-fifo": (
        "loading",
        "`core sample RUN`, the run's config.yaml a FIFO",
        "exit 2, one line naming the pipe",
        _run_config_shape(_fifo, "named pipe"),
    ),
    "run-config-folder": (
        "loading",
        "`core sample RUN`, the run's config.yaml a folder",
        "exit 2, one line naming the folder",
        _run_config_shape(_folder, "directory"),
    ),
    "run-config-base": (
        "loading",
        "`core sample RUN`, the run's config.yaml has `_base_: ../elsewhere.yaml`",
        "exit 2, one line: _base_ is not read",
        _run_config_shape(_base_outside, "_base_"),
    ),
    "run-final-link-out": (
        "loading",
        "`core sample RUN`, the run's final/ a link to a folder outside the run",
        "exit 2, one line: a run's folders are its own",
        _linked_out("final"),
    ),
    "run-checkpoint-link-out": (
        "loading",
        "`core sample RUN --raw`, a newer checkpoint step_99 linked from outside the run",
        "exit 2, one line: a run's folders are its own",
        _linked_out("checkpoints/step_99", "--raw"),
    ),
    "run-config-env-unset": (
        "loading",
        "`core sample RUN`, the run's config.yaml holds `${NOT_SET_ANYWHERE}`",
        "read literally, exit 0",
        _env_unset,
    ),
}
