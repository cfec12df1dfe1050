"""Turning a device name from a config or the command line into a ``torch.device``."""

from __future__ import annotations

import re

import torch

from core.errors import ConfigError

__all__ = ["DEVICE_NAMES", "resolve_device"]

#: the device names a config or the command line may give; ``cuda:N`` picks one GPU.
DEVICE_NAMES = ("auto", "cpu", "cuda")
_CUDA_INDEX = re.compile(r"cuda:(0|[1-9][0-9]{0,3})")


def resolve_device(name: str, local_rank: int = 0, *, where: str = "device") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without CUDA is a ConfigError.

    ``cuda:N`` must name a CUDA device there is; any other name (``meta``, ``mps``, a typo) is
    a ConfigError. ``where`` names the setting in the error (``train.device``, ``--device``).
    """
    indexed = isinstance(name, str) and _CUDA_INDEX.fullmatch(name) is not None
    if not (indexed or name in DEVICE_NAMES):
        raise ConfigError(f"{where}: {name!r} is not a device; give auto, cpu, cuda or cuda:N")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"{where}: {name!r} requested but CUDA is not available")
    if not indexed:
        return torch.device("cuda", local_rank)
    index, count = int(name.partition(":")[2]), torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"{where}: {name!r} requested but there are {count} CUDA device(s)")
    return torch.device("cuda", index)
