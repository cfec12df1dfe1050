"""Figures that README.md and docs/ quote from ``benchmarks/results/*.json``, kept equal to them.

A quoted figure sits between ``<!-- figure:NAME -->`` and ``<!-- /figure -->`` on one line of a
page; ``FIGURES`` says which results file it comes from, which values in it, and how they are
written. ``scripts/gen_performance.py`` rewrites every block from the results, its ``--check``
(and ``tests/test_gen_performance.py``) fails when a page says something else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .record import RESULTS

__all__ = ["FIGURES", "Figure", "pages", "update", "updated_pages", "value"]

_BLOCK = re.compile(r"<!-- figure:(?P<name>[a-z0-9-]+) -->(?P<text>.*?)<!-- /figure -->")


@dataclass(frozen=True)
class Figure:
    """``text.format(*values)``, each value found by its path of keys in ``results/<source>.json``."""

    source: str
    paths: tuple[tuple[str | int, ...], ...]
    text: str


_MNIST5K = ("summary", "mnist5k | dpm-solver++-20 | g2", "train_seconds")
_DEMO = ("summary", "demo | dpm-solver++-20 | g1.25")


def _overhead(case: int) -> dict[str, Figure]:
    """The trainer_overhead figures of one case (docs/concepts/training.md's table)."""
    name = ("classifier", "ddpm")[case]
    one = lambda key, text: Figure("trainer_overhead", (("cases", case, key),), text)  # noqa: E731
    return {
        f"overhead-{name}-plain-ms": one("plain_ms_per_step", "{:.2f}"),
        f"overhead-{name}-trainer-ms": one("trainer_ms_per_step", "{:.2f}"),
        f"overhead-{name}-median": one("overhead_percent_median", "{:+.1f}%"),
        f"overhead-{name}-range": Figure(
            "trainer_overhead",
            (("cases", case, "overhead_percent_min"), ("cases", case, "overhead_percent_max")),
            "{:+.1f}% to {:+.1f}%",
        ),
    }


def _flow(prefix: str, source: str, setting: str) -> dict[str, Figure]:
    """One ``flow_nfe`` setting's scores ("recipe | sampler | NFE"): mean (lowest-highest seed)."""
    path = ("settings", setting)

    def spread(key: str, form: str) -> Figure:
        keys = tuple(path + (key, part) for part in ("mean", "min", "max"))
        return Figure(source, keys, f"{form} ({form}-{form})")

    return {
        f"{prefix}-fid": spread("feature_fid", "{:.2f}"),
        f"{prefix}-accuracy": spread("accuracy", "{:.3f}"),
        f"{prefix}-precision": spread("precision", "{:.3f}"),
        f"{prefix}-recall": spread("recall", "{:.3f}"),
    }


def _family(name: str, *extra: str) -> dict[str, Figure]:
    """One ``families`` row's feature-FID over its floor and training CPU seconds, mean
    (lowest-highest seed), and the ``extra`` ones of ``fid``, ``floor``, ``accuracy``, ``mse``."""
    path = ("summary", name)

    def spread(key: str, form: str) -> Figure:
        keys = tuple(path + (key, part) for part in ("mean", "min", "max"))
        return Figure("families", keys, f"{form} ({form}-{form})")

    optional = {
        "fid": spread("feature_fid", "{:.2f}"),
        "floor": Figure("families", (path + ("fid_floor",),), "{:.2f}"),
        "accuracy": spread("accuracy", "{:.3f}"),
        "mse": spread("reconstruction_mse", "{:.4f}"),
    }
    return {
        f"family-{name}-ratio": Figure(
            "families",
            tuple(path + ("fid_ratio", part) for part in ("mean", "min", "max")),
            "{:.2f}x ({:.2f}-{:.2f}x)",
        ),
        f"family-{name}-cpu-s": Figure(
            "families", (path + ("train_cpu_seconds", "mean"),), "{:.0f} s"
        ),
        **{f"family-{name}-{key}": optional[key] for key in extra},
    }


FIGURES: dict[str, Figure] = {
    "listing-s": Figure("plugin_startup", (("median_seconds", "core plugins list"),), "{:.2f} s"),
    "import-torch-s": Figure(
        "plugin_startup", (("median_seconds", "python -c 'import torch'"),), "{:.1f} s"
    ),
    "demo-idle-estimate-s": Figure("demo_time", (("idle_estimate_seconds",),), "{:.0f} s"),
    "previous-demo-idle-s": Figure("demo_time", (("previous_idle_seconds",),), "{:.0f} s"),
    "demo-train-busy-s": Figure("demo_digits", (_DEMO + ("train_seconds", "mean"),), "{:.0f} s"),
    "demo-fid": Figure(
        "demo_digits",
        (
            _DEMO + ("feature_fid", "mean"),
            _DEMO + ("feature_fid", "min"),
            _DEMO + ("feature_fid", "max"),
        ),
        "{:.2f} ({:.2f}-{:.2f})",
    ),
    "demo-fid-floor": Figure("demo_digits", (_DEMO + ("fid_floor",),), "{:.2f}"),
    "mnist5k-train-s": Figure(
        "demo_mnist5k", (_MNIST5K + ("min",), _MNIST5K + ("max",)), "{:.0f}-{:.0f} s"
    ),
    **_overhead(0),
    **_overhead(1),
    # README and docs/models/flow.md: few-step generation
    **_flow("flow-1", "flow_nfe_seeds", "shortcut | flow-euler | 1"),
    **_flow("flow-2", "flow_nfe_seeds", "shortcut | flow-euler | 2"),
    **_flow("flow-4", "flow_nfe_seeds", "shortcut | flow-euler | 4"),
    **_flow("meanflow-1", "flow_nfe_seeds", "mean-flow | flow-euler | 1"),
    **_flow("meanflow-4", "flow_nfe_seeds", "mean-flow | flow-euler | 4"),
    **_flow("demo-20", "flow_nfe_seeds", "ddpm | dpm-solver++ | 20"),
    **_flow("flow-mnist5k-1", "flow_nfe_mnist5k", "shortcut-mnist5k | flow-euler | 1"),
    **_flow("flow-mnist5k-4", "flow_nfe_mnist5k", "shortcut-mnist5k | flow-euler | 4"),
    # docs/scaling.md: data loading and train.compile
    "loader-1-worker": Figure("data_loading", (("rows", 1, "images_per_s"),), "{:,.0f} images/s"),
    "loader-0-workers": Figure("data_loading", (("rows", 0, "images_per_s"),), "{:,.0f} images/s"),
    "loader-1-worker-ratio": Figure("data_loading", (("rows", 1, "times_step"),), "{:.0f}x"),
    "step-64px": Figure("data_loading", (("step_images_per_s",),), "{:.0f} images/s"),
    "image-folder-decode": Figure("data_loading", (("decode_images_per_s",),), "{:,.0f} images/s"),
    "trainer-0-workers": Figure(
        "data_loading", (("trainer_rows", 0, "images_per_s"),), "{:.0f} images/s"
    ),
    "trainer-1-worker": Figure(
        "data_loading", (("trainer_rows", 1, "images_per_s"),), "{:.0f} images/s"
    ),
    "stream-n": Figure("streaming_sample", (("rows", 0, "n"),), "{:,}"),
    "stream-seconds": Figure("streaming_sample", (("rows", 0, "seconds"),), "{:.0f} s"),
    "stream-per-s": Figure("streaming_sample", (("rows", 0, "samples_per_s"),), "{:.0f}"),
    "stream-rss": Figure("streaming_sample", (("rows", 0, "peak_rss_mib"),), "{:.0f} MiB"),
    "compile-speedup": Figure("compile", (("speedup",),), "{:.2f}x"),
    "compile-first-step-s": Figure("compile", (("rows", 1, "first_step_s"),), "{:.0f} s"),
    # README and the GAN/VAE pages: the families' report card
    **_family("dcgan", "fid", "floor"),
    **_family("dcgan-round2"),
    **_family("vae", "fid", "floor", "accuracy", "mse"),
    **_family("vae-round2"),
    **_family("beta-vae"),
    **_family("ddpm", "fid", "floor"),
    **_family("flow", "fid", "floor"),
    **_family("cnn-denoiser", "fid", "floor"),
    **_family("latent-diffusion", "fid", "floor"),
}


def value(figure: Figure, results: Path = RESULTS) -> str:
    """The text of ``figure`` from the results now."""
    record: Any = json.loads((results / f"{figure.source}.json").read_text(encoding="utf-8"))
    found = []
    for path in figure.paths:
        item = record
        for key in path:
            item = item[key]
        found.append(item)
    return figure.text.format(*found)


def update(text: str, where: str = "page", results: Path = RESULTS) -> str:
    """``text`` with every quoted figure rewritten from the results."""

    def block(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in FIGURES:
            raise ValueError(
                f"{where}: unknown quoted figure {name!r} (known: {', '.join(FIGURES)})"
            )
        return f"<!-- figure:{name} -->{value(FIGURES[name], results)}<!-- /figure -->"

    return _BLOCK.sub(block, text)


def pages(repo: Path) -> list[Path]:
    """The pages that may quote figures: README.md and every Markdown file under docs/."""
    return [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]


def updated_pages(repo: Path, results: Path = RESULTS) -> dict[Path, str]:
    """Every page whose quoted figures differ from the results, with its corrected text."""
    changed = {}
    for page in pages(repo):
        text = page.read_text(encoding="utf-8")
        if "<!-- figure:" in text:
            new = update(text, str(page.relative_to(repo)), results)
            if new != text:
                changed[page] = new
    return changed
