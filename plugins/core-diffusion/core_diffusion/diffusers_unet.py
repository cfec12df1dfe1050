"""``diffusers-unet``: diffusers' ``UNet2DModel`` as a denoising network of ``ddpm``.

Needs the extra ``core-diffusion[diffusers]``. Class conditioning goes through
``num_class_embeds`` (``num_classes``, plus one for the null class of classifier-free
guidance); ``pretrained`` starts from a local folder that diffusers saved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core import BaseModel
from core.errors import ConfigError
from core_diffusion.configs import DiffusersUNetConfig
from core_diffusion.inputs import check_network_inputs

__all__ = ["DiffusersUNet", "require_diffusers", "MISSING_PACKAGE"]

MISSING_PACKAGE = (
    "the diffusers-unet network and the diffusers export need the package 'diffusers': "
    "pip install 'core-diffusion[diffusers]'"
)
#: our option -> UNet2DModel's, for the options that define the architecture.
_OPTIONS = {
    "in_channels": "in_channels",
    "out_channels": "out_channels",
    "image_size": "sample_size",
    "block_out_channels": "block_out_channels",
    "layers_per_block": "layers_per_block",
    "down_block_types": "down_block_types",
    "up_block_types": "up_block_types",
    "attention_head_dim": "attention_head_dim",
    "norm_num_groups": "norm_num_groups",
    "dropout": "dropout",
}
_DEFAULTS = {
    "block_out_channels": [32, 64, 64],
    "layers_per_block": 2,
    "attention_head_dim": 8,
    "norm_num_groups": 8,
    "dropout": 0.0,
}


def require_diffusers() -> Any:
    """The ``diffusers`` module, or one ``ConfigError`` naming the extra that installs it."""
    try:
        import diffusers
    except ImportError:
        raise ConfigError(MISSING_PACKAGE) from None
    return diffusers


class DiffusersUNet(BaseModel):
    """Denoising network ``forward(x, t, y=None) -> prediction`` around a ``UNet2DModel``.

    ``self.unet`` is the diffusers model; ``y=None`` on a class-conditional network leaves
    the class embedding out, as core-diffusion's own U-Nets do.
    """

    config_class = DiffusersUNetConfig
    network_name = "diffusers-unet"
    #: ``ddpm`` saves this network's resolved config (no pretrained folder needed to load it).
    saves_resolved_config = True

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        diffusers = require_diffusers()
        source = self.config.pretrained
        saved = _read_pretrained_config(source) if source else {}
        # the resolved architecture: a saved copy needs no pretrained folder to load
        self.config = self.resolve_config({**self._resolve(saved), "pretrained": None})
        try:
            if source:
                self.unet = diffusers.UNet2DModel.from_pretrained(source, local_files_only=True)
            else:
                self.unet = diffusers.UNet2DModel(**self.unet_options())
        except (ValueError, TypeError, OSError, KeyError) as exc:
            raise ConfigError(f"{self.network_name}: {_one_line(exc)}") from None
        levels = len(self.config.block_out_channels)
        self.downsample_factor = 2 ** (levels - 1)

    def _resolve(self, saved: dict[str, Any]) -> dict[str, Any]:
        """Every option, from the config, else the pretrained folder, else the default."""
        given = self.config.model_dump()
        options = dict(given)
        for ours, theirs in _OPTIONS.items():
            if theirs in saved:
                value = saved[theirs]
                value = list(value) if isinstance(value, (list, tuple)) else value
                if given[ours] is not None and given[ours] != value:
                    raise ConfigError(
                        f"{self.network_name}: {ours} is {given[ours]!r}, but the pretrained "
                        f"UNet2DModel in {self.config.pretrained} has {theirs}={value!r}"
                    )
                options[ours] = value
            elif options[ours] is None:
                options[ours] = _DEFAULTS.get(ours)
        if saved:
            self._check_classes(saved.get("num_class_embeds"), options)
        if options["in_channels"] is None:
            raise ConfigError(f"{self.network_name}: in_channels is required")
        if options["image_size"] is None:
            raise ConfigError(f"{self.network_name}: image_size is required")
        options["out_channels"] = options["out_channels"] or options["in_channels"]
        levels = len(options["block_out_channels"])
        options["down_block_types"] = options["down_block_types"] or ["DownBlock2D"] * levels
        if options["up_block_types"] is None:
            options["up_block_types"] = [
                name.replace("Down", "Up") for name in reversed(options["down_block_types"])
            ]
        return options

    def _check_classes(self, embeds: Any, options: dict[str, Any]) -> None:
        want = options["num_classes"] + int(options["null_class"]) if options["num_classes"] else 0
        if (embeds or 0) != want:
            null = " plus its null class" if options["null_class"] else ""
            raise ConfigError(
                f"{self.network_name}: num_classes {options['num_classes']}{null} needs "
                f"num_class_embeds={want or None}, but the pretrained UNet2DModel in "
                f"{self.config.pretrained} has num_class_embeds={embeds}"
            )

    def unet_options(self) -> dict[str, Any]:
        """The ``UNet2DModel`` keyword arguments of this config."""
        c = self.config
        options = {theirs: getattr(c, ours) for ours, theirs in _OPTIONS.items()}
        if c.num_classes:
            options["num_class_embeds"] = c.num_classes + int(c.null_class)
        return options

    def forward(self, x: torch.Tensor, t: Any, y: Any = None, cond: Any = None) -> torch.Tensor:
        """The prediction at noisy input ``x`` (B, C, H, W) and timesteps ``t``."""
        t, y, _ = check_network_inputs(
            self.network_name, self.config, self.downsample_factor, x, t, y, cond
        )
        if y is None and self.unet.class_embedding is not None:
            return self._without_labels(x, t)
        return self.unet(x, t, class_labels=y).sample

    def _without_labels(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``unet(x, t)`` with the class embedding's term zero (UNet2DModel requires labels)."""
        handle = self.unet.class_embedding.register_forward_hook(
            lambda module, inputs, output: torch.zeros_like(output)
        )
        try:
            labels = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
            return self.unet(x, t, class_labels=labels).sample
        finally:
            handle.remove()

    def example_inputs(self, batch_size: int = 2) -> tuple[Any, ...]:
        g = torch.Generator().manual_seed(0)
        c = self.config
        x = torch.randn(batch_size, c.in_channels, c.image_size, c.image_size, generator=g)
        t = torch.randint(0, 1000, (batch_size,), generator=g)
        if not c.num_classes:
            return x, t
        return x, t, torch.randint(0, c.num_classes, (batch_size,), generator=g)


def _read_pretrained_config(source: str) -> dict[str, Any]:
    """The ``config.json`` of a local UNet2DModel folder, or one ``ConfigError``."""
    path = Path(source).expanduser()
    config = path / "config.json"
    if not path.is_dir():
        raise ConfigError(f"diffusers-unet.pretrained: {source} is not a folder")
    if not config.is_file():
        raise ConfigError(
            f"diffusers-unet.pretrained: {source} holds no config.json (a UNet2DModel folder "
            "saved by diffusers' save_pretrained is expected)"
        )
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"diffusers-unet.pretrained: {config} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("_class_name") != "UNet2DModel":
        name = data.get("_class_name") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(
            f"diffusers-unet.pretrained: {config} describes a {name!r}, not a UNet2DModel"
        )
    return data


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
