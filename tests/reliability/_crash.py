"""Kill ``core train`` with SIGKILL at random moments, resume, and compare with a clean run.

Shared by ``test_crash_resume.py`` (a few kills) and ``benchmarks/reliability.py`` (many).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from _toy import child_env, toy_run  # this folder is on sys.path (load_helper, _helper)

CORE = str(Path(sys.executable).with_name("core"))

RUN_CONFIG: dict[str, Any] = toy_run(
    timesteps=20,
    hidden=32,
    size=512,
    steps=300,
    batch_size=32,
    lr=0.003,
    checkpoint_every=10,
    keep_checkpoints=2,
    log_every=10,
    ema_decay=0.99,
    device="cpu",
)


def write_config(directory: Path, steps: int | None = None) -> Path:
    config = json.loads(json.dumps(RUN_CONFIG))
    if steps is not None:
        config["train"]["steps"] = steps
    path = directory / "crash.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def train_command(config: Path, runs: Path, resume: Path | None = None) -> list[str]:
    if resume is not None:
        return [CORE, "train", "--resume", str(resume), "-q"]
    return [CORE, "train", str(config), "--runs-dir", str(runs), "--overwrite", "-q"]


def run_to_end(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=child_env())


def check_run_dir(run: Path) -> dict[str, Any]:
    """Invariants after a kill: the newest checkpoint loads; no partial file under a final name."""
    from core.training.checkpoint import latest_checkpoint, load_torch, read_json
    from core.weights import read_weights

    problems: list[str] = []
    ckpt = latest_checkpoint(run) if run.exists() else None
    if ckpt is not None:
        try:
            read_weights(ckpt / "model.safetensors")
            read_weights(ckpt / "ema.safetensors")
            load_torch(ckpt / "optimizer.pt")
            state = read_json(ckpt / "state.json")
            assert state["step"] == int(ckpt.name.split("_")[1])
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{ckpt.name}: {type(exc).__name__}: {exc}")
    # every visible (non-hidden) file must be complete: parse what can be parsed
    for path in run.rglob("*") if run.exists() else []:
        if any(part.startswith(".") for part in path.relative_to(run).parts) or not path.is_file():
            continue
        try:
            if path.suffix == ".safetensors":
                read_weights(path)
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".yaml":
                yaml.safe_load(path.read_text())
            elif path.suffix == ".pt":
                load_torch(path)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{path.relative_to(run)}: {type(exc).__name__}: {exc}")
    metrics = run / "metrics.jsonl"
    if metrics.is_file():  # appended line by line: only the last line may be cut
        lines = metrics.read_text().splitlines()
        for line in lines[:-1]:
            try:
                json.loads(line)
            except ValueError:
                problems.append(f"metrics.jsonl: corrupt line {line[:40]!r}")
    return {"checkpoint": ckpt.name if ckpt else None, "problems": problems}


def kill_and_resume(
    workdir: Path,
    kills: int,
    seed: int = 0,
    window: tuple[float, float] = (0.5, 3.0),
    steps: int | None = None,
) -> dict[str, Any]:
    """Start, SIGKILL at a random moment, check, resume; ``kills`` times; then finish."""
    rng = random.Random(seed)
    config = write_config(workdir, steps)
    runs = workdir / "runs"
    run = runs / "crash"
    records = []
    for _ in range(kills):
        has_ckpt = (run / "config.yaml").is_file() and check_run_dir(run)["checkpoint"]
        command = train_command(config, runs, resume=run if has_ckpt else None)
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env()
        )
        # wait until the run trains (a new line in metrics.jsonl), then a random delay
        metrics = run / "metrics.jsonl"
        size = metrics.stat().st_size if metrics.is_file() and has_ckpt else 0
        start = time.perf_counter()
        while proc.poll() is None and not (metrics.is_file() and metrics.stat().st_size > size):
            if time.perf_counter() - start > 120:
                break
            time.sleep(0.01)
        delay = rng.uniform(*window)
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = check_run_dir(run)
        state.update({"delay_s": round(delay, 3), "finished_before_kill": finished})
        records.append(state)
        if finished:
            break
    final = run_to_end(train_command(config, runs, resume=run))
    return {"kills": records, "final_returncode": final.returncode, "final_stderr": final.stderr}


def final_weights(run: Path) -> dict[str, Any]:
    from core.training.checkpoint import latest_checkpoint
    from core.weights import read_weights

    ckpt = latest_checkpoint(run)
    return {
        "model": read_weights(ckpt / "model.safetensors"),
        "ema": read_weights(ckpt / "ema.safetensors"),
        "step": int(ckpt.name.split("_")[1]),
    }


def same_weights(a: dict[str, Any], b: dict[str, Any]) -> bool:
    import torch

    return a["step"] == b["step"] and all(
        set(a[k]) == set(b[k]) and all(torch.equal(a[k][n], b[k][n]) for n in a[k])
        for k in ("model", "ema")
    )
