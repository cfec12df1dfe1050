"""Convert an upstream DiffLUT (aplesner/difflut) feedforward checkpoint into a saved model.

Upstream keeps one module per node, so a checkpoint (``torch.save(model.state_dict())``)
holds ``layers.{i}.nodes.{j}.<parameter>`` for every node, the layer's connectivity
(``layers.{i}._mapping_indices`` for random layers, ``layers.{i}.mapping.W`` for learnable
ones), the fitted encoder's ``encoder.thresholds`` and GroupSum's ``output_layer.tau``.
The result is a ``feedforward`` directory (YAML + safetensors) whose evaluation-mode
outputs equal upstream's hard network; the conversion checks every truth table against
upstream's own evaluation formula before anything is written.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from core.errors import ConfigError, WeightsError
from core_difflut.names import canonical

__all__ = ["SUPPORTED_NODES", "THERMOMETERS", "convert_checkpoint", "read_checkpoint"]

#: upstream node type -> the parameter that identifies it in a node's state
SUPPORTED_NODES = {
    "dwn": "luts",
    "dwn_stable": "gradient_scale",
    "hybrid": "raw_luts",
    "probabilistic": "raw_weights",
    "linear_lut": "weights",
}
#: the node state keys each type may hold (parameters and buffers)
_NODE_KEYS = {
    "dwn": {"luts", "alpha", "beta"},
    "dwn_stable": {"raw_luts", "gradient_scale"},
    "hybrid": {"raw_luts", "binary_combinations"},
    "probabilistic": {"raw_weights", "temperature", "binary_combinations"},
    "linear_lut": {"weights", "bias"},
}
#: the node state keys each type must hold
_REQUIRED = {
    "dwn": {"luts"},
    "dwn_stable": {"raw_luts", "gradient_scale"},
    "hybrid": {"raw_luts"},
    "probabilistic": {"raw_weights"},
    "linear_lut": {"weights"},
}
#: encoders whose state is ``thresholds`` and whose bit i is ``x > thresholds[:, i]``
THERMOMETERS = ("thermometer", "gaussian-thermometer", "distributive-thermometer")
_LEARNABLE_CACHE = {"mapping._cached_hard_indices", "mapping._cached_hard_mask"}
_NODE_KEY = re.compile(r"^layers\.(\d+)\.nodes\.(\d+)\.(.+)$")
_LAYER_KEY = re.compile(r"^layers\.(\d+)\.(.+)$")


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The state dict of an upstream checkpoint, read without unpickling code.

    Accepts a ``.safetensors`` file or a ``torch.save`` file of a state dict (or of a dict
    holding it under ``state_dict``, ``model_state_dict`` or ``model``).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle and zip errors of every kind
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            f"{path}: not a tensor-only PyTorch checkpoint (read with weights_only=True, "
            f"which never runs pickled code): {first}"
        ) from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not data:
        raise WeightsError(f"{path}: holds {type(data).__name__}, not a state dict of tensors")
    bad = [k for k, v in data.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: entry {bad[0]!r} is not a tensor; expected a state dict")
    return {str(k).removeprefix("module."): v for k, v in data.items()}


# -- reading the layout ------------------------------------------------------------------------


def _node_type(layer: int, node_state: dict[str, torch.Tensor], source: str) -> str:
    keys = set(node_state)
    for name in ("dwn_stable", "dwn", "probabilistic", "hybrid", "linear_lut"):
        if SUPPORTED_NODES[name] in keys and keys <= _NODE_KEYS[name]:
            return name
    raise WeightsError(
        f"{source}: layers.{layer}.nodes.0 holds {', '.join(sorted(keys))}, which matches no "
        f"supported upstream node type ({', '.join(SUPPORTED_NODES)})"
    )


def _split_layers(state: dict[str, torch.Tensor], source: str) -> list[dict[str, Any]]:
    layers: dict[int, dict[str, Any]] = {}
    for key, value in state.items():
        if key.startswith(("encoder.", "output_layer.")):
            continue
        if "first_layer_chunks" in key or ".trees." in key:
            raise WeightsError(
                f"{source}: key {key!r} belongs to an upstream convolutional model; only "
                "feedforward checkpoints convert"
            )
        match = _NODE_KEY.match(key)
        if match:
            i, j, name = int(match[1]), int(match[2]), match[3]
            layers.setdefault(i, {"nodes": {}, "other": {}})["nodes"].setdefault(j, {})[name] = (
                value
            )
            continue
        match = _LAYER_KEY.match(key)
        if not match:
            raise WeightsError(
                f"{source}: unexpected key {key!r}; an upstream feedforward checkpoint holds "
                "encoder.*, layers.<i>.* and output_layer.* only"
            )
        layers.setdefault(int(match[1]), {"nodes": {}, "other": {}})["other"][match[2]] = value
    if not layers:
        raise WeightsError(f"{source}: no layers.<i>.nodes.<j>.* keys: not a DiffLUT checkpoint")
    if sorted(layers) != list(range(len(layers))):
        missing = min(set(range(max(layers) + 1)) - set(layers))
        raise WeightsError(f"{source}: layers.{missing}.* is missing")
    return [layers[i] for i in range(len(layers))]


def _parse_layer(i: int, layer: dict[str, Any], width: int, source: str) -> dict[str, Any]:
    nodes = layer["nodes"]
    if not nodes:
        raise WeightsError(f"{source}: layers.{i} has no nodes (layers.{i}.nodes.<j>.*)")
    count = max(nodes) + 1
    if len(nodes) != count:
        missing = min(set(range(count)) - set(nodes))
        raise WeightsError(f"{source}: layers.{i}.nodes.{missing}.* is missing")
    node_type = _node_type(i, nodes[0], source)
    keys = set(nodes[0]) | _REQUIRED[node_type]
    for j in range(count):
        missing = keys - set(nodes[j])
        if missing:
            raise WeightsError(f"{source}: layers.{i}.nodes.{j}.{sorted(missing)[0]} is missing")
        extra = set(nodes[j]) - keys
        if extra:
            raise WeightsError(
                f"{source}: layers.{i}.nodes.{j}.{sorted(extra)[0]} is not a {node_type} key"
            )
    other = dict(layer["other"])
    for key in _LEARNABLE_CACHE:
        other.pop(key, None)
    if set(other) == {"_mapping_indices"}:
        indices = other["_mapping_indices"].long()
        if indices.dim() != 2 or indices.shape[0] != count:
            raise WeightsError(
                f"{source}: layers.{i}._mapping_indices has shape {tuple(indices.shape)}, "
                f"expected ({count}, n)"
            )
        layer_type, n, mapping = "random", indices.shape[1], indices
        if indices.numel() and (indices.min() < 0 or indices.max() >= width):
            raise WeightsError(
                f"{source}: layers.{i}._mapping_indices reads input {int(indices.max())} "
                f"of a {width}-wide input"
            )
    elif set(other) == {"mapping.W"}:
        w = other["mapping.W"]
        if w.dim() != 2 or w.shape[1] != width or w.shape[0] % count:
            raise WeightsError(
                f"{source}: layers.{i}.mapping.W has shape {tuple(w.shape)}, expected "
                f"({count} * n, {width})"
            )
        layer_type, n, mapping = "learnable", w.shape[0] // count, w.float()
    else:
        found = ", ".join(f"layers.{i}.{k}" for k in sorted(other)) or "nothing"
        raise WeightsError(
            f"{source}: layers.{i} needs _mapping_indices (random) or mapping.W (learnable) "
            f"connectivity; found {found}"
        )
    params = {key: torch.stack([nodes[j][key] for j in range(count)]) for key in nodes[0]}
    _check_node_shapes(i, node_type, params, n, source)
    return {"type": layer_type, "nodes": count, "n": n, "mapping": mapping,
            "node_type": node_type, "params": params}  # fmt: skip


def _check_node_shapes(
    i: int, node_type: str, params: dict[str, torch.Tensor], n: int, source: str
) -> None:
    k = 1 << n
    count = next(iter(params.values())).shape[0]
    expected = {
        "luts": (count, 1, k),
        "raw_luts": (count, 1, k),
        "raw_weights": (count, k, 1),
        "weights": (count, n, 1),
        "bias": (count, 1),
    }
    for key, shape in expected.items():
        if key in params and tuple(params[key].shape) != shape:
            raise WeightsError(
                f"{source}: layers.{i}.nodes.<j>.{key} has shape "
                f"{tuple(params[key].shape[1:])}, expected {shape[1:]} for a {node_type} node "
                f"with {n} inputs and one output"
            )


# -- upstream's evaluation formulas --------------------------------------------------------------


def _corners(n: int) -> torch.Tensor:
    a = torch.arange(1 << n)
    return ((a.unsqueeze(1) >> torch.arange(n)) & 1).float()  # (K, n), address sum_j x_j 2^j


def upstream_tables(node_type: str, params: dict[str, torch.Tensor], n: int) -> torch.Tensor:
    """(N, 2**n) bool: each node's output on every binary input, by upstream's formulas."""
    p = {k: v.detach().float() for k, v in params.items()}
    if node_type == "dwn":
        return p["luts"][:, 0] >= 0.5
    if node_type in ("dwn_stable", "hybrid"):
        return torch.sigmoid(p["raw_luts"][:, 0]) >= 0.5
    if node_type == "probabilistic":
        t = p.get("temperature", torch.ones(p["raw_weights"].shape[0]))
        t = t.reshape(-1, 1).clamp(min=1e-6)
        return torch.sigmoid(p["raw_weights"][..., 0] / t) >= 0.5
    bias = p["bias"] if "bias" in p else torch.zeros(p["weights"].shape[0], 1)
    z = torch.einsum("kn,Nn->Nk", _corners(n), p["weights"][..., 0]) + bias
    return torch.sigmoid(z) >= 0.5


# -- building our model ------------------------------------------------------------------------


def _uniform(values: torch.Tensor | None) -> float | None:
    """The common value of per-node scalars (their mean when they differ), or None."""
    return None if values is None else float(values.float().mean())


def _node_setup(node_type: str, layers: list[dict[str, Any]]) -> tuple[dict[str, Any], float]:
    """(our node_params, our temperature) for the upstream node type."""

    def cat(key: str) -> torch.Tensor | None:
        found = [layer["params"][key].flatten() for layer in layers if key in layer["params"]]
        return torch.cat(found) if found else None

    if node_type == "dwn":
        params: dict[str, Any] = {}
        alpha, beta = _uniform(cat("alpha")), _uniform(cat("beta"))
        if alpha is not None:
            params["alpha"] = alpha
        if beta is not None:
            params["beta"] = beta
        return params, 1.0
    if node_type == "dwn_stable":
        params = {"gradient_normalization": "none"}
        scale = _uniform(cat("gradient_scale"))
        if scale is not None and 0 < scale <= 1000:  # a learned scale may leave our bounds
            params["gradient_scale"] = scale
        return params, 1.0
    if node_type == "probabilistic":
        temps = cat("temperature")
        if temps is not None and bool((temps == temps[0]).all()):
            return {}, float(temps[0])
        return {}, 1.0
    return {}, 1.0


def _fill_node(node: Any, layer: dict[str, Any], temperature: float, where: str) -> None:
    """Copy one layer's upstream node parameters into ``node``, then check its truth tables."""
    p, kind = layer["params"], layer["node_type"]
    with torch.no_grad():
        if kind == "dwn":
            node.table.copy_(p["luts"][:, 0])
        elif kind == "dwn_stable":
            node.raw.copy_(p["raw_luts"][:, 0])
        elif kind == "hybrid":
            node.theta.copy_(p["raw_luts"][:, 0])
        elif kind == "probabilistic":
            theta = p["raw_weights"][..., 0].float()
            t = p.get("temperature", torch.ones(layer["nodes"])).float().reshape(-1, 1)
            if not bool((t == temperature).all()):  # per-node temperatures fold into theta
                theta = theta / t.clamp(min=1e-6)
            node.theta.copy_(theta)
        else:
            node.weight.copy_(p["weights"][..., 0])
            node.bias.copy_(p["bias"][:, 0] if "bias" in p else torch.zeros(layer["nodes"]))
        expected = upstream_tables(kind, p, layer["n"])
        ours = node.truth_table()
        if kind != "linear_lut":
            # sigmoid rounds to exactly 0.5 just below 0: upstream reads 1 where ours reads 0
            param = {"dwn": "table", "dwn_stable": "raw"}.get(kind, "theta")
            target = getattr(node, param)
            fix = expected & ~ours
            target[fix] = 0.5 if kind == "dwn" else 0.0
            ours = node.truth_table()
    if not torch.equal(ours.cpu(), expected):
        row = int((ours.cpu() != expected).any(1).nonzero()[0])
        raise WeightsError(
            f"{where}.nodes.{row}: the converted {kind} node's truth table differs from "
            "upstream's evaluation (a pre-activation within rounding of 0)"
        )


def _encoder_section(
    state: dict[str, torch.Tensor], encoder: str | None, source: str
) -> tuple[str, torch.Tensor]:
    thresholds = state.get("encoder.thresholds")
    if thresholds is None:
        raise WeightsError(
            f"{source}: encoder.thresholds is missing (fit the upstream encoder before saving)"
        )
    extra = sorted(k for k in state if k.startswith("encoder.") and k != "encoder.thresholds")
    if extra:
        raise WeightsError(f"{source}: unexpected encoder key {extra[0]!r} (thermometers only)")
    name = canonical("encoder", encoder or "thermometer")
    if name not in THERMOMETERS:
        raise ConfigError(
            f"encoder {encoder!r}: only thermometer encoders convert ({', '.join(THERMOMETERS)})"
        )
    t = thresholds.float()
    if t.dim() != 2:
        raise WeightsError(
            f"{source}: encoder.thresholds has shape {tuple(t.shape)}, expected (features, bits)"
        )
    if t.shape[1] > 1 and bool((t[:, 1:] < t[:, :-1]).any()):
        raise WeightsError(f"{source}: encoder.thresholds are not sorted along the bits")
    return name, t


def _upstream_config(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    if path is None:
        return {}
    from core.config import Config

    data = Config(path).to_dict()
    data = data.get("model", data) if isinstance(data.get("model"), dict) else data
    kind = data.get("model_type", "feedforward")
    if kind != "feedforward":
        raise ConfigError(f"{path}: model_type {kind!r}; only feedforward checkpoints convert")
    return data


def convert_checkpoint(
    checkpoint: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    num_classes: int | None = None,
    node_type: str | None = None,
    encoder: str | None = None,
    tau: float | None = None,
    dataset: str | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert an upstream checkpoint into directory ``output`` (YAML + safetensors).

    ``config`` is upstream's model YAML (node_type, num_classes, encoder_config,
    runtime.output_tau); the keyword options fill in or override it. ``node_type`` is
    checked against what the checkpoint holds. The directory appears complete or not at all.
    """
    source = str(checkpoint)
    upstream = _upstream_config(config)
    state = read_checkpoint(checkpoint)
    enc_name, thresholds = _encoder_section(
        state, encoder or (upstream.get("encoder_config") or {}).get("name"), source
    )
    width = thresholds.shape[0] * thresholds.shape[1]
    layers = []
    for i, raw in enumerate(_split_layers(state, source)):
        layers.append(_parse_layer(i, raw, width, source))
        width = layers[-1]["nodes"]
    kinds = {layer["node_type"] for layer in layers}
    ns = {layer["n"] for layer in layers}
    if len(kinds) > 1 or len(ns) > 1:
        raise WeightsError(
            f"{source}: layers mix node types {sorted(kinds)} or input counts {sorted(ns)}; "
            "a feedforward model has one of each"
        )
    found = kinds.pop()
    wanted = node_type or upstream.get("node_type")
    if wanted is not None and wanted.replace("-", "_") != found:
        raise WeightsError(
            f"{source}: node type {wanted!r} was given, the checkpoint holds {found!r}"
        )
    classes = num_classes or upstream.get("num_classes")
    if not classes:
        raise ConfigError("convert: give num_classes (--num-classes) or upstream's config YAML")
    if tau is None:
        tau_t = state.get("output_layer.tau")
        runtime = upstream.get("runtime") or {}
        tau = float(tau_t) if tau_t is not None else float(runtime.get("output_tau", 1.0))
    extra = sorted(k for k in state if k.startswith("output_layer.") and k != "output_layer.tau")
    if extra:
        raise WeightsError(f"{source}: unexpected GroupSum key {extra[0]!r}")
    node_params, temperature = _node_setup(found, layers)

    from core_difflut.api import build_model
    from core_difflut.configs import ModelConfig

    model_config = ModelConfig(
        node_type=canonical("node", found),
        node_input_dim=ns.pop(),
        node_params=node_params,
        layer_type=[layer["type"] for layer in layers],
        layer_widths=[layer["nodes"] for layer in layers],
        input_size=thresholds.shape[0],
        num_classes=int(classes),
        encoder_config={"name": enc_name, "num_bits": thresholds.shape[1]},
        dataset=dataset or upstream.get("dataset"),
        runtime={"tau": tau, "temperature": temperature},
    )
    model = build_model(model_config).eval()
    with torch.no_grad():
        model.encoder.thresholds = thresholds.contiguous()
        model.encoder.fitted.fill_(1)
        for i, (ours, layer) in enumerate(zip(model.layers, layers)):
            if layer["type"] == "random":
                ours.indices.copy_(layer["mapping"])
            else:
                ours.mapping.copy_(layer["mapping"])
            _fill_node(ours.node, layer, temperature, f"{source}: layers.{i}")
    return _save_atomically(model, Path(output), name or Path(output).name, source, overwrite)


def _save_atomically(model: Any, output: Path, name: str, source: str, overwrite: bool) -> Path:
    if output.exists() and not output.is_dir():
        raise ConfigError(f"convert: output {output} exists and is not a directory")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise ConfigError(f"convert: output directory {output} is not empty (use --overwrite)")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        meta = {"converted_from": str(Path(source).name), "upstream": "aplesner/difflut"}
        model.save_pretrained(tmp, name=name, meta=meta)
        if output.is_dir():
            shutil.rmtree(output)
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return output
