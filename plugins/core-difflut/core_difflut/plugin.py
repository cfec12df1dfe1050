"""Hook implementations of core-difflut (no torch import here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core import hookimpl
from core_difflut.names import ENCODERS, NODES, upstream_aliases

_C = "core_difflut.configs"
_PRETRAINED = Path(__file__).resolve().parent / "pretrained"


def _register_named(register: Any, kind: str, table: dict, module: str) -> None:
    """Register every entry of a ``names`` table, with its upstream aliases."""
    for name, (cls, cfg, text) in table.items():
        register(
            name,
            f"core_difflut.{module}:{cls}",
            config=f"{_C}:{cfg}",
            description=text,
            aliases=upstream_aliases(kind, name),
        )


@hookimpl
def register_encoders(register: Any) -> None:
    _register_named(register, "encoder", ENCODERS, "encoders")


@hookimpl
def register_nodes(register: Any) -> None:
    _register_named(register, "node", NODES, "nodes")


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
        "convolutional",
        "core_difflut.conv:ConvLUTLayer",
        config="core_difflut.conv_configs:ConvLayerConfig",
        description="convolutional LUT layer: one node per output channel, shared across positions",
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
    register(
        "conv-feedforward",
        "core_difflut.conv:ConvFeedForward",
        config="core_difflut.conv_configs:ConvModelConfig",
        description="DiffLUT classifier: encoder, convolutional LUT layers, LUT layers, GroupSum",
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
