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
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core._imports import import_object

__all__ = [
    "Kind",
    "BUILTIN_KINDS",
    "PRETRAINED",
    "DEFAULT_CHECKS",
    "KIND_NAME",
    "builtin_kind",
    "hook_name",
    "kind_clash",
    "renamed_kind",
    "warn_renamed",
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
    #: names the kind had before; asking for one still works, with a DeprecationWarning.
    former_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.plural:
            object.__setattr__(self, "plural", f"{self.name}s")

    @property
    def hook(self) -> str:
        """Name of the per-kind registration hook (``register_models``)."""
        return hook_name(self.plural)

    @property
    def former_hooks(self) -> tuple[str, ...]:
        """Hook names of the former names (``register_schedulers``), still called."""
        return tuple(hook_name(f"{name}s") for name in self.former_names)

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

        return import_object(self.base)


def _builtin(
    name: str,
    base: str,
    examples: str,
    description: str,
    *,
    checks: tuple[str, ...] = DEFAULT_CHECKS,
    **more: Any,
) -> Kind:
    """A built-in kind: ``base`` is a Protocol of ``core.contracts`` or a ``module:attr``."""
    base = base if ":" in base else f"core.contracts:{base}"
    return Kind(
        name, description, base=base, checks=checks, examples=tuple(examples.split()), **more
    )


_SCHEDULE_CHECKS = (*DEFAULT_CHECKS, "noise-schedule")
_DATASET_CHECKS = (*DEFAULT_CHECKS, "dataset-items")
_LR_CHECKS = (*DEFAULT_CHECKS, "lr-schedule-range")
_LOGGER_CHECKS = ("builds", "contract", "config-round-trip", "bad-config", "logger-lifecycle")
_EXPORTER_CHECKS = ("builds", "contract", "config-round-trip", "bad-config")

#: the built-in kinds, in documentation order (one row each: name, contract, examples, description).
# fmt: off
BUILTIN_KINDS: tuple[Kind, ...] = (
    _builtin("model", "core.base_model:BaseModel", "dcgan ddpm unet", "trainable ``core.BaseModel`` subclasses that a run config's ``model:`` section builds"),
    _builtin("encoder", "EncoderProtocol", "thermometer conv-encoder", "input encoders (bits from numbers) or image encoders (images to latents)"),
    _builtin("decoder", "DecoderProtocol", "conv-decoder", "decoders: latents back to images or named outputs"),
    _builtin("node", "NodeProtocol", "probabilistic dwn", "lookup-table nodes and their training relaxations"),
    _builtin("layer", "LayerProtocol", "random learnable", "layers built from nodes or blocks"),
    _builtin("loss", "LossProtocol", "mse composite", "callables returning a total and its named parts", plural="losses"),
    _builtin("noise-schedule", "NoiseScheduleProtocol", "linear cosine", "noise schedules of diffusion models: betas, alpha-bars, ``add_noise``", checks=_SCHEDULE_CHECKS, former_names=("scheduler",)),
    _builtin("head", "HeadProtocol", "rgb segmentation", "output heads a decoder ends in"),
    _builtin("sampler", "SamplerProtocol", "ddim dpm-solver++ flow-euler", "ways to draw samples from a trained model: a diffusion model's solvers over its noise schedule, a flow model's ODE solvers"),
    _builtin("dataset", "DatasetProtocol", "digits image-folder", "``torch.utils.data.Dataset`` factories", checks=_DATASET_CHECKS),
    _builtin("metric", "MetricProtocol", "feature-fid accuracy", "evaluation functions of samples against data"),
    _builtin("logger", "LoggerProtocol", "jsonl tensorboard mlflow", "experiment trackers a run sends its config, scalars, metrics and images to", checks=_LOGGER_CHECKS),
    _builtin("lr-schedule", "LRScheduleProtocol", "cosine constant", "learning-rate multipliers after warm-up that ``train.lr_schedule`` names", checks=_LR_CHECKS),
    _builtin("exporter", "ExporterProtocol", "onnx diffusers", "formats ``core export --format NAME`` writes a model to (one folder)", checks=_EXPORTER_CHECKS),
)
# fmt: on

_BY_NAME = {kind.name: kind for kind in BUILTIN_KINDS}


def _spellings(kind: Kind) -> tuple[str, ...]:
    """Every word that asks for ``kind``: its name, plural, name plus ``s`` and former names."""
    former = (word for name in kind.former_names for word in (name, f"{name}s"))
    return (kind.name, kind.plural, f"{kind.name}s", *former)


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


def renamed_kind(word: str, kinds: Iterable[Kind]) -> Kind | None:
    """The kind that ``word`` (a former name or its plural) used to name, or None."""
    return next((k for k in kinds if word in k.former_names or word[:-1] in k.former_names), None)


def warn_renamed(old: str, kind: Kind, *, stacklevel: int = 3) -> None:
    """The DeprecationWarning for asking for ``kind`` by its former name ``old``."""
    warnings.warn(
        f"the kind '{old}' is now '{kind.name}' (hook {kind.hook}, core.get_{kind.identifier}); "
        f"'{old}' will stop working in the next release",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
