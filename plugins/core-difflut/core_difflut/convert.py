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

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from core.atomic import atomic_directory
from core.errors import ConfigError, WeightsError
from core_difflut.names import canonical

__all__ = [
    "MAX_MODEL_VALUES",
    "SUPPORTED_NODES",
    "THERMOMETERS",
    "convert_checkpoint",
    "read_checkpoint",
]

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
#: the most values a converted model may hold (truth tables, connectivity, thresholds):
#: 2**28, 1 GiB as float32. Checked from the checkpoint's shapes before anything is allocated,
#: so a small file declaring a huge model is refused at once (a 21 KB file reached 4.8 GB).
MAX_MODEL_VALUES = 1 << 28
#: each node state key -> its shape in upstream's state dict, for a node with n inputs
_NODE_SHAPES = {
    "luts": lambda n: (1, 1 << n),
    "raw_luts": lambda n: (1, 1 << n),
    "raw_weights": lambda n: (1 << n, 1),
    "weights": lambda n: (n, 1),
    "bias": lambda n: (1,),
    "binary_combinations": lambda n: (1 << n, n),
}
#: node state keys holding one number per node (any shape of one element)
_NODE_SCALARS = {"alpha", "beta", "gradient_scale", "temperature"}
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
    from core.weights import read_torch_file, read_weights

    if path.suffix == ".safetensors":
        return read_weights(path)
    data = read_torch_file(path, "checkpoint")
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not data:
        raise WeightsError(f"{path}: holds {type(data).__name__}, not a state dict of tensors")
    bad = [k for k, v in data.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{path}: entry {bad[0]!r} is not a tensor; expected a state dict")
    for key, value in data.items():  # a view may declare far more values than the file holds
        stored = value.untyped_storage().nbytes()
        if value.numel() * value.element_size() > stored:
            raise WeightsError(
                f"{path}: {key!r} declares {value.numel():,} values of shape "
                f"{tuple(value.shape)} over {stored:,} stored bytes (an expanded view); refused"
            )
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
    if sorted(layers) != list(range(len(layers))):  # the first gap, never a range of the index
        missing = next(i for i in range(len(layers) + 1) if i not in layers)
        raise WeightsError(f"{source}: layers.{missing}.* is missing")
    return [layers[i] for i in range(len(layers))]


def _parse_layer(
    i: int, layer: dict[str, Any], width: int, values: int, source: str
) -> dict[str, Any]:
    """One layer's connectivity and node parameters, checked from their shapes first.

    ``values`` counts what the layers before hold; with this one it stays within
    MAX_MODEL_VALUES before anything is copied or stacked.
    """
    nodes = layer["nodes"]
    if not nodes:
        raise WeightsError(f"{source}: layers.{i} has no nodes (layers.{i}.nodes.<j>.*)")
    count = max(nodes) + 1
    if len(nodes) != count:  # the first gap, never a range of the declared index
        missing = next(j for j in range(len(nodes) + 1) if j not in nodes)
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
        indices = other["_mapping_indices"]
        if indices.dim() != 2 or indices.shape[0] != count:
            raise WeightsError(
                f"{source}: layers.{i}._mapping_indices has shape {tuple(indices.shape)}, "
                f"expected ({count}, n)"
            )
        if indices.is_floating_point() or indices.is_complex() or indices.dtype == torch.bool:
            raise WeightsError(
                f"{source}: layers.{i}._mapping_indices holds {indices.dtype} values; "
                "expected integer input indices"
            )
        layer_type, n = "random", indices.shape[1]
        _check_layer_size(i, count, n, count * n, values, source)
        mapping = indices.long()
        if mapping.numel() and (mapping.min() < 0 or mapping.max() >= width):
            bad = int(mapping.max()) if mapping.max() >= width else int(mapping.min())
            raise WeightsError(
                f"{source}: layers.{i}._mapping_indices reads input {bad} of a {width}-wide input"
            )
    elif set(other) == {"mapping.W"}:
        w = other["mapping.W"]
        if w.dim() != 2 or w.shape[1] != width or w.shape[0] % count:
            raise WeightsError(
                f"{source}: layers.{i}.mapping.W has shape {tuple(w.shape)}, expected "
                f"({count} * n, {width})"
            )
        layer_type, n = "learnable", w.shape[0] // count
        _check_layer_size(i, count, n, w.numel(), values, source)
        mapping = _real_values(w, f"layers.{i}.mapping.W", source, finite=False)
    else:
        found = ", ".join(f"layers.{i}.{k}" for k in sorted(other)) or "nothing"
        raise WeightsError(
            f"{source}: layers.{i} needs _mapping_indices (random) or mapping.W (learnable) "
            f"connectivity; found {found}"
        )
    for j in range(count):
        for key, value in nodes[j].items():
            _check_node_value(f"layers.{i}.nodes.{j}.{key}", key, value, node_type, n, source)
    params = {
        key: torch.stack([nodes[j][key].float().reshape(nodes[0][key].shape) for j in range(count)])
        for key in nodes[0]
    }
    return {"type": layer_type, "nodes": count, "n": n, "mapping": mapping,
            "node_type": node_type, "params": params,
            "values": values + count * (1 << n) + mapping.numel()}  # fmt: skip


def _check_layer_size(i: int, count: int, n: int, mapping: int, values: int, source: str) -> None:
    """Refuse, from shapes alone, a node input count the model cannot hold or a model too big."""
    from core_difflut.configs import ModelConfig

    bound = next(
        m.le for m in ModelConfig.model_fields["node_input_dim"].metadata if hasattr(m, "le")
    )
    if not 1 <= n <= bound:
        raise WeightsError(
            f"{source}: layers.{i} gives its nodes {n} inputs; a feedforward node takes 1 to "
            f"{bound} (a truth table of 2**n entries)"
        )
    total = values + count * (1 << n) + mapping
    if total > MAX_MODEL_VALUES:
        raise WeightsError(
            f"{source}: layers.{i} ({count:,} nodes of {n} inputs) brings the model to "
            f"{total:,} values, over the {MAX_MODEL_VALUES:,} a converted model may hold; refused "
            "before anything is allocated"
        )


def _check_node_value(
    where: str, key: str, value: torch.Tensor, node_type: str, n: int, source: str
) -> None:
    """One node tensor: its upstream shape (one number for the scalars), real and finite."""
    if key in _NODE_SCALARS:
        if value.numel() != 1:
            raise WeightsError(
                f"{source}: {where} has shape {tuple(value.shape)}, expected one value per node"
            )
    elif tuple(value.shape) != _NODE_SHAPES[key](n):
        raise WeightsError(
            f"{source}: {where} has shape {tuple(value.shape)}, expected "
            f"{_NODE_SHAPES[key](n)} for a {node_type} node with {n} inputs and one output"
        )
    value = _real_values(value, where, source, finite=True)
    if key == "temperature" and not float(value) > 0:
        raise WeightsError(f"{source}: {where} is {float(value)}; a temperature must be > 0")


def _real_values(value: torch.Tensor, where: str, source: str, *, finite: bool) -> torch.Tensor:
    """``value`` as float32: floating point and free of NaN (and of inf when ``finite``)."""
    if not value.is_floating_point():
        raise WeightsError(f"{source}: {where} holds {value.dtype} values; expected floating point")
    value = value.float()
    bad = ~torch.isfinite(value) if finite else torch.isnan(value)
    if bool(bad.any()):
        what = "NaN or infinite values" if finite else "NaN values"
        if bool(bad.all()) and value.numel() > 1:
            what = f"only {what}"
        raise WeightsError(f"{source}: {where} holds {what}; refused")
    return value


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
    if thresholds.dim() != 2:
        raise WeightsError(
            f"{source}: encoder.thresholds has shape {tuple(thresholds.shape)}, expected "
            "(features, bits)"
        )
    if thresholds.numel() > MAX_MODEL_VALUES:
        raise WeightsError(
            f"{source}: encoder.thresholds has shape {tuple(thresholds.shape)}, over the "
            f"{MAX_MODEL_VALUES:,} values a converted model may hold; refused"
        )
    t = _real_values(thresholds, "encoder.thresholds", source, finite=False)
    if t.shape[1] > 1 and bool((t[:, 1:] < t[:, :-1]).any()):
        raise WeightsError(f"{source}: encoder.thresholds are not sorted along the bits")
    return name, t


def _tau(
    given: float | None,
    stored: torch.Tensor | None,
    upstream: Mapping[str, Any],
    config: str | os.PathLike[str] | None,
    source: str,
) -> float:
    """GroupSum's tau: the option, else the checkpoint's, else upstream's config; finite, > 0."""
    if given is not None:
        where, value, error = "convert: --tau", given, ConfigError
    elif stored is not None:
        if stored.numel() != 1 or stored.is_complex() or stored.dtype == torch.bool:
            raise WeightsError(
                f"{source}: output_layer.tau has shape {tuple(stored.shape)} and dtype "
                f"{stored.dtype}; expected one real number"
            )
        where, value, error = f"{source}: output_layer.tau", float(stored), WeightsError
    else:
        runtime = upstream.get("runtime") or {}
        value = runtime.get("output_tau", 1.0) if isinstance(runtime, Mapping) else runtime
        where, error = f"{config}: runtime.output_tau", ConfigError
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: got {value!r}; expected a number > 0")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise error(f"{where} is {value}; tau divides the class scores: a finite number > 0")
    return value


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
    layers: list[dict[str, Any]] = []
    for i, raw in enumerate(_split_layers(state, source)):
        values = layers[-1]["values"] if layers else thresholds.numel()
        layers.append(_parse_layer(i, raw, width, values, source))
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
    if isinstance(classes, int) and not isinstance(classes, bool) and classes > width:
        raise ConfigError(
            f"convert: num_classes {classes} is more than the last layer's {width} nodes "
            "(GroupSum sums at least one node per class)"
        )
    tau = _tau(tau, state.get("output_layer.tau"), upstream, config, source)
    extra = sorted(k for k in state if k.startswith("output_layer.") and k != "output_layer.tau")
    if extra:
        raise WeightsError(f"{source}: unexpected GroupSum key {extra[0]!r}")
    node_params, temperature = _node_setup(found, layers)

    from core.validation import validate_section
    from core_difflut.api import build_model
    from core_difflut.configs import ModelConfig, node_config

    n = ns.pop()
    validate_section(  # the values read from the nodes, as one line naming the bad one
        node_config(found),
        {"input_dim": n, **node_params},
        component=f"upstream {found} nodes",
        where="node_params",
        source=source,
    )
    model_config = validate_section(
        ModelConfig,
        {
            "node_type": canonical("node", found),
            "node_input_dim": n,
            "node_params": node_params,
            "layer_type": [layer["type"] for layer in layers],
            "layer_widths": [layer["nodes"] for layer in layers],
            "input_size": thresholds.shape[0],
            "num_classes": classes,
            "encoder_config": {"name": enc_name, "num_bits": thresholds.shape[1]},
            "dataset": dataset or upstream.get("dataset"),
            "runtime": {"tau": tau, "temperature": temperature},
        },
        component="converted feedforward model",
        source=str(config) if config is not None else source,
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
    """Save through ``core.atomic.atomic_directory``: the old output stays until the new one
    is complete, and the folder gets the umask's mode."""
    from core_difflut.export import check_output_folder

    check_output_folder(output, overwrite, "convert")
    meta = {"converted_from": str(Path(source).name), "upstream": "aplesner/difflut"}
    with atomic_directory(output, overwrite=True) as staging:  # an empty folder is replaced
        model.save_pretrained(staging, name=name, meta=meta)
    return output
