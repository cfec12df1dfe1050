"""Checkpoints: ``checkpoints/step_<N>/`` directories, each complete or absent.

A checkpoint is written into a hidden staging directory and renamed into place (the rename
is the commit); ``checkpoints/latest`` names the newest one. Files:

- ``model.safetensors`` and ``ema.safetensors``: weights
- ``optimizer.pt``: optimizer states (tensors and numbers only; read with ``weights_only=True``)
- ``state.json``: step, data position, scaler state
- ``rng_rank<R>.json``: random states of process R (python, numpy, torch, CUDA)
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.atomic import atomic_write_bytes, atomic_write_text, write_error
from core.errors import TrainingError

__all__ = [
    "rng_state",
    "set_rng_state",
    "latest_checkpoint",
    "list_checkpoints",
    "checkpoint_step",
    "staging_dir",
    "commit_checkpoint",
    "write_json",
    "read_json",
    "save_torch",
    "load_torch",
]

_PREFIX = "step_"


def rng_state() -> dict[str, Any]:
    """Every random state of this process as JSON-safe data."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": [
            np_state[0],
            np_state[1].tolist(),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        if (
            child.is_dir()
            and child.name.startswith(_PREFIX)
            and child.name[len(_PREFIX) :].isdigit()
        ) and (child / "state.json").is_file():
            found.append(child)
    return sorted(found, key=checkpoint_step)


def checkpoint_step(checkpoint: Path) -> int:
    """The optimizer step of ``checkpoints/step_<N>``."""
    return int(Path(checkpoint).name[len(_PREFIX) :])


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def staging_dir(run_dir: Path, step: int) -> Path:
    """A fresh hidden directory to write checkpoint ``step`` into.

    Staging directories left by earlier failed or killed saves are removed first.
    """
    root = Path(run_dir) / "checkpoints"
    path = root / f".staging-{_PREFIX}{step}"
    if root.is_dir():
        for stale in root.glob(f".staging-{_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise write_error(path, exc) from exc
    return path


def commit_checkpoint(staging: Path, step: int, keep: int) -> Path:
    """Rename a written staging directory into ``step_<N>``; keep the newest ``keep``."""
    root = staging.parent
    final = root / f"{_PREFIX}{step}"
    try:
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except OSError as exc:
        raise write_error(final, exc) from exc
    atomic_write_text(root / "latest", final.name + "\n")
    for old in list_checkpoints(root.parent)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot read checkpoint file {path}: {exc}") from None


def save_torch(path: Path, data: Any) -> None:
    """``torch.save`` atomically (tensors, numbers, lists and dicts only), serialized in memory."""
    buffer = io.BytesIO()
    torch.save(data, buffer)
    atomic_write_bytes(path, buffer.getbuffer())


def load_torch(path: Path) -> Any:
    """Load what ``save_torch`` wrote, refusing anything but tensors and plain data."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
        raise TrainingError(
            f"cannot read checkpoint file {path}: {str(exc).splitlines()[0]}"
        ) from None
