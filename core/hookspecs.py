"""Every hook a plugin can implement.

Each ``register_<kind>`` hook receives a ``register`` callback::

    register(name, target, config=None, aliases=(), description="", **meta)

``target`` is the object itself or a lazy ``"module:attr"`` string; ``config`` is
the component's pydantic config class (or a lazy string to a torch-free module).
Hook implementations must not import torch: the target is imported only when the
component is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = ["hookspec", "hookimpl", "HOOKS", "KIND_HOOKS", "KINDS"]

hookspec = pluggy.HookspecMarker("core")
hookimpl = pluggy.HookimplMarker("core")

Register = Callable[..., Any]


@hookspec
def register_models(register: Register) -> None:
    """Register models: trainable ``core.BaseModel`` subclasses (``dcgan``, ``ddpm``, ``unet``)."""


@hookspec
def register_encoders(register: Register) -> None:
    """Register encoders: input encoders (``thermometer``) or image encoders (``conv-encoder``)."""


@hookspec
def register_nodes(register: Register) -> None:
    """Register nodes: lookup-table nodes and their training relaxations (``probabilistic``)."""


@hookspec
def register_layers(register: Register) -> None:
    """Register layers: layers built from nodes or blocks (``random``, ``learnable``)."""


@hookspec
def register_losses(register: Register) -> None:
    """Register losses: callables returning a total and named parts (``mse``, ``composite``)."""


@hookspec
def register_schedulers(register: Register) -> None:
    """Register schedulers: noise or learning-rate schedules (``linear``, ``cosine``)."""


@hookspec
def register_heads(register: Register) -> None:
    """Register heads: output heads a decoder ends in (``rgb``, ``segmentation``)."""


@hookspec
def register_samplers(register: Register) -> None:
    """Register samplers: ways to draw samples from a trained model (``ddim``, ``dpm-solver++``)."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets: ``torch.utils.data.Dataset`` factories (``digits``, ``image-folder``)."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics: evaluation functions (``feature-fid``, ``accuracy``)."""


@hookspec
def register_pretrained(register: Register) -> None:
    """Register pretrained weights shipped by a plugin.

    ``register(name, path, model_type=..., description="")`` where ``path`` is a
    directory holding ``<name>.yaml`` and ``<name>.safetensors``.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``core`` command line; ``cli`` is the root ``click.Group``."""


#: kind name (singular) -> hook name, for the component kinds.
KIND_HOOKS: dict[str, str] = {
    "model": "register_models",
    "encoder": "register_encoders",
    "node": "register_nodes",
    "layer": "register_layers",
    "loss": "register_losses",
    "scheduler": "register_schedulers",
    "head": "register_heads",
    "sampler": "register_samplers",
    "dataset": "register_datasets",
    "metric": "register_metrics",
}
KINDS: tuple[str, ...] = tuple(KIND_HOOKS)
#: every hook name, in documentation order.
HOOKS: tuple[str, ...] = (*KIND_HOOKS.values(), "register_pretrained", "register_commands")
