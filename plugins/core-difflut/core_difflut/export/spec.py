"""The evaluation-mode network as plain NumPy arrays: the single source every export uses."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.atomic import atomic_write_bytes
from core.errors import ConfigError

__all__ = ["network_spec", "save_spec", "load_spec"]


def network_spec(model: Any) -> dict[str, Any]:
    """Encoder thresholds and code, each layer's connections and truth tables, GroupSum.

    Keys: ``thresholds`` (F, L) float32, ``code`` (L+1, bits) uint8, ``thermometer`` bool,
    ``layers``: list of ``{"indices": (N, n) int32, "tables": (N, 2**n) uint8}``,
    ``num_classes``, ``tau``. Bit ``f * bits + b`` of the encoded input is bit ``b`` of feature f.
    """
    if model.config.runtime.eval_mode != "deterministic":
        raise ConfigError(
            "export needs eval_mode 'deterministic' (the truth-table network); "
            f"this model has {model.config.runtime.eval_mode!r}"
        )
    if not model.encoder.is_fitted:
        raise ConfigError("export: the model's encoder is not fitted")
    enc = model.encoder.export()
    layers = []
    with torch.no_grad():
        for layer in model.layers:
            layers.append(
                {
                    "indices": layer.connections().cpu().numpy().astype(np.int32),
                    "tables": layer.node.truth_table().cpu().numpy().astype(np.uint8),
                }
            )
    return {
        "thresholds": enc["thresholds"],
        "code": enc["code"],
        "thermometer": bool(model.encoder.thermometer),
        "layers": layers,
        "num_classes": int(model.config.num_classes),
        "tau": float(model.config.runtime.tau),
    }


def save_spec(spec: dict[str, Any], path: Any) -> None:
    """Write a spec as one ``.npz`` file (``.npz`` added to a name without it), atomically."""
    arrays = {
        "thresholds": spec["thresholds"],
        "code": spec["code"],
        "thermometer": np.array(spec["thermometer"]),
        "num_classes": np.array(spec["num_classes"]),
        "tau": np.array(spec["tau"]),
        "num_layers": np.array(len(spec["layers"])),
    }
    for i, layer in enumerate(spec["layers"]):
        arrays[f"layer{i}_indices"] = layer["indices"]
        arrays[f"layer{i}_tables"] = layer["tables"]
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    atomic_write_bytes(path, buffer.getbuffer())


def load_spec(path: Any) -> dict[str, Any]:
    """Read a spec written by ``save_spec``."""
    with np.load(path) as data:
        return {
            "thresholds": data["thresholds"],
            "code": data["code"],
            "thermometer": bool(data["thermometer"]),
            "num_classes": int(data["num_classes"]),
            "tau": float(data["tau"]),
            "layers": [
                {"indices": data[f"layer{i}_indices"], "tables": data[f"layer{i}_tables"]}
                for i in range(int(data["num_layers"]))
            ],
        }
