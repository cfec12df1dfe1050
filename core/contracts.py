"""The contracts component kinds promise, as runtime-checkable protocols (torch-free).

``core.kinds`` names one per kind; the conformance kit checks every built component against
its kind's contract with ``isinstance``, then runs the kind's behavioural checks. Each ends in
``Protocol`` (``LoggerProtocol``), apart from the classes that implement it
(``core.loggers.Logger``); the former short names still work, with a DeprecationWarning.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Configured",
    "EncoderProtocol",
    "DecoderProtocol",
    "NodeProtocol",
    "LayerProtocol",
    "LossProtocol",
    "NoiseScheduleProtocol",
    "HeadProtocol",
    "SamplerProtocol",
    "DatasetProtocol",
    "MetricProtocol",
    "LRScheduleProtocol",
    "LoggerProtocol",
    "ExporterProtocol",
]


@runtime_checkable
class Configured(Protocol):
    """Built from a validated config, which ``get_config()`` gives back as a dict."""

    config: Any

    def get_config(self) -> dict[str, Any]: ...


@runtime_checkable
class _CallableComponent(Configured, Protocol):
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


@runtime_checkable
class EncoderProtocol(_CallableComponent, Protocol):
    """``encoder(x)`` maps inputs to codes: bits, or latents (a tensor or a dict)."""


@runtime_checkable
class DecoderProtocol(_CallableComponent, Protocol):
    """``decoder(z)`` maps latents to images or to a dict of named outputs."""


@runtime_checkable
class NodeProtocol(_CallableComponent, Protocol):
    """``node(x)`` evaluates a lookup-table node (or its relaxation) on input bits."""


@runtime_checkable
class LayerProtocol(_CallableComponent, Protocol):
    """``layer(x)`` maps a batch of features to a batch of features."""


@runtime_checkable
class LossProtocol(_CallableComponent, Protocol):
    """``loss(outputs, targets)`` returns a scalar total, or a dict with ``loss`` and parts."""


@runtime_checkable
class NoiseScheduleProtocol(Configured, Protocol):
    """A diffusion noise schedule over ``num_steps`` timesteps."""

    @property
    def num_steps(self) -> int: ...

    def add_noise(self, x0: Any, noise: Any, t: Any) -> Any: ...


@runtime_checkable
class HeadProtocol(_CallableComponent, Protocol):
    """``head(features)`` gives one named output of a decoder."""


@runtime_checkable
class SamplerProtocol(_CallableComponent, Protocol):
    """``sampler(model_fn, shape, [schedule, ]...)`` draws samples from noise (a diffusion
    sampler takes the model's noise schedule, a flow sampler none)."""


@runtime_checkable
class DatasetProtocol(Configured, Protocol):
    """A map-style dataset: ``len(ds)`` items, ``ds[i]`` a tensor or a tuple/dict of them."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


@runtime_checkable
class MetricProtocol(_CallableComponent, Protocol):
    """``metric(samples, reference, ...)`` returns a float or a dict of floats."""


@runtime_checkable
class LRScheduleProtocol(Configured, Protocol):
    """``schedule(step, total_steps)``: LR multiplier for a step counted after warm-up."""

    def __call__(self, step: int, total_steps: int) -> float: ...


@runtime_checkable
class LoggerProtocol(Configured, Protocol):
    """An experiment tracker: opened once per run (rank 0), then fed scalars and images."""

    def open(self, run_dir: Any, config: Mapping[str, Any], *, resume_step: int = 0) -> None: ...

    def log_scalars(self, values: Mapping[str, float], step: int) -> None: ...

    def log_image(self, tag: str, path: Any, step: int) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class ExporterProtocol(Configured, Protocol):
    """Writes a model into a folder in another format (``core export --format NAME``).

    ``accepts`` names the model types it exports (empty: any; ``export`` then refuses a model
    it cannot write with a ``core.errors.ExportError`` naming what has no equivalent).
    ``export`` fills ``directory`` (an empty staging folder that becomes the output only if it
    returns) and returns a summary for the command line.
    """

    accepts: tuple[str, ...]

    def export(self, model: Any, directory: Any, **context: Any) -> str: ...


#: former name -> protocol, kept for a release (asking for one warns).
_FORMER_NAMES = {
    name.removesuffix("Protocol"): name
    for name in __all__
    if name not in {"Configured", "ExporterProtocol"}
}


def __getattr__(name: str) -> Any:
    if name in _FORMER_NAMES:
        new = _FORMER_NAMES[name]
        warnings.warn(
            f"core.contracts.{name} is now core.contracts.{new}; the old name will stop working "
            "in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[new]
    raise AttributeError(f"module 'core.contracts' has no attribute '{name}'")
