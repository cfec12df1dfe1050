"""Every kind of component, declared once.

A :class:`Kind` gives the name, the hook plugins implement, the contract its targets satisfy
(a base class or ``typing.Protocol``, as a lazy ``"module:attr"`` string), the conformance
checks that apply and a one-line description. The hookspecs, ``core.get_<kind>`` /
``core.register_<kind>``, ``core components list``, the conformance kit and
``docs/reference/hooks.md`` are all derived from :data:`BUILTIN_KINDS`; plugins add kinds of
their own through the ``register_kinds`` hook.

This module is torch-free and imports nothing it declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Kind",
    "BUILTIN_KINDS",
    "PRETRAINED",
    "DEFAULT_CHECKS",
    "KIND_NAME",
    "builtin_kind",
    "hook_name",
    "kind_clash",
]

#: kind names: lowercase words joined by single dashes (``lr-schedule``).
KIND_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

#: the pseudo-kind under which plugin-shipped pretrained weights are registered.
PRETRAINED = "pretrained"

#: conformance checks run for a kind that names none (see ``core.testing.conformance``).
DEFAULT_CHECKS: tuple[str, ...] = (
    "builds",
    "contract",
    "config-round-trip",
    "bad-config",
    "cpu-forward",
    "save-load",
)


def hook_name(plural: str) -> str:
    """``lr-schedules`` -> ``register_lr_schedules``."""
    return "register_" + plural.replace("-", "_")


@dataclass(frozen=True)
class Kind:
    """One kind of component and the contract its targets keep."""

    name: str
    description: str
    #: the base class or ``typing.Protocol`` targets satisfy, or its lazy ``"module:attr"``.
    base: Any = None
    #: conformance checks (names in ``core.testing.conformance.CHECKS``).
    checks: tuple[str, ...] = DEFAULT_CHECKS
    #: plural used in the hook name and in listings (default: ``name + "s"``).
    plural: str = ""
    #: example component names, for the hook reference.
    examples: tuple[str, ...] = ()
    #: the plugin that declared the kind (``core`` for the built-in ones).
    plugin: str = "core"

    def __post_init__(self) -> None:
        if not self.plural:
            object.__setattr__(self, "plural", f"{self.name}s")

    @property
    def hook(self) -> str:
        """Name of the per-kind registration hook (``register_models``)."""
        return hook_name(self.plural)

    @property
    def identifier(self) -> str:
        """Python spelling used in ``core.get_<identifier>`` (``lr_schedule``)."""
        return self.name.replace("-", "_")

    @property
    def builtin(self) -> bool:
        return self.plugin == "core"

    def load_base(self) -> Any:
        """The base class or protocol (imported on demand), or None."""
        if not isinstance(self.base, str):
            return self.base
        from core._imports import import_object

        return import_object(self.base)


_C = "core.contracts"

#: the built-in kinds, in documentation order.
BUILTIN_KINDS: tuple[Kind, ...] = (
    Kind(
        "model",
        "trainable ``core.BaseModel`` subclasses that a run config's ``model:`` section builds",
        base="core.modules:BaseModel",
        examples=("dcgan", "ddpm", "unet"),
    ),
    Kind(
        "encoder",
        "input encoders (bits from numbers) or image encoders (images to latents)",
        base=f"{_C}:Encoder",
        examples=("thermometer", "conv-encoder"),
    ),
    Kind(
        "decoder",
        "decoders: latents back to images or named outputs",
        base=f"{_C}:Decoder",
        examples=("conv-decoder",),
    ),
    Kind(
        "node",
        "lookup-table nodes and their training relaxations",
        base=f"{_C}:Node",
        examples=("probabilistic", "dwn"),
    ),
    Kind(
        "layer",
        "layers built from nodes or blocks",
        base=f"{_C}:Layer",
        examples=("random", "learnable"),
    ),
    Kind(
        "loss",
        "callables returning a total and its named parts",
        base=f"{_C}:Loss",
        plural="losses",
        examples=("mse", "composite"),
    ),
    Kind(
        "scheduler",
        "noise schedules of diffusion models: betas, alpha-bars, ``add_noise``",
        base=f"{_C}:NoiseSchedule",
        checks=(*DEFAULT_CHECKS, "noise-schedule"),
        examples=("linear", "cosine"),
    ),
    Kind(
        "head",
        "output heads a decoder ends in",
        base=f"{_C}:Head",
        examples=("rgb", "segmentation"),
    ),
    Kind(
        "sampler",
        "ways to draw samples from a trained diffusion model",
        base=f"{_C}:Sampler",
        examples=("ddim", "dpm-solver++"),
    ),
    Kind(
        "dataset",
        "``torch.utils.data.Dataset`` factories",
        base=f"{_C}:Dataset",
        checks=(*DEFAULT_CHECKS, "dataset-items"),
        examples=("digits", "image-folder"),
    ),
    Kind(
        "metric",
        "evaluation functions of samples against data",
        base=f"{_C}:Metric",
        examples=("feature-fid", "accuracy"),
    ),
    Kind(
        "logger",
        "experiment trackers a run sends its config, scalars, metrics and images to",
        base=f"{_C}:Logger",
        checks=("builds", "contract", "config-round-trip", "bad-config", "logger-lifecycle"),
        examples=("jsonl", "tensorboard", "mlflow"),
    ),
    Kind(
        "lr-schedule",
        "learning-rate multipliers after warm-up that ``train.lr_schedule`` names",
        base=f"{_C}:LRSchedule",
        checks=(*DEFAULT_CHECKS, "lr-schedule-range"),
        examples=("cosine", "constant"),
    ),
)

_BY_NAME = {kind.name: kind for kind in BUILTIN_KINDS}


def _spellings(kind: Kind) -> tuple[str, ...]:
    """Every word that asks for ``kind``: its name, its plural and its name plus ``s``."""
    return (kind.name, kind.plural, f"{kind.name}s")


def kind_clash(kind: Kind, declared: Iterable[Kind], hooks: Iterable[str]) -> str | None:
    """Why ``kind`` cannot join the ``declared`` kinds, or None.

    Its plural must be a kind name too; no word that asks for it (name, plural, name + ``s``) may
    already ask for a declared kind (``models``, ``plural="models"``), and its hook may not be
    one core already calls (``command`` -> ``register_commands``).
    """
    if not KIND_NAME.match(kind.plural):
        return f"an invalid plural {kind.plural!r} (lowercase words joined by '-')"
    for other in declared:
        taken = set(_spellings(kind)) & set(_spellings(other))
        if taken:
            word = min(taken)
            owner = "core" if other.builtin else f"plugin '{other.plugin}'"
            return f"but '{word}' already names the kind '{other.name}' of {owner}"
    if kind.hook in set(hooks):
        return f"whose hook '{kind.hook}' is one core already calls"
    return None


def builtin_kind(name: str) -> Kind | None:
    """The built-in kind of that name, or None."""
    return _BY_NAME.get(name)
