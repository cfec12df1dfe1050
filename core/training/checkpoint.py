"""Checkpoints: ``checkpoints/step_<N>/`` directories, each complete or absent.

A checkpoint is written into a hidden staging folder beside it and swapped into place by
``core.atomic.atomic_directory`` (the rename is the commit); ``checkpoints/latest`` names the
newest one. Every rank writes its random state into the same folder; rank 0 writes the rest.
Files:

- ``model.safetensors`` and ``ema.safetensors``: weights
- ``optimizer.pt``: optimizer states (tensors and numbers only; read with ``weights_only=True``)
- ``state.json``: step, data position, scaler state
- ``rng_rank<R>.json``: random states of process R (python, numpy, torch, CUDA)
"""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core._staging import remove_entry
from core.atomic import atomic_directory, atomic_write_bytes, atomic_write_text
from core.errors import TrainingError
from core.training.distributed import DistInfo, share_from_main

__all__ = [
    "rng_state",
    "set_rng_state",
    "latest_checkpoint",
    "list_checkpoints",
    "checkpoint_step",
    "checkpoint_directory",
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


@contextlib.contextmanager
def checkpoint_directory(
    run_dir: Path, step: int, keep: int, dist: DistInfo | None = None
) -> Iterator[Path]:
    """Yield the folder every rank writes checkpoint ``step`` into; made by rank 0 beside
    ``checkpoints/step_<N>``, which it becomes when the block ends there. Then ``latest``
    names it and only the newest ``keep`` checkpoints stay."""
    dist = dist or DistInfo()
    final = Path(run_dir) / "checkpoints" / f"{_PREFIX}{step}"
    if not dist.is_main:
        yield share_from_main(None, dist)
        return
    with atomic_directory(final, overwrite=True) as staging:
        yield share_from_main(staging, dist)
    atomic_write_text(final.parent / "latest", final.name + "\n")
    for old in list_checkpoints(Path(run_dir))[:-keep]:
        remove_entry(old)


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
