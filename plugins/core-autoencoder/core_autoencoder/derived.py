"""``derived-targets``: adds a foreground mask, an edge map or a low-res copy to image items."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from core import build
from core.component import Component
from core.errors import DataError
from core_autoencoder.configs import DerivedTargetsConfig

__all__ = ["DerivedTargets", "foreground_mask", "edge_map", "low_resolution"]


def foreground_mask(image: torch.Tensor, threshold: float) -> torch.Tensor:
    """(C, H, W) image -> (H, W) long mask: 1 where the channel mean exceeds ``threshold``."""
    return (image.mean(0) > threshold).long()


def edge_map(image: torch.Tensor, threshold: float, range_min: float = -1.0) -> torch.Tensor:
    """(C, H, W) image -> (1, H, W) float map in {0, 1}: gradient magnitude above ``threshold``."""
    gray = (image.mean(0, keepdim=True) - range_min) / (1.0 - range_min)
    padded = F.pad(gray[None], (1, 1, 1, 1), mode="replicate")[0]
    gx = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2
    gy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2
    return ((gx.pow(2) + gy.pow(2)).sqrt() > threshold).to(image.dtype)


def low_resolution(image: torch.Tensor, factor: int) -> torch.Tensor:
    """(C, H, W) -> average-pooled by ``factor`` and repeated back to (C, H, W)."""
    h, w = image.shape[-2:]
    if h % factor or w % factor:
        raise DataError(f"lowres_factor {factor} does not divide the image size {(h, w)}")
    small = F.avg_pool2d(image[None], factor)
    return F.interpolate(small, size=(h, w), mode="nearest")[0]


class DerivedTargets(Component, torch.utils.data.Dataset):
    """Items ``{"image", "label", "mask"?, "edges"?, "lowres"?}`` from an (image, label) dataset."""

    config_class = DerivedTargetsConfig
    config_section = "data"
    kind = "dataset"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        self.config = self.resolve_config(config, **overrides)
        self.base = build("dataset", dict(self.config.base), where="data.base")

    @classmethod
    def wrap(cls, dataset: Any, config: Any = None, /, **overrides: Any) -> DerivedTargets:
        """Wrap an existing dataset object instead of building ``base``."""
        obj = cls.__new__(cls)
        obj.config = cls.resolve_config(config, **overrides)
        obj.base = dataset
        return obj

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.base[index]
        if isinstance(item, dict):
            image, label = item.get("image", item.get("x")), item.get("label", item.get("y", 0))
        elif isinstance(item, (tuple, list)):
            image, label = item[0], (item[1] if len(item) > 1 else 0)
        else:
            image, label = item, 0
        if not isinstance(image, torch.Tensor) or image.dim() != 3:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise DataError(f"derived-targets: item {index} image must be (C, H, W), got {shape}")
        c = self.config
        out: dict[str, Any] = {"image": image, "label": label}
        if "mask" in c.targets:
            out["mask"] = foreground_mask(image, c.mask_threshold)
        if "edges" in c.targets:
            out["edges"] = edge_map(image, c.edge_threshold, c.range_min)
        if "lowres" in c.targets:
            out["lowres"] = low_resolution(image, c.lowres_factor)
        return out
