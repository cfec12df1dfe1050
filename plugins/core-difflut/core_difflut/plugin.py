"""Hook implementations of core-difflut (no torch import here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import hookimpl

_C = "core_difflut.configs"
_PRETRAINED = Path(__file__).resolve().parent / "pretrained"

_ENCODERS = {
    "thermometer": ("ThermometerEncoder", "ThermometerConfig", "evenly spaced thresholds"),
    "gaussian-thermometer": (
        "GaussianThermometerEncoder",
        "ThermometerConfig",
        "thresholds at mean + std * inverse normal CDF",
    ),
    "distributive-thermometer": (
        "DistributiveThermometerEncoder",
        "ThermometerConfig",
        "thresholds at empirical quantiles",
    ),
    "gray": ("GrayEncoder", "CodeEncoderConfig", "Gray code of 2**bits levels"),
    "onehot": ("OneHotEncoder", "OneHotConfig", "one bit per bin"),
    "binary": ("BinaryEncoder", "CodeEncoderConfig", "binary code of 2**bits levels"),
    "sign-magnitude": ("SignMagnitudeEncoder", "SignMagnitudeConfig", "sign bit + magnitude"),
    "logarithmic": ("LogarithmicEncoder", "ThermometerConfig", "geometrically spaced thresholds"),
}

_NODES = {
    "probabilistic": ("ProbabilisticNode", "NodeConfig", "expectation of a sigmoid table"),
    "dwn": ("DWNNode", "NodeConfig", "hard lookup, extended finite difference backward"),
    "dwn-stable": ("DWNStableNode", "NodeConfig", "DWN with sigmoid tables, 1/(H+1) gradient"),
    "hybrid": ("HybridNode", "NodeConfig", "hard forward, probabilistic backward"),
    "linear-lut": ("LinearLUTNode", "NodeConfig", "sigmoid of a linear function"),
    "polylut": ("PolyLUTNode", "PolyLUTConfig", "sigmoid of a polynomial"),
    "neurallut": ("NeuralLUTNode", "NeuralLUTConfig", "small MLP per node"),
    "fourier": ("FourierNode", "FourierConfig", "truncated Fourier series"),
    "difflogic": ("DiffLogicNode", "DiffLogicConfig", "softmax over the 16 two-input gates"),
}


@hookimpl
def register_encoders(register: Any) -> None:
    for name, (cls, cfg, text) in _ENCODERS.items():
        register(name, f"core_difflut.encoders:{cls}", config=f"{_C}:{cfg}", description=text)


@hookimpl
def register_nodes(register: Any) -> None:
    for name, (cls, cfg, text) in _NODES.items():
        register(name, f"core_difflut.nodes:{cls}", config=f"{_C}:{cfg}", description=text)


@hookimpl
def register_layers(register: Any) -> None:
    register(
        "random",
        "core_difflut.layers:RandomLayer",
        config=f"{_C}:LayerConfig",
        description="LUT layer with fixed random connectivity covering every input",
    )
    register(
        "learnable",
        "core_difflut.layers:LearnableLayer",
        config=f"{_C}:LayerConfig",
        description="LUT layer with learnable connectivity (softmax / argmax)",
    )
    register(
        "groupsum",
        "core_difflut.layers:GroupSum",
        config=f"{_C}:GroupSumConfig",
        description="sum groups of features into class scores, divided by tau",
        aliases=["GroupSum"],
    )


@hookimpl
def register_models(register: Any) -> None:
    register(
        "feedforward",
        "core_difflut.models:SimpleFeedForward",
        config=f"{_C}:ModelConfig",
        description="DiffLUT classifier: encoder, LUT layers, GroupSum",
        aliases=["SimpleFeedForward", "difflut-feedforward"],
    )


@hookimpl
def register_pretrained(register: Any) -> None:
    if not _PRETRAINED.is_dir():
        return
    for directory in sorted(p for p in _PRETRAINED.iterdir() if p.is_dir()):
        if (directory / f"{directory.name}.yaml").is_file():
            register(
                directory.name,
                str(directory),
                model_type="feedforward",
                description=f"DiffLUT feedforward '{directory.name}' (core-difflut)",
            )


@hookimpl
def register_commands(cli: Any) -> None:
    from core_difflut.cli import difflut

    cli.add_command(difflut)
