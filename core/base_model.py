"""``BaseModel``: the torch module every model (and module-like component) builds on."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
import yaml

from core._version import __version__
from core.atomic import atomic_write_text
from core.component import Component
from core.config import parse_yaml
from core.errors import ExportError
from core.model_card import model_provider, render_model_card, write_model_card
from core.weights import check_state_dict, read_weights, save_weights

__all__ = ["BaseModel", "ExportedNetwork", "ExportCall"]


class ExportedNetwork(NamedTuple):
    """One network a model exports (``BaseModel.export_networks``); a plain tuple in this
    order works too."""

    module: torch.nn.Module
    #: example positional inputs (the export traces the module on them).
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    #: ``{input or output name: {axis: axis name}}`` for sizes that vary (None: all fixed).
    dynamic_axes: Mapping[str, Mapping[int, str]] | None = None
    #: ``{input name: (low, high)}``: the values an input takes (integers: both included).
    value_ranges: Mapping[str, tuple[float, float]] | None = None
    output_names: tuple[str, ...] = ("output",)


class ExportCall(torch.nn.Module):
    """``function`` as a module with positional inputs, for export (``ExportCall(vae,
    vae.decode)``, or a lambda passing inputs by keyword); ``owner`` holds its weights."""

    def __init__(self, owner: torch.nn.Module, function: Callable[..., Any]) -> None:
        super().__init__()
        self.owner = owner
        self.function = function

    def forward(self, *inputs: torch.Tensor) -> Any:
        return self.function(*inputs)


class BaseModel(Component, torch.nn.Module):
    """A ``torch.nn.Module`` built from its validated config.

    Subclasses set ``config_class`` (or get it from their registration) and call
    ``super().__init__(config, **overrides)`` first; ``self.config`` is then the validated
    config. ``example_inputs()`` gives inputs for the conformance kit.
    """

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        torch.nn.Module.__init__(self)
        self.config = self.resolve_config(config, **overrides)

    # -- conveniences ------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """Device of the first parameter or buffer (CPU when there are none)."""
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    def count_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameter elements (shared parameters counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        """Positional inputs for ``forward``; override for the conformance kit."""
        raise NotImplementedError(f"{type(self).__name__} does not define example_inputs()")

    def fsdp_blocks(self) -> list[torch.nn.Module]:
        """The submodules ``train.strategy: fsdp`` shards as units of their own (each gathered
        for its forward, then freed). The default is none: the whole model is one unit."""
        return []

    def export_networks(self) -> dict[str, ExportedNetwork]:
        """``{name: ExportedNetwork}``: what ``core export --format onnx`` writes, in eval mode.

        The default refuses: a model family defines it for the networks it can export.
        """
        raise ExportError(
            f"no ONNX export for {self.describe()}: {type(self).__name__} does not define "
            "export_networks()"
        )

    # -- weights ------------------------------------------------------------------------------
    def save_pretrained(
        self,
        directory: str | os.PathLike[str],
        name: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Path:
        """Write ``<name>.safetensors``, the model card ``README.md``, then ``<name>.yaml``
        into ``directory``, each atomically; ``meta`` goes into the YAML and the card."""
        directory = Path(directory)
        name = name or self.model_type or type(self).__name__.lower()
        directory.mkdir(parents=True, exist_ok=True)
        provider = model_provider(str(self.model_type or ""), type(self))
        info = {
            "core_version": __version__,
            **({"provider": provider} if provider else {}),
            "parameters": self.count_parameters(),
            **(meta or {}),
        }
        text = yaml.safe_dump({"model": self.get_config(), "meta": info}, sort_keys=False)
        save_weights(self, directory / f"{name}.safetensors", {"model_type": str(self.model_type)})
        write_model_card(directory, render_model_card(parse_yaml(text, name), name))
        atomic_write_text(directory / f"{name}.yaml", text)
        return directory

    def load_weights(self, path: str | os.PathLike[str]) -> BaseModel:
        """Load a safetensors (or legacy tensor-only ``.pth``) file into this model."""
        state = read_weights(path)
        check_state_dict(self, state, source=str(path))
        self.load_state_dict(state, strict=True)
        return self

    @classmethod
    def from_pretrained(
        cls,
        source: str | os.PathLike[str],
        *,
        device: str | torch.device | None = None,
        **runtime_overrides: Any,
    ) -> BaseModel:
        """Load, in eval mode, from a ``save_pretrained`` folder, a run directory, a checkpoint
        or a pretrained-store name; ``runtime_overrides`` may change runtime fields only."""
        from core.loading import load_model  # lazy: the loader is a layer up

        model = load_model(source, overrides=runtime_overrides, device=device, model_class=cls)
        return model.eval()
