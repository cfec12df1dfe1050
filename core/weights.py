"""Weights files: safetensors by default, legacy ``.pth`` only through ``weights_only``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from core.atomic import atomic_write_bytes
from core.errors import CoreError, WeightsError

__all__ = ["save_weights", "read_weights", "read_torch_file", "load_weights", "check_state_dict"]

_LEGACY_SUFFIXES = {".pth", ".pt", ".bin"}


def save_weights(
    weights: torch.nn.Module | Mapping[str, torch.Tensor],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write a module's state dict (or a tensor dict) as safetensors, atomically.

    The file is serialized in memory first, so a full disk or a missing permission is one
    ``AtomicWriteError`` naming the file, and the previous file stays as it was.
    """
    from safetensors.torch import save

    state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"cannot save '{key}': {type(value).__name__} is not a tensor")
        tensor = value.detach().to("cpu").contiguous()
        if tensor.untyped_storage().data_ptr() in seen:  # shared storage cannot be saved twice
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        tensors[key] = tensor
    path = Path(path)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    atomic_write_bytes(path, save(tensors, metadata=meta or None))
    return path


def read_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a weights file into CPU tensors; anything unreadable is a WeightsError."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.suffix in _LEGACY_SUFFIXES:
        return _read_legacy(path)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(
            f"{path}: not a readable safetensors file (truncated or corrupt?): {exc}"
        ) from None


def read_torch_file(
    path: str | os.PathLike[str],
    what: str = "legacy checkpoint",
    error: type[CoreError] = WeightsError,
) -> Any:
    """What a ``torch.save`` file holds: tensors and plain data only (``weights_only=True``,
    nothing unpickled runs), and sizes checked before anything is allocated.

    Only the zip format (torch >= 1.6) is read, with its records stored as ``torch.save``
    writes them: the older format declares storage sizes that are allocated before they are
    read, and a compressed record may expand a thousandfold. Anything else is one ``error``.
    """
    import pickle
    import zipfile

    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
            if magic != b"PK\x03\x04":
                raise error(
                    f"{path}: refused: not a zip-format torch.save file (torch >= 1.6 writes "
                    "one; the older format declares sizes that are allocated before they can be "
                    "checked); save it again with torch.save, or as safetensors"
                )
            with zipfile.ZipFile(handle) as archive:
                packed = next(
                    (i for i in archive.infolist() if i.compress_type != zipfile.ZIP_STORED), None
                )
        if packed is not None:
            raise error(
                f"{path}: refused: record {packed.filename!r} is compressed (torch.save stores "
                "records as they are; a compressed one may expand a thousandfold)"
            )
        return torch.load(path, map_location="cpu", weights_only=True)
    except CoreError:
        raise
    except pickle.UnpicklingError as exc:
        detail = next((x for x in str(exc).splitlines() if "GLOBAL" in x or "Unsupported" in x), "")
        detail = detail.split(" was not an allowed global")[0]  # not torch's advice to allow it
        raise error(
            f"{path}: refused: a {what} may hold only tensors and plain data "
            f"(read with weights_only=True, nothing unpickled){': ' + detail.strip() if detail else ''}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - truncated, empty, not a torch file at all
        first = (str(exc).splitlines() or [""])[0]
        raise error(
            f"{path}: not a readable {what} (truncated or corrupt?): {type(exc).__name__}: {first}"
        ) from None


def _read_legacy(path: Path) -> dict[str, torch.Tensor]:
    data = read_torch_file(path)
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
    ):
        raise WeightsError(f"{path}: a legacy checkpoint must hold a dict of named tensors")
    return dict(data)


def check_state_dict(
    module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str = "weights"
) -> None:
    """Raise a WeightsError listing missing, unexpected and mis-shaped tensors."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    wrong_dtype = [
        f"{k} (file {state[k].dtype}, model {expected[k].dtype})"
        for k in expected
        if k in state and state[k].is_floating_point() != expected[k].is_floating_point()
    ]
    problems = []
    for label, items in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("wrong shape", mismatched),
        ("wrong dtype", wrong_dtype),
    ):
        if items:
            more = f" and {len(items) - 5} more" if len(items) > 5 else ""
            problems.append(f"{label}: {', '.join(items[:5])}{more}")
    if problems:
        raise WeightsError(f"{source} do not fit {type(module).__name__}: {'; '.join(problems)}")


def load_weights(module: torch.nn.Module, path: str | os.PathLike[str]) -> torch.nn.Module:
    """Load a weights file into ``module``; nothing is loaded unless every tensor fits."""
    state = read_weights(path)
    check_state_dict(module, state, source=str(path))
    module.load_state_dict(state, strict=True)
    return module


def weights_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata header of a safetensors file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})
