"""Torch-free pydantic configs of the DiffLUT components and of ``ModelConfig``."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from core.schema import ComponentConfig, runtime_fields
from core.schema import runtime as runtime_field
from core_difflut.names import ENCODERS, NODES, canonical

__all__ = [
    "ENCODER_NAMES",
    "NODE_NAMES",
    "LAYER_NAMES",
    "REGULARIZER_NAMES",
    "EvalMode",
    "EncoderConfig",
    "ThermometerConfig",
    "CodeEncoderConfig",
    "OneHotConfig",
    "SignMagnitudeConfig",
    "EncoderSpec",
    "NodeConfig",
    "DiffLogicConfig",
    "PolyLUTConfig",
    "NeuralLUTConfig",
    "FourierConfig",
    "DWNConfig",
    "DWNStableConfig",
    "WARPConfig",
    "NODE_CONFIGS",
    "node_config",
    "WiringTemperature",
    "LayerConfig",
    "GroupSumConfig",
    "RuntimeConfig",
    "ModelConfig",
]

ENCODER_NAMES = tuple(ENCODERS)
NODE_NAMES = tuple(NODES)
LAYER_NAMES = ("random", "learnable")
REGULARIZER_NAMES = ("l1", "l2", "spectral", "entropy", "clarity")

EvalMode = Literal["expectation", "deterministic", "sampling"]
EncoderName = Literal[ENCODER_NAMES]  # type: ignore[valid-type]
LayerName = Literal["random", "learnable"]
ScheduleName = Literal["constant", "linear", "cosine", "exponential"]

# -- encoders ----------------------------------------------------------------------------------


class EncoderConfig(ComponentConfig):
    """Shared encoder fields: bits per feature, output layout, threshold scope."""

    num_bits: int = Field(3, ge=1, le=64, description="Output bits per input feature.")
    flatten: bool = Field(True, description="Output (B, F*bits) when true, else (B, F, bits).")
    num_features: int | None = Field(
        None, ge=1, description="Input features; None lets fit() set it from the data."
    )
    feature_wise: bool = Field(
        True, description="Per-feature thresholds (true) or one set shared by all features."
    )


class ThermometerConfig(EncoderConfig):
    """Thermometer-style encoders: bit i is x > threshold_i."""


class CodeEncoderConfig(EncoderConfig):
    """Encoders that quantise to 2**num_bits levels and emit a code (gray, binary, sign-magnitude)."""

    num_bits: int = Field(4, ge=1, le=12, description="Output bits per input feature.")


class SignMagnitudeConfig(EncoderConfig):
    """One sign bit plus a binary magnitude over [0, max |x|]."""

    num_bits: int = Field(4, ge=2, le=12, description="Output bits per feature (1 sign bit).")


class OneHotConfig(EncoderConfig):
    """One-hot over num_bits evenly spaced bins."""

    num_bits: int = Field(4, ge=2, le=64, description="Bins (= output bits) per feature.")


class EncoderSpec(ComponentConfig):
    """The encoder section of ``ModelConfig``."""

    name: EncoderName = Field(
        "thermometer", description="Encoder type (upstream underscore spellings accepted)."
    )
    num_bits: int = Field(3, ge=1, le=64, description="Output bits per input feature.")
    feature_wise: bool = Field(True, description="Per-feature thresholds.")
    flatten: bool = Field(True, description="Kept for DiffLUT compatibility; must be true.")

    @field_validator("name", mode="before")
    @classmethod
    def _canonical_name(cls, value: Any) -> Any:
        return canonical("encoder", value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> EncoderSpec:
        if self.name in ("gray", "binary", "sign-magnitude") and self.num_bits > 12:
            raise ValueError(f"{self.name} encoder supports num_bits <= 12, got {self.num_bits}")
        if self.name == "sign-magnitude" and self.num_bits < 2:
            raise ValueError("sign-magnitude needs num_bits >= 2 (one sign bit plus magnitude)")
        if self.name == "onehot" and self.num_bits < 2:
            raise ValueError("onehot needs num_bits >= 2")
        if not self.flatten:
            raise ValueError("the feedforward model needs a flattened encoder (flatten: true)")
        return self


# -- nodes -------------------------------------------------------------------------------------


class NodeConfig(ComponentConfig):
    """A layer of ``num_nodes`` lookup-table nodes with ``input_dim`` inputs each."""

    num_nodes: int = Field(16, ge=1, description="Number of nodes evaluated together.")
    input_dim: int = Field(6, ge=1, le=10, description="Inputs per node (table of 2**n entries).")
    temperature: float = runtime_field(1.0, gt=0, description="Temperature of the relaxation.")
    eval_mode: EvalMode = runtime_field(
        "deterministic",
        description="Evaluation: expectation (relaxation), deterministic (truth table) or sampling.",
    )
    flip_probability: float = runtime_field(
        0.0, ge=0.0, lt=0.5, description="Probability of flipping each input bit while training."
    )


class DiffLogicConfig(NodeConfig):
    """Two-input logic gate node (softmax over the 16 gates)."""

    input_dim: int = Field(2, ge=2, le=2, description="Inputs per node: always 2.")


class PolyLUTConfig(NodeConfig):
    """sigmoid of a polynomial of the inputs."""

    degree: int = Field(3, ge=1, le=6, description="Highest total degree of the monomials.")


class NeuralLUTConfig(NodeConfig):
    """A small MLP per node."""

    hidden_width: int = Field(8, ge=1, le=64, description="Hidden units per layer.")
    hidden_layers: int = Field(2, ge=1, le=4, description="Number of hidden layers.")


class FourierConfig(NodeConfig):
    """A truncated Fourier series per node."""


class DWNConfig(NodeConfig):
    """DWN: Extended Finite Difference weights ``alpha (-1)^(1-k_i) beta^H``."""

    alpha: float | None = runtime_field(
        None, gt=0.0, le=100.0, description="EFD gradient scale; None = 0.5 * 0.75**(n-1)."
    )
    beta: float = runtime_field(
        1.0 / 3.0, gt=0.0, le=1.0, description="EFD decay per Hamming distance (0 < beta <= 1)."
    )

    def efd_alpha(self) -> float:
        """``alpha``, or its default for this node's ``input_dim``."""
        return self.alpha if self.alpha is not None else 0.5 * 0.75 ** (self.input_dim - 1)


class DWNStableConfig(NodeConfig):
    """dwn-stable: finite-difference weights ``(-1)^(1-k_i) / (H + 1)``, normalised and scaled."""

    gradient_normalization: Literal["identity", "none"] = runtime_field(
        "identity",
        description="identity: divide by (2**n - 1)/n so an identity LUT passes gradient 1; "
        "none: the raw sum (upstream DiffLUT).",
    )
    gradient_scale: float = runtime_field(
        1.0,
        gt=0.0,
        le=1000.0,
        description="Multiplies the input and table gradients (upstream DiffLUT: 1.25).",
    )


class WARPConfig(NodeConfig):
    """WARP: sigmoid of a Walsh expansion in the signed inputs ``2x - 1``."""


#: node name -> config class, from the one declaration in ``names.NODES``
NODE_CONFIGS: dict[str, type[NodeConfig]] = {
    name: globals()[cfg] for name, (_, cfg, _) in NODES.items()
}


def node_config(name: str) -> type[NodeConfig]:
    """The config class of node type ``name``: core-difflut's own or a registered node's.

    A node another plugin registers (``register_nodes``) qualifies when its config derives
    from :class:`NodeConfig`; anything else is a ``ValueError`` naming the problem.
    """
    name = canonical("node", name)
    if name in NODE_CONFIGS:
        return NODE_CONFIGS[name]
    from core.building import get_entry
    from core.errors import CoreError

    try:
        entry = get_entry("node", name)
        schema = entry.load_config()
    except CoreError as exc:
        raise ValueError(f"a core-difflut or registered node type ({exc})") from None
    if not (isinstance(schema, type) and issubclass(schema, NodeConfig)):
        raise ValueError(
            f"node type {name!r} (plugin {entry.provider}) is registered without a config "
            "deriving from core_difflut.configs.NodeConfig, which LUT layers need"
        )
    return schema


# -- layers ------------------------------------------------------------------------------------


class WiringTemperature(ComponentConfig):
    """Temperature ``T`` of learnable wiring, ``softmax(mapping / T)``, over training.

    The training loop reports progress (``on_train_progress(step, total_steps)``); ``T`` moves
    from ``start`` at the first step to ``end`` at the last one along ``schedule``.
    """

    start: float = Field(1.0, gt=0.0, le=1e4, description="T at the first training step.")
    end: float | None = Field(
        None, gt=0.0, le=1e4, description="T at the last training step; None = start."
    )
    schedule: ScheduleName = Field(
        "constant", description="constant, linear, cosine or exponential (geometric)."
    )

    @model_validator(mode="after")
    def _check(self) -> WiringTemperature:
        if self.schedule == "constant" and self.end not in (None, self.start):
            raise ValueError(
                f"schedule 'constant' keeps T at start ({self.start}) but end is {self.end}; "
                "use schedule linear, cosine or exponential to move from start to end"
            )
        return self

    def at(self, step: int, total_steps: int) -> float:
        """``T`` at 0-based ``step`` of ``total_steps`` (the last step gets ``end``)."""
        end = self.start if self.end is None else self.end
        p = min(max(step / max(total_steps - 1, 1), 0.0), 1.0)
        if self.schedule == "linear":
            return self.start + (end - self.start) * p
        if self.schedule == "cosine":
            return end + (self.start - end) * 0.5 * (1.0 + math.cos(math.pi * p))
        if self.schedule == "exponential":
            return self.start * (end / self.start) ** p
        return self.start


class LayerConfig(ComponentConfig):
    """A layer of LUT nodes and the connectivity feeding them."""

    input_dim: int = Field(64, ge=1, description="Input features (bits) of the layer.")
    output_dim: int = Field(16, ge=1, description="Nodes in the layer (= output features).")
    node: dict[str, Any] = Field(
        default_factory=lambda: {"type": "probabilistic"},
        description="Node section: type plus node parameters (input_dim, temperature, ...).",
    )
    seed: int = Field(0, ge=0, description="Seed of the connectivity.")
    candidates: int | None = Field(
        None,
        ge=2,
        description="learnable: inputs each slot chooses among (a seeded random pool); None = all.",
    )
    mapping_temperature: WiringTemperature = runtime_field(
        default_factory=WiringTemperature,
        description="learnable: softmax temperature of the wiring and its schedule over training.",
    )

    @field_validator("node")
    @classmethod
    def _check_node(cls, value: dict[str, Any]) -> dict[str, Any]:
        node_type = canonical("node", value.get("type", "probabilistic"))
        body = {k: v for k, v in value.items() if k not in ("type", "num_nodes")}
        node_config(node_type)(**body)
        return {"type": node_type, **body}


class GroupSumConfig(ComponentConfig):
    """Sum groups of features into class scores, divided by tau."""

    num_classes: int = Field(10, ge=1, description="Number of groups (classes).")
    tau: float = runtime_field(1.0, gt=0, description="Divisor of the group sums.")


# -- the model ---------------------------------------------------------------------------------


class RuntimeConfig(ComponentConfig):
    """Parameters safe to change on a trained model."""

    temperature: float = runtime_field(
        1.0, gt=0, description="Temperature of the node relaxations."
    )
    eval_mode: EvalMode = runtime_field(
        "deterministic", description="How nodes evaluate in eval mode."
    )
    flip_probability: float = runtime_field(
        0.0, ge=0.0, lt=0.5, description="Input bit-flip probability while training."
    )
    tau: float = runtime_field(1.0, gt=0, description="GroupSum divisor (output temperature).")
    regularizers: dict[str, float] = runtime_field(
        default_factory=dict, description="Regulariser name -> weight (l1, l2, spectral, ...)."
    )
    mapping_temperature: WiringTemperature = runtime_field(
        default_factory=WiringTemperature,
        description="Learnable layers: wiring softmax temperature {start, end, schedule}.",
    )

    @field_validator("regularizers")
    @classmethod
    def _check_regs(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(REGULARIZER_NAMES))
        if unknown:
            raise ValueError(
                f"unknown regularizer(s) {', '.join(unknown)}; known: {', '.join(REGULARIZER_NAMES)}"
            )
        if any(w < 0 for w in value.values()):
            raise ValueError("regularizer weights must be >= 0")
        return value


#: the model's runtime keys (``temperature`` stands for ``runtime.temperature``), from the schema
RUNTIME_KEYS = tuple(k for k in RuntimeConfig.model_fields if k in runtime_fields(RuntimeConfig))


class ModelConfig(ComponentConfig):
    """The DiffLUT model config: structure, encoder, runtime parameters and provenance."""

    model_type: Literal["feedforward"] = Field("feedforward", description="Model family.")
    layer_type: LayerName | list[LayerName] = Field(
        "random", description="Connectivity: one type for all layers or one per layer."
    )
    node_type: str = Field(
        "probabilistic",
        description="Node type of every layer: core-difflut's own or one a plugin registers.",
    )
    node_input_dim: int = Field(6, ge=1, le=10, description="Inputs per node (n).")
    node_params: dict[str, Any] = Field(
        default_factory=dict, description="Extra structural node parameters (degree, ...)."
    )
    encoder_config: EncoderSpec = Field(
        default_factory=EncoderSpec, description="Input encoder: name, num_bits, feature_wise."
    )
    layer_widths: list[int] = Field(
        default_factory=lambda: [1000, 1000], min_length=1, description="Nodes per LUT layer."
    )
    mapping_candidates: int | None = Field(
        None, ge=2, description="Learnable layers: candidate inputs per slot (None = all)."
    )
    num_classes: int = Field(10, ge=1, description="Number of classes (GroupSum groups).")
    input_size: int = Field(784, ge=1, description="Flattened input features.")
    dataset: str | None = Field(None, description="Dataset the model is meant for (metadata).")
    seed: int = Field(42, ge=0, description="Seed of the connectivity and initialisation.")
    runtime: RuntimeConfig = runtime_field(
        default_factory=RuntimeConfig,
        description="temperature, eval_mode, flip_probability, tau, regularizers, mapping_temperature.",
    )
    pretrained: bool = runtime_field(False, description="Whether these are pretrained weights.")
    pretrained_name: str | None = runtime_field(None, description="Pretrained name, if any.")

    @field_validator("node_type")
    @classmethod
    def _known_node(cls, value: str) -> str:
        node_config(value)
        return canonical("node", value)

    @field_validator("layer_widths")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(int(w) < 1 for w in value):
            raise ValueError(f"layer widths must be >= 1, got {value}")
        return value

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if isinstance(self.layer_type, list) and len(self.layer_type) != len(self.layer_widths):
            raise ValueError(
                f"layer_type lists {len(self.layer_type)} types for "
                f"{len(self.layer_widths)} layers (layer_widths)"
            )
        if self.node_type == "difflogic" and self.node_input_dim != 2:
            raise ValueError("node_type difflogic needs node_input_dim: 2")
        bad = {"type", "num_nodes", "input_dim", *RUNTIME_KEYS} & set(self.node_params)
        if bad:
            raise ValueError(
                f"node_params may not set {', '.join(sorted(bad))}; use the model fields or runtime"
            )
        schema = node_config(self.node_type)
        try:
            schema(input_dim=self.node_input_dim, **self.node_params)
        except Exception as exc:  # pydantic ValidationError
            raise ValueError(f"node_params for {self.node_type}: {exc}") from None
        return self

    # -- DiffLUT conveniences ------------------------------------------------------------------
    def layer_types(self) -> list[str]:
        """The connectivity type of each layer."""
        if isinstance(self.layer_type, list):
            return list(self.layer_type)
        return [self.layer_type] * len(self.layer_widths)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> ModelConfig:
        """Read a model config from YAML: a run config with a ``model`` section or a flat one."""
        from core.config import Config
        from core.validation import validate_section

        data = Config(path).to_dict()
        where = ""
        if isinstance(data.get("model"), dict):
            data, where = dict(data["model"]), "model"
        kind = data.pop("type", None)
        name = cls.model_fields["model_type"].default
        if kind not in (None, name, f"difflut:{name}"):
            from core.errors import ConfigError

            raise ConfigError(f"{path}: model type {kind!r} is not a DiffLUT {name} model")
        return validate_section(  # type: ignore[return-value]
            cls, data, component=f"model '{name}' (core-difflut)", where=where, source=str(path)
        )

    def to_dict(self) -> dict[str, Any]:
        """The config as a core model section (``type`` first)."""
        return {"type": self.model_type, **self.model_dump(mode="json")}

    def to_yaml(self, path: str | os.PathLike[str]) -> Path:
        """Write ``model: {...}`` YAML atomically (readable by ``from_yaml`` and ``core``)."""
        import yaml

        from core.atomic import atomic_write_text

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, yaml.safe_dump({"model": self.to_dict()}, sort_keys=False))
        return path

    def save_to_pretrained(
        self,
        name: str,
        version: int | None = None,
        *,
        model: Any = None,
        root: str | os.PathLike[str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Any:
        """Save ``model`` (built from this config) as the next version of ``name`` in the store."""
        from core.errors import ConfigError

        if model is None:
            raise ConfigError(
                "ModelConfig.save_to_pretrained needs the trained model: "
                "config.save_to_pretrained(name, model=model) or model.save_to_pretrained(name)"
            )
        return model.save_to_pretrained(name, version, root=root, meta=meta)
