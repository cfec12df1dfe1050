"""Plot pieces several benchmarks draw alike: FID against network evaluations, the real data's
own FID."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .markdown import axes

__all__ = ["nfe_axes", "nfe_errorbars", "real_data_line"]


def nfe_axes(figure: Any, title: str) -> Any:
    """Axes for feature-FID (y) against network evaluations (x, log scale)."""
    ax = axes(
        figure, "network evaluations (NFE, log scale)", "feature-FID (lower is better)", title
    )
    ax.set_xscale("log")
    return ax


def nfe_errorbars(
    ax: Any,
    series: dict[str, list[dict[str, Any]]],
    spread: float,
    bounds: Callable[[dict[str, Any]], tuple[float, float]],
) -> None:
    """Feature-FID against network evaluations (``nfe``), one line per series: each point the
    mean over seeds with bars to ``bounds(point)`` (lowest, highest), the series shifted
    sideways by powers of ``spread`` so that bars at the same NFE separate."""
    for i, (name, points) in enumerate(series.items()):
        points = sorted(points, key=lambda p: p["nfe"])
        dodge = spread ** (i - (len(series) - 1) / 2)
        ys = [p["feature_fid"] for p in points]
        ranges = [bounds(p) for p in points]
        errors = [
            [y - low for y, (low, _) in zip(ys, ranges)],
            [high - y for y, (_, high) in zip(ys, ranges)],
        ]
        ax.errorbar(
            [p["nfe"] * dodge for p in points], ys, yerr=errors, marker="o", capsize=3, label=name
        )


def real_data_line(ax: Any, floor: float | None) -> None:
    """The real data's own feature-FID (train against test images) as a dotted line, if known."""
    if floor:
        ax.axhline(
            floor, color="grey", linestyle=":", linewidth=1.5, label="real data (train vs test)"
        )
