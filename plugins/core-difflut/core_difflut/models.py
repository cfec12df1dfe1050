"""``feedforward``: flatten, encode, LUT layers, GroupSum."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import BaseModel
from core.base_model import ExportCall, ExportedNetwork
from core.batches import unpack_batch
from core.errors import ConfigError, DataError
from core.schema import runtime_fields
from core_difflut.configs import RUNTIME_KEYS, ModelConfig, NodeConfig
from core_difflut.encoders import ENCODER_CLASSES, Encoder
from core_difflut.layers import LAYER_CLASSES, GroupSum, LUTLayer

__all__ = ["SimpleFeedForward"]


class SimpleFeedForward(BaseModel):
    """A DiffLUT classifier: encoder -> LUT layers -> GroupSum(num_classes, tau)."""

    config_class = ModelConfig
    model_type = "feedforward"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c: ModelConfig = self.config
        self.encoder: Encoder = self._build_encoder()
        width = self.encoder.output_dim
        layers = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            for i, (layer_type, nodes) in enumerate(zip(c.layer_types(), c.layer_widths)):
                layers.append(self._lut_layer(layer_type, width, nodes, c.seed + i))
                width = nodes
        self.layers = nn.ModuleList(layers)
        self.group_sum = GroupSum(num_classes=c.num_classes, tau=c.runtime.tau)

    def _node_section(self) -> dict[str, Any]:
        """The node section of every layer: type, input_dim, node_params and the runtime."""
        c, rt = self.config, self.config.runtime
        return {
            "type": c.node_type,
            "input_dim": c.node_input_dim,
            **c.node_params,
            "temperature": rt.temperature,
            "eval_mode": rt.eval_mode,
            "flip_probability": rt.flip_probability,
        }

    def _lut_layer(self, layer_type: str, input_dim: int, nodes: int, seed: int) -> LUTLayer:
        """One LUT layer of ``layer_type`` (learnable layers get the mapping options)."""
        c = self.config
        extra = (
            {
                "candidates": c.mapping_candidates,
                "mapping_temperature": c.runtime.mapping_temperature.model_dump(),
            }
            if layer_type == "learnable"
            else {}
        )
        return LAYER_CLASSES[layer_type](
            input_dim=input_dim, output_dim=nodes, node=self._node_section(), seed=seed, **extra
        )

    def _build_encoder(self) -> Encoder:
        """The configured encoder over ``input_size`` features, unfitted."""
        enc = self.config.encoder_config
        return ENCODER_CLASSES[enc.name](
            num_bits=enc.num_bits,
            flatten=True,
            num_features=self.config.input_size,
            feature_wise=enc.feature_wise,
        )

    # -- data ---------------------------------------------------------------------------------
    def _flatten(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise ConfigError(f"feedforward: expected a tensor, got {type(x).__name__}")
        size = self.config.input_size
        if x.dim() < 2 or int(np.prod(x.shape[1:])) != size:
            raise ConfigError(
                f"feedforward: expected input (batch, {size}) or (batch, ...) with {size} "
                f"features per sample, got shape {tuple(x.shape)}"
            )
        return x.reshape(x.shape[0], size)

    def fit_encoder(self, data: Any) -> SimpleFeedForward:
        """Fit the encoder's thresholds on training inputs (samples, ...)."""
        if isinstance(data, torch.utils.data.DataLoader):
            data = torch.cat(
                [unpack_batch(b)[0].reshape(len(unpack_batch(b)[0]), -1) for b in data]
            )
        elif isinstance(data, torch.utils.data.Dataset):
            data = torch.stack([torch.as_tensor(data[i][0]) for i in range(len(data))])
        x = torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data)
        if x.dim() < 2 or int(np.prod(x.shape[1:])) != self.config.input_size:
            raise DataError(
                f"fit_encoder: expected (samples, {self.config.input_size}) inputs, "
                f"got shape {tuple(x.shape)}"
            )
        self.encoder.fit(x.reshape(x.shape[0], -1))
        return self

    def prepare_training(self, data: Any) -> None:
        """Fit the encoder on the training data when it is not fitted yet (for trainers)."""
        if not self.encoder.is_fitted:
            self.fit_encoder(data)

    # -- forward ------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs -> encoded bits (B, input_size * num_bits)."""
        if not self.encoder.is_fitted:
            raise ConfigError(
                "feedforward: the encoder is not fitted; call model.fit_encoder(train_inputs) "
                "before training or evaluating (or load weights that include it)"
            )
        return self.encoder(self._flatten(x))

    def features(self, bits: torch.Tensor) -> torch.Tensor:
        """Encoded bits -> last LUT layer outputs (B, layer_widths[-1])."""
        for layer in self.layers:
            bits = layer(bits)
        return bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (B, input_size) or (B, ...) -> class scores (B, num_classes)."""
        return self.group_sum(self.features(self.encode(x)))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Predicted classes in the current mode (use ``eval()`` for the hard network)."""
        out = [self(x[i : i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        """Cross-entropy on the GroupSum scores plus the configured regularisers."""
        x, y = unpack_batch(batch)
        if y is None:
            raise DataError("feedforward.compute_loss: batches need labels (x, y)")
        logits = self(x)
        ce = F.cross_entropy(logits, y.long())
        reg = self.get_regularization_loss()
        return {
            "loss": ce + reg,
            "cross_entropy": ce.detach(),
            "regularization": reg.detach(),
            "accuracy": (logits.argmax(-1) == y).float().mean(),
        }

    def fsdp_blocks(self) -> list[nn.Module]:
        """The LUT layers (``train.strategy: fsdp``'s units), none while a regulariser is on:
        regularisers read the layers' weights outside their forward, so the whole model is
        then one unit."""
        if any(self.config.runtime.regularizers.values()):
            return []
        return list(self.layers)

    def get_regularization_loss(self) -> torch.Tensor:
        """Sum over node layers of weight * regulariser for each configured regulariser."""
        total = torch.zeros((), device=self.device)
        for name, weight in self.config.runtime.regularizers.items():
            if weight:
                total = total + weight * sum(
                    layer.node.regularization(name) for layer in self.node_layers
                )
        return total

    def example_inputs(self, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
        """Example inputs; an unfitted encoder is first fitted on a fixed example batch."""
        g = torch.Generator().manual_seed(0)
        if not self.encoder.is_fitted:
            self.fit_encoder(torch.rand(64, self.config.input_size, generator=g))
        return (torch.rand(batch_size, self.config.input_size, generator=g),)

    def export_networks(self) -> dict[str, ExportedNetwork]:
        """The classifier in eval mode, its thermometer (or other) encoder included: input
        features ``(B, input_size)`` -> class ``scores`` and ``prediction`` (ONNX export)."""
        if self.training or not self.encoder.is_fitted:
            raise ConfigError("feedforward: export a classifier in eval mode with a fitted encoder")
        (x,) = self.example_inputs()
        thresholds = self.encoder.thresholds
        low, high = float(thresholds.min()), float(thresholds.max())
        margin = 0.1 * (high - low) or 1.0  # draw values on both sides of every threshold

        def classify(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            scores = self.group_sum(self.features(self.encoder(self._flatten(features))))
            return scores, scores.argmax(-1)

        batch = {"features": {0: "batch"}, "scores": {0: "batch"}, "prediction": {0: "batch"}}
        ranges = {"features": (low - margin, high + margin)}
        network = ExportedNetwork(
            ExportCall(self, classify), (x,), ("features",), batch, ranges, ("scores", "prediction")
        )
        return {"classifier": network}

    # -- runtime parameters -------------------------------------------------------------------
    def apply_runtime_overrides(
        self, overrides: dict[str, Any] | None = None, /, **kwargs: Any
    ) -> dict[str, Any]:
        """Change runtime parameters: ``temperature=0.5``, ``eval_mode=...``, ``tau=...``,
        ``regularizers={...}`` (or ``runtime={...}``); structural ones are a ConfigError."""
        values = {**(overrides or {}), **kwargs}
        runtime = dict(values.pop("runtime", None) or {})
        for key in list(values):
            short = key.split(".", 1)[1] if key.startswith("runtime.") else key
            if short in RUNTIME_KEYS:
                runtime[short] = values.pop(key)
        if runtime:
            values["runtime"] = {**self.config.runtime.model_dump(), **runtime}
        return super().apply_runtime_overrides(**values)

    def on_runtime_change(self, changed: dict[str, Any]) -> None:
        rt = self.config.runtime
        # the runtime keys every node's schema shares with the model's (temperature, ...)
        node_keys = set(RUNTIME_KEYS) & runtime_fields(NodeConfig)
        for layer in self.node_layers:
            layer.node.config = layer.node.config.model_copy(
                update={k: getattr(rt, k) for k in node_keys}
            )
            layer.node.on_runtime_change({})
            if hasattr(layer, "wiring_temperature"):  # learnable wiring
                layer.apply_runtime_overrides(mapping_temperature=rt.mapping_temperature)
        self.group_sum.config = self.group_sum.config.model_copy(update={"tau": rt.tau})

    def on_train_progress(self, step: int, total_steps: int) -> None:
        """Training progress (0-based ``step`` of ``total_steps``), from either training loop:
        moves the learnable layers' wiring temperature along its schedule."""
        for layer in self.layers:
            layer.on_train_progress(step, total_steps)

    # -- files --------------------------------------------------------------------------------
    def save_config(self, path: str | os.PathLike[str]) -> Path:
        """Write the model config as YAML."""
        return self.config.to_yaml(path)

    def save_weights(self, path: str | os.PathLike[str]) -> Path:
        """Write the weights (encoder thresholds included) as safetensors."""
        from core.weights import save_weights

        return save_weights(self, path, {"model_type": "feedforward"})

    def save_to_pretrained(
        self,
        name: str,
        version: int | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Any:
        """Save as the next version (v1, v2, ...) of ``name`` in core's pretrained store."""
        from core.pretrained import save_to_pretrained

        self.config = self.config.model_copy(update={"pretrained": True, "pretrained_name": name})
        return save_to_pretrained(self, name, version, root=root, meta=meta)

    def export_spec(self) -> dict[str, Any]:
        """The evaluation-mode network as NumPy arrays (see ``core_difflut.export``)."""
        from core_difflut.export.spec import network_spec

        return network_spec(self)

    @property
    def lut_layers(self) -> list[LUTLayer]:
        return list(self.layers)

    @property
    def node_layers(self) -> list[Any]:
        """Every layer holding nodes (runtime changes and regularisers reach all of them)."""
        return list(self.layers)
