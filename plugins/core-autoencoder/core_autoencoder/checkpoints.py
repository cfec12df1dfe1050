"""Loading one part of a model (encoder, decoder) from a checkpoint."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from core.errors import WeightsError
from core.weights import check_state_dict, read_weights

__all__ = ["resolve_weights_file", "load_part"]


def resolve_weights_file(source: str) -> Path:
    """A weights file from a file path, a ``save_pretrained`` directory or a pretrained name."""
    from core.pretrained import pretrained_files

    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        return pretrained_files(path)[1]
    if path.suffix in {".safetensors", ".pt", ".pth", ".bin"} or "/" in source and path.exists():
        raise WeightsError(f"checkpoint not found: {source}")
    from core.pretrained import resolve_pretrained

    return pretrained_files(resolve_pretrained(source).path)[1]


def load_part(module: nn.Module, source: str, prefix: str, what: str) -> None:
    """Load ``module`` from ``source``: its own state dict, or a whole model's under ``prefix``."""
    path = resolve_weights_file(source)
    state = read_weights(path)
    if any(k.startswith(prefix) for k in state):
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    check_state_dict(module, state, source=f"{what} checkpoint {path}")
    module.load_state_dict(state, strict=True)
