"""Turning a device name from a config or the command line into a ``torch.device``."""

from __future__ import annotations

import torch

from core.errors import ConfigError

__all__ = ["resolve_device"]


def resolve_device(name: str, local_rank: int = 0, *, where: str = "device") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without CUDA is a ConfigError.

    ``where`` names the setting in the error (``train.device``, ``--device``).
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"{where}: 'cuda' requested but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")
