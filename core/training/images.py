"""Sample grids, point-cloud scatter plots and loss curves as PNG (Pillow only)."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.atomic import atomic_write_bytes
from core.errors import ConfigError

__all__ = ["make_grid", "save_samples", "save_loss_curve"]


def make_grid(
    images: torch.Tensor,
    value_range: Sequence[float] = (-1.0, 1.0),
    nrow: int | None = None,
    padding: int = 2,
) -> np.ndarray:
    """(N, C, H, W) images -> an (H', W', C) uint8 grid with ``nrow`` images per row."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ConfigError(
            f"a sample grid needs images of shape (N, 1|3, H, W), got {tuple(images.shape)}"
        )
    low, high = float(value_range[0]), float(value_range[1])
    x = ((images.detach().float().cpu() - low) / (high - low)).clamp(0, 1)
    n, c, h, w = x.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.ones(c, rows * (h + padding) + padding, nrow * (w + padding) + padding)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = x[i]
    array = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return array


def _scatter(points: torch.Tensor, size: int = 512) -> np.ndarray:
    from PIL import Image, ImageDraw

    p = points.detach().float().cpu().numpy()
    p = p[np.isfinite(p).all(axis=1)]
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    if len(p):
        low, high = np.percentile(p, 0.5, axis=0), np.percentile(p, 99.5, axis=0)
        span = np.maximum(high - low, 1e-6)
        xy = (p - low) / span * (size - 40) + 20
        for x, y in xy:
            draw.ellipse((x - 1.5, size - y - 1.5, x + 1.5, size - y + 1.5), fill=(31, 119, 180))
    return np.asarray(image)


def save_samples(
    samples: torch.Tensor,
    path: str | os.PathLike[str],
    value_range: Sequence[float] | None = (-1.0, 1.0),
    nrow: int | None = None,
) -> Path:
    """Write images as a grid (or (N, 2) points as a scatter plot) to a PNG, atomically."""
    from PIL import Image

    if samples.ndim == 2 and samples.shape[1] == 2:
        array = _scatter(samples)
    elif samples.ndim == 3:
        array = make_grid(samples.unsqueeze(1), value_range or (-1.0, 1.0), nrow)
    else:
        array = make_grid(samples, value_range or (-1.0, 1.0), nrow)
    if array.shape[-1] == 1:
        array = array[..., 0]
    image = Image.fromarray(array)
    if max(image.size) < 512:  # small digits: scale up so a person can see them
        factor = max(1, 512 // max(image.size))
        image = image.resize((image.width * factor, image.height * factor), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def save_loss_curve(
    steps: Sequence[int], losses: Sequence[float], path: str | os.PathLike[str], title: str = "loss"
) -> Path:
    """A simple line plot of loss against step, written atomically."""
    from PIL import Image, ImageDraw

    width, height, margin = 640, 400, 50
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    pairs = [(s, v) for s, v in zip(steps, losses) if math.isfinite(v)]
    draw.rectangle((margin, 20, width - 20, height - margin), outline="black")
    draw.text((margin, 4), title, fill="black")
    if pairs:
        xs = np.array([s for s, _ in pairs], dtype=float)
        ys = np.array([v for _, v in pairs], dtype=float)
        x0, x1 = xs.min(), max(xs.max(), xs.min() + 1)
        y0, y1 = ys.min(), max(ys.max(), ys.min() + 1e-12)
        px = margin + (xs - x0) / (x1 - x0) * (width - 20 - margin)
        py = height - margin - (ys - y0) / (y1 - y0) * (height - margin - 20)
        if len(pairs) > 1:
            draw.line(list(zip(px.tolist(), py.tolist())), fill=(31, 119, 180), width=2)
        else:
            draw.ellipse((px[0] - 2, py[0] - 2, px[0] + 2, py[0] + 2), fill=(31, 119, 180))
        draw.text((4, 20), f"{y1:.4g}", fill="black")
        draw.text((4, height - margin - 10), f"{y0:.4g}", fill="black")
        draw.text((margin, height - margin + 6), f"step {int(x0)}", fill="black")
        draw.text((width - 120, height - margin + 6), f"step {int(x1)}", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
