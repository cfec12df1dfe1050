"""Regenerate docs/performance.md and its plots from every benchmark's latest results.

Reads ``benchmarks/results/*.json`` (written by the scripts in ``benchmarks/``). Each benchmark
has a small renderer below that turns its JSON into flat tables (one row per case, units in the
column headers) and, where a curve says more than a table, a PNG in docs/images/performance/
(matplotlib, Agg backend, fixed size and dpi, no software tag or timestamp: the same results give
the same bytes). A benchmark without a renderer gets generic tables: ``"rows": [{column: value,
...}, ...]`` becomes a table, a dict of per-case dicts a table with one row per case, the rest a
quantity/value table. Under every benchmark: the command that reproduces it (``"command"`` in
the JSON, else the script's docstring) and the machine line (``"machine"``, ``"date"``, threads,
load average).

    .venv/bin/python scripts/gen_performance.py           # rewrite the page and its plots
    .venv/bin/python scripts/gen_performance.py --check   # exit 1 if the page is stale

``--check`` compares the Markdown and the set of plot files (not their pixels, which depend on
the matplotlib version), so it needs no matplotlib.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
RESULTS = BENCHMARKS / "results"
OUTPUT = REPO / "docs" / "performance.md"
IMAGES = REPO / "docs" / "images" / "performance"
DPI = 100
DASH = "–"
# Keys the machine line shows (or that say nothing to a reader), never repeated in tables.
MACHINE_KEYS = {
    "machine",
    "date",
    "torch",
    "threads",
    "cpus",
    "cpu_count",
    "processor",
    "python",
    "device",
    "omp_num_threads",
    "load_average",
    "load_average_1min",
    "load_average_1min_at_end",
    "load_average_at_start",
    "load_average_at_end",
}
META_KEYS = {"benchmark", "command", "description", "notes"}


# ---------------------------------------------------------------------------------------------
# Cells


def sig(value: Any, digits: int = 3) -> str:
    """``value`` to at most ``digits`` significant digits (all integer digits), with separators.

    Trailing zeros are dropped: the results are often rounded already, and ``0.600`` would
    claim a precision they do not have.
    """
    if value is None:
        return DASH
    x = float(value)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits - 1}e}")
    decimals = max(digits - 1 - math.floor(math.log10(abs(rounded))), 0)
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def integer(value: Any) -> str:
    """A count with thousands separators."""
    return DASH if value is None else f"{round(value):,}"


def percent(fraction: Any) -> str:
    """A fraction as a percentage with one decimal."""
    return DASH if fraction is None else f"{100 * fraction:.1f}"


def yes_no(value: Any) -> str:
    return DASH if value is None else ("yes" if value else "no")


def code(value: Any) -> str:
    return f"`{value}`"


def span(pair: Any) -> str:
    """A ``[low, high]`` range."""
    low, high = pair
    return f"{sig(low)}–{sig(high)}"


def values(items: Any) -> str:
    """A short list of numbers."""
    return ", ".join(cell(v) for v in items)


def cell(value: Any) -> str:
    """Any JSON value as readable text: numbers formatted, short lists joined, long ones summed up."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float):
        return sig(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        if len(value) > 8 and all(isinstance(v, (int, float)) for v in value):
            return f"{len(value)} values, {cell(min(value))} to {cell(max(value))}"
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{label(k)} {cell(v)}" for k, v in value.items())
    return str(value)


def escape(text: str) -> str:
    return text.replace("|", r"\|").replace("\n", " ")


_UNITS = (
    ("_per_s", "/s"),
    ("_percent", " (%)"),
    ("_mb", " (MB)"),
    ("_ms", " (ms)"),
    ("_s", " (s)"),
)


def label(key: str) -> str:
    """A column header from a JSON key: ``median_samples_per_s`` -> ``median samples/s``."""
    for suffix, unit in _UNITS:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)].replace("_", " ") + unit
    return key.replace("_", " ")


@dataclass(frozen=True)
class Col:
    """One column: its header, how to get its value from a row, how to write the value."""

    header: str
    get: str | int | Callable[[dict[str, Any]], Any]  # a key of the row, or a function of it
    fmt: Callable[[Any], str] = cell

    def value(self, row: dict[str, Any]) -> Any:
        return self.get(row) if callable(self.get) else row.get(self.get)


def table(columns: list[Col], rows: Iterable[dict[str, Any]]) -> list[str]:
    """A Markdown table; columns holding only numbers are right-aligned."""
    rows = list(rows)
    raw = [[c.value(row) for c in columns] for row in rows]
    numeric = [
        all(
            isinstance(r[i], (int, float)) and not isinstance(r[i], bool)
            for r in raw
            if r[i] is not None
        )
        and any(r[i] is not None for r in raw)
        for i in range(len(columns))
    ]
    lines = [
        "| " + " | ".join(escape(c.header) for c in columns) + " |",
        "| " + " | ".join("---:" if n else "---" for n in numeric) + " |",
    ]
    for row in raw:
        cells = [DASH if v is None else escape(c.fmt(v)) for c, v in zip(columns, row)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def pairs(
    items: Iterable[tuple[str, str]], headers: tuple[str, str] = ("quantity", "value")
) -> list[str]:
    """A two-column table of already formatted quantities, for settings and one-case results."""
    return table(
        [Col(headers[0], 0, str), Col(headers[1], 1, str)], [dict(enumerate(i)) for i in items]
    )


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to one level, keys joined with `` / ``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{label(key)}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name} / "))
        else:
            flat[name] = value
    return flat


def details(summary: str, lines: list[str]) -> list[str]:
    """``lines`` folded away under ``summary`` (long tables)."""
    return [f"<details><summary>{summary}</summary>", "", *lines, "", "</details>"]


# ---------------------------------------------------------------------------------------------
# Sections and plots


@dataclass
class Plot:
    """A PNG the page shows: ``draw(figure)`` fills a figure of ``size`` inches."""

    name: str
    draw: Callable[[Any], None]
    size: tuple[float, float] = (7.0, 4.2)


@dataclass
class Section:
    """The body of one benchmark's section, filled by its renderer."""

    name: str
    result: dict[str, Any]
    commands: list[str]
    lines: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.lines += [*lines, ""]

    def table(self, columns: list[Col], rows: Iterable[dict[str, Any]], title: str = "") -> None:
        self.add(*([f"**{title}**", ""] if title else []), *table(columns, rows))

    def plot(self, name: str, alt: str, draw: Callable[[Any], None], size=(7.0, 4.2)) -> None:
        self.plots.append(Plot(name, draw, size))
        self.add(f"![{alt}]({IMAGES.relative_to(OUTPUT.parent).as_posix()}/{name}.png)")

    def generic(self, data: dict[str, Any], skip: set[str] = MACHINE_KEYS | META_KEYS) -> None:
        """Tables for any results: lists of dicts and dicts of dicts one row per case."""
        scalars: dict[str, Any] = {}
        for key, value in data.items():
            if key in skip:
                continue
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                rows = [flatten(v) for v in value]
                title = "" if key in ("rows", "table") else label(key)
                self.table([Col(h, h) for h in _headers(rows)], rows, title)
            elif (
                isinstance(value, dict)
                and value
                and all(isinstance(v, dict) for v in value.values())
            ):
                rows = [{"case": name, **flatten(v)} for name, v in value.items()]
                self.table([Col(h, h) for h in _headers(rows)], rows, label(key))
            elif isinstance(value, dict):
                scalars.update(flatten(value, f"{label(key)} / "))
            else:
                scalars[label(key)] = value
        if scalars:
            self.add(*pairs((k, cell(v)) for k, v in scalars.items()))


def _headers(rows: list[dict[str, Any]]) -> list[str]:
    headers: list[str] = []
    for row in rows:
        headers += [k for k in row if k not in headers]
    return headers


RENDERERS: dict[str, Callable[[Section, dict[str, Any]], None]] = {}


def renders(name: str):
    """Register the renderer of benchmark ``name``."""

    def register(function: Callable[[Section, dict[str, Any]], None]):
        RENDERERS[name] = function
        return function

    return register


def _axes(figure: Any, xlabel: str, ylabel: str, title: str) -> Any:
    ax = figure.subplots()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    return ax


# ---------------------------------------------------------------------------------------------
# Renderers, one per benchmark


@renders("denoisers")
def denoisers(s: Section, r: dict[str, Any]) -> None:
    net = r.get("network", {})
    s.add(
        f"Setup: `{net.get('type')}` ({net.get('base_channels')} base channels, "
        f"{integer(r['parameters'])} parameters) at {r['image_size']}×{r['image_size']} px, "
        f"batch {r['batch_size']}; {r['train_steps_timed']} timed training steps after "
        f"{r['warmup_steps']} warm-up steps; {r['sample_n']} samples with {r['sample_steps']} "
        f"DDIM steps; best of {r['rounds']} alternating rounds"
        + (" (a `--quick` smoke run)." if r.get("quick") else ".")
    )
    train, sample = r["train_images_per_s"], r["sample_images_per_s"]
    ratio = Col("core / bare", lambda row: row["core"] / row["bare"], sig)
    s.table(
        [
            Col("phase", "phase"),
            Col("core (images/s)", "core", sig),
            Col("bare network (images/s)", "bare", sig),
            ratio,
        ],
        [
            {"phase": "training", **train},
            {"phase": f"sampling (DDIM, {r['sample_steps']} steps)", **sample},
        ],
    )
    rounds = r.get("all_rounds")
    if rounds:
        keys = ("fw_train", "bare_train", "fw_s", "bare_s")
        rows = [
            {"round": i + 1, **{k: rounds[k][i] for k in keys}}
            for i in range(len(rounds["fw_train"]))
        ]
        s.table(
            [
                Col("round", "round"),
                Col("core training (images/s)", "fw_train", sig),
                Col("bare training (images/s)", "bare_train", sig),
                Col("core sampling (images/s)", "fw_s", sig),
                Col("bare sampling (images/s)", "bare_s", sig),
            ],
            rows,
            "Every round",
        )


def _threads(key: str) -> int:
    return int(key.split("_")[0])


def _thread_label(key: str) -> str:
    n = _threads(key)
    return f"{n} thread{'s' if n != 1 else ''}"


@renders("difflut")
def difflut(s: Section, r: dict[str, Any]) -> None:
    commands = []
    speed = r.get("speed")
    if speed:
        layers = speed["layers"]
        threads = sorted({t for node in layers.values() for t in node}, key=_threads)
        about = re.sub(r"\s*Results go to \S+", "", doc_paragraph("difflut", "Speed:"))
        if about:
            s.add(about)
        columns = [Col("node type", "node")]
        for measure, what in (
            ("median_samples_per_s", "median (samples/s)"),
            ("best_samples_per_s", "best (samples/s)"),
        ):
            columns += [Col(f"{_thread_label(t)}, {what}", f"{t}/{measure}", sig) for t in threads]
        columns += [Col(f"repeats, {_thread_label(t)}", f"{t}/repeats", integer) for t in threads]
        rows = [
            {
                "node": name,
                **{f"{t}/{k}": v for t, timing in timings.items() for k, v in timing.items()},
            }
            for name, timings in layers.items()
        ]
        s.table(columns, rows, "Layer speed")

        def draw(figure: Any) -> None:
            names = sorted(layers, key=lambda n: layers[n][threads[0]]["median_samples_per_s"])
            ax = _axes(
                figure,
                "samples/s, median (log scale)",
                "",
                "DiffLUT layer throughput per node type",
            )
            height = 0.8 / len(threads)
            for i, t in enumerate(threads):
                ys = [k + (i - (len(threads) - 1) / 2) * height for k in range(len(names))]
                xs = [layers[n].get(t, {}).get("median_samples_per_s", 0) for n in names]
                ax.barh(ys, xs, height=height, label=_thread_label(t))
            ax.set_yticks(range(len(names)), names)
            ax.set_xscale("log")
            ax.grid(False, axis="y")
            ax.legend(loc="lower right", fontsize="small")

        s.plot(
            "difflut_layers",
            "DiffLUT layer samples/s per node type",
            draw,
            (7.0, 0.45 * len(layers) + 1.6),
        )
        commands.append(doc_command("difflut", "--speed"))
    accuracy = r.get("accuracy")
    if accuracy:
        rows = [
            {"dataset": dataset, "model": model, **scores}
            for dataset, models in accuracy.items()
            for model, scores in models.items()
        ]
        s.table(
            [
                Col("dataset", "dataset"),
                Col("model", "model"),
                Col("test accuracy (%)", "test_accuracy", percent),
                Col("train accuracy (%)", "train_accuracy", percent),
                Col("training time (s)", "training_time_s", sig),
                Col("training CPU time (s)", "training_cpu_time_s", sig),
                Col("parameters", "parameters", integer),
                Col("epochs", "epochs", integer),
            ],
            rows,
            "Accuracy",
        )
        commands.append(doc_command("difflut", "--accuracy"))
    s.commands = [c for c in commands if c] or s.commands


_EVALUATORS = {
    "c_bitsliced": "C, bit-sliced",
    "numpy_bitpacked": "NumPy, bit-packed",
    "torch_eval_1_thread": "PyTorch eval mode, 1 thread",
}


def _percent_range(pair: list[float]) -> str:
    return f"{100 * pair[0]:.1f}–{100 * pair[1]:.1f}"


@renders("difflut_pareto")
def difflut_pareto(s: Section, r: dict[str, Any]) -> None:
    goals, front = r["goals"], r.get("pareto_front", {})
    for dataset, rows in r["summary"].items():
        goal = goals[dataset]
        s.table(
            [
                Col("candidate", "name", code),
                Col("node", "node_type"),
                Col("layers", lambda row: " -> ".join(f"{w:,}" for w in row["layer_widths"])),
                Col("encoder", "encoder"),
                Col("seeds", "seeds", integer),
                Col("test accuracy (%), mean", "test_accuracy_mean", percent),
                Col("range (%)", "test_accuracy_range", _percent_range),
                Col("LUTs: encoder", lambda row: row["luts"]["encoder"], integer),
                Col("network", lambda row: row["luts"]["network"], integer),
                Col("popcount/argmax", lambda row: row["luts"]["popcount"], integer),
                Col("total", lambda row: row["luts"]["total"], integer),
                Col("depth", "depth", integer),
                Col("Pareto", "pareto", yes_no),
                Col("goal", "meets_goal", yes_no),
            ],
            [
                {"name": name, "pareto": name in front.get(dataset, []), **row}
                for name, row in sorted(rows.items(), key=lambda i: i[1]["luts"]["total"])
            ],
            f"{dataset}: goal {goal['accuracy']:.0%} with at most {goal['luts']:,} LUTs",
        )

    shipped = set(r.get("shipped", []))

    def draw(figure: Any) -> None:
        from matplotlib import ticker

        axes = figure.subplots(1, len(r["summary"]), squeeze=False)[0]
        for ax, (dataset, rows) in zip(axes, r["summary"].items()):
            goal = goals[dataset]
            nodes = sorted({row["node_type"] for row in rows.values()})
            for index, node in enumerate(nodes):
                nudge = 1 + 0.008 * (index - (len(nodes) - 1) / 2)  # keep equal sizes apart
                points = sorted(
                    (row["luts"]["total"], name, row)
                    for name, row in rows.items()
                    if row["node_type"] == node
                )
                xs = [x * nudge for x, _, _ in points]
                ys = [100 * row["test_accuracy_mean"] for _, _, row in points]
                ranges = [row["test_accuracy_range"] for _, _, row in points]
                low = [y - 100 * lo for y, (lo, _) in zip(ys, ranges)]
                high = [100 * hi - y for y, (_, hi) in zip(ys, ranges)]
                ax.errorbar(xs, ys, yerr=[low, high], fmt="o", capsize=3, label=node)
                for x, y, (_, name, _) in zip(xs, ys, points):
                    if name in shipped:
                        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4))
            ax.axhline(100 * goal["accuracy"], color="grey", linestyle="--", linewidth=1)
            ax.axvline(goal["luts"], color="grey", linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.xaxis.set_minor_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.tick_params(axis="x", which="minor", labelsize="x-small")
            ax.set_xlabel("LUTs in total (encoder + network + popcount/argmax), log scale")
            ax.set_ylabel("test accuracy (%), mean and range over seeds")
            ax.set_title(f"{dataset} (dashed: goal)")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize="small", loc="lower right")

    s.plot(
        "difflut_pareto",
        "DiffLUT test accuracy against total LUTs",
        draw,
        (6.0 * len(r["summary"]), 4.4),
    )


@renders("difflut_export")
def difflut_export(s: Section, r: dict[str, Any]) -> None:
    s.add(
        f"Network: {r['network']}. Input encoding "
        + ("excluded from" if r.get("encoding_excluded") else "included in")
        + " the C and NumPy timings."
    )
    rows = [{"evaluator": _EVALUATORS.get(k, label(k)), **v} for k, v in r["results"].items()]
    s.table(
        [
            Col("evaluator", "evaluator"),
            Col("best (samples/s)", "samples_per_s_best", integer),
            Col("median (samples/s)", "samples_per_s_median", integer),
            Col("samples per word", "samples_per_word", integer),
            Col("samples per vector", "samples_per_vector", integer),
            Col("build (s)", "build_s", sig),
            Col("bit-exact on 2,048 samples", "bit_exact_on_2048", yes_no),
        ],
        rows,
    )


@renders("gan_vae")
def gan_vae(s: Section, r: dict[str, Any]) -> None:
    s.table(
        [
            Col("model", "model"),
            Col("parameters", "parameters", integer),
            Col("image (px)", "image_size"),
            Col("batch", "batch_size"),
            Col("Trainer (images/s)", "trainer_images_per_s", sig),
            Col("plain loop (images/s)", "plain_images_per_s", sig),
            Col("Trainer / plain", "trainer_vs_plain", sig),
            Col("Trainer range (images/s)", "trainer_range", span),
            Col("plain range (images/s)", "plain_range", span),
            Col("timed steps", "timed_steps"),
        ],
        r["rows"],
    )
    s.add("Medians over the timed steps; the ranges are the slowest and fastest step.")


@renders("plugin_startup")
def plugin_startup(s: Section, r: dict[str, Any]) -> None:
    installed = r["plugins_installed"]
    extra = r["extra_plugins"]
    s.add(
        f"Medians of {r['runs']} interleaved rounds, bytecode cache "
        + ("on" if r.get("bytecode_cache") else "off")
        + f"; {installed} plugins installed."
    )
    s.table(
        [Col("command", "command", code), Col("median (s)", "seconds", sig)],
        [{"command": k, "seconds": v} for k, v in r["median_seconds"].items()],
        "Start-up",
    )
    target = r.get("target", {})
    s.add(
        f"`core plugins list` is {sig(r['speedup_vs_import_torch'])}× faster than importing torch"
        + (
            f"; target: at most {sig(target['core plugins list max s'])} s and {target['min speedup']}× "
            f"faster ({'met' if r.get('meets_target') else 'not met'})."
            if "core plugins list max s" in target and "min speedup" in target
            else "."
        )
    )
    listing = r["listing_with_extra_plugins"]
    more = next((k for row in listing.values() for k in row if k.startswith("with ")), None)
    s.table(
        [
            Col("command", "command", code),
            Col(f"{installed} installed (s)", "installed s", sig),
            Col(f"{installed} + {extra} generated (s)", more or "", sig),
            Col("ratio", "ratio", sig),
        ],
        [{"command": k, **v} for k, v in listing.items()],
        f"Listing with {extra} more plugins",
    )
    if "ratio_target" in r:
        s.add(
            f"Target: at most {sig(r['ratio_target'], 2)}× the time with only the installed plugins "
            f"({'met' if r.get('meets_ratio_target') else 'not met'})."
        )
    sweep = r.get("listing_by_plugin_count")
    if sweep:
        commands = [k for k in sweep[0] if k.endswith(" s")]
        s.table(
            [
                Col("plugins installed", "plugins", integer),
                Col("generated", "extra_plugins", integer),
            ]
            + [Col(f"{code(c[:-2])} (s)", c, sig) for c in commands],
            sweep,
            "Listing time by number of plugins",
        )
        series = {c[:-2]: [(row["plugins"], row[c]) for row in sweep] for c in commands}
    else:
        series = {
            c: [(installed, row["installed s"]), (installed + extra, row[more])]
            for c, row in listing.items()
            if more
        }

    def draw(figure: Any) -> None:
        ax = _axes(
            figure,
            "plugins installed",
            "median wall time (s)",
            "Listing time against the number of plugins",
        )
        for name, points in series.items():
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower right")

    s.plot("plugin_startup", "listing time against the number of plugins installed", draw)


def _reliability_fuzz(s: Section, f: dict[str, Any]) -> None:
    per = f["per_component"]
    total = f.get("total") or {
        k: sum(c[k] for c in per.values()) for k in ("cases", "built", "core_error", "other")
    }
    s.add(
        f"{f['components']} components × {f['examples_per_component']} generated configs"
        + (f", seed {f['seed']}" if "seed" in f else "")
        + f": {integer(total['cases'])} cases, {integer(total['built'])} built, "
        f"{integer(total['core_error'])} refused with a CoreError, {integer(total['other'])} other outcomes."
    )
    rows = [{"component": name, **c} for name, c in sorted(per.items())]
    columns = [
        Col("component", "component"),
        Col("cases", "cases"),
        Col("built", "built"),
        Col("CoreError", "core_error"),
        Col("other", "other"),
        Col("failures", lambda row: len(row.get("failures") or [])),
        Col("time (s)", "seconds", sig),
    ]
    s.add(*details(f"Per component ({len(rows)} rows)", table(columns, rows)))


def _reliability_hostile(s: Section, h: dict[str, Any]) -> None:
    cases = h["cases"]
    rows = list(cases.values()) if isinstance(cases, dict) else list(cases)
    rows.sort(key=lambda case: str(case.get("group")))  # stable: the run's order within a group
    passed = sum(bool(c.get("passed")) for c in rows)
    s.add(f"{passed} of {len(rows)} hostile inputs handled as promised.")
    columns = [
        Col("group", "group"),
        Col("input", "given"),
        Col("promise", "expected"),
        Col("as promised", "passed", yes_no),
        Col("time (s)", "seconds", sig),
    ]
    s.add(*details(f"Per case ({len(rows)} rows)", table(columns, rows)))


def _reliability_kills(s: Section, k: dict[str, Any]) -> None:
    s.add(
        *pairs(
            [
                ("training steps", integer(k["steps"])),
                ("checkpoint every (steps)", integer(k["checkpoint_every"])),
                ("kills done / requested", f"{k['kills_done']} / {k['kills_requested']}"),
                ("kills before the first checkpoint", integer(k.get("before_first_checkpoint"))),
                (
                    "newest checkpoint loadable after a kill",
                    f"{k['with_loadable_checkpoint']} of {k['kills_done']}",
                ),
                ("runs with a partial or corrupt file", integer(k["runs_with_problems"])),
                ("resume exit code", str(k["resume_exit_code"])),
                (
                    "final weights equal to an uninterrupted run",
                    yes_no(k["final_weights_equal_uninterrupted"]),
                ),
                ("uninterrupted run (s)", sig(k.get("clean_run_s"))),
                ("kill loop (s)", sig(k.get("kill_loop_s"))),
            ]
        )
    )
    records = k.get("records") or []
    if records:
        rows = [{"kill": i + 1, **rec} for i, rec in enumerate(records)]
        columns = [
            Col("kill", "kill"),
            Col("newest checkpoint", lambda row: row.get("checkpoint") or "none"),
            Col("delay (s)", "delay_s", sig),
            Col("run finished first", "finished_before_kill", yes_no),
            Col("problems", lambda row: "; ".join(map(str, row.get("problems") or [])) or "none"),
        ]
        s.add(*details(f"Every kill ({len(rows)} rows)", table(columns, rows)))


def _reliability_memory(s: Section, m: dict[str, Any]) -> None:
    s.add(
        *pairs(
            [
                ("epochs", integer(m["epochs"])),
                ("steps", integer(m["steps"])),
                ("peak RSS, epoch 1 (MB)", sig(m["peak_rss_epoch1_mb"], 4)),
                ("peak RSS, epoch 2 (MB)", sig(m["peak_rss_epoch2_mb"], 4)),
                ("peak RSS, last epoch (MB)", sig(m["peak_rss_last_mb"], 4)),
                ("growth after epoch 1 (MB)", sig(m["growth_after_epoch1_mb"], 2)),
            ]
        )
    )
    per_epoch = m.get("per_epoch_mb")
    if per_epoch:

        def draw(figure: Any) -> None:
            ax = _axes(figure, "epoch", "peak RSS (MB)", "Peak resident memory per epoch")
            ax.plot(range(1, len(per_epoch) + 1), per_epoch, marker=".")
            low, high = min(per_epoch), max(per_epoch)
            pad = max(0.0, 10.0 - (high - low)) / 2  # at least 10 MB shown: noise stays small
            ax.set_ylim(low - pad - 0.5, high + pad + 0.5)
            ax.ticklabel_format(axis="y", useOffset=False)

        s.plot("reliability_memory", "peak RSS per epoch", draw, (7.0, 3.2))


def _reliability_ddp(s: Section, d: dict[str, Any]) -> None:
    s.add(
        *pairs(
            [
                ("exit code", str(d["exit_code"])),
                ("time to exit (s)", sig(d["seconds_to_exit"])),
                ("injected error shown", yes_no(d["error_reported"])),
            ]
        )
    )


def _reliability_store(s: Section, st: dict[str, Any]) -> None:
    s.add(
        *pairs(
            [
                ("concurrent writers", integer(st["writers"])),
                ("distinct versions", integer(st["distinct"])),
                ("versions written", values(st["versions"])),
                ("versions listed afterwards", values(st["listed"])),
                ("time (s)", sig(st.get("seconds"))),
            ]
        )
    )


_RELIABILITY_PARTS: dict[str, Callable[[Section, dict[str, Any]], None]] = {
    "fuzz": _reliability_fuzz,
    "hostile": _reliability_hostile,
    "kills": _reliability_kills,
    "ddp": _reliability_ddp,
    "memory": _reliability_memory,
    "store": _reliability_store,
}
_PART_TITLES = {
    "fuzz": "Config fuzzing",
    "hostile": "Hostile inputs",
    "kills": "SIGKILL during training",
    "ddp": "A failing DDP rank",
    "memory": "Memory over many epochs",
    "store": "Concurrent store saves",
}


@renders("reliability")
def reliability(s: Section, r: dict[str, Any]) -> None:
    if isinstance(r.get("rows"), list):
        s.table([Col("figure", "figure"), Col("result", "result")], r["rows"])
    s.add("The per-part figures and what they mean: [reliability.md](reliability.md).")
    known = [part for part in _RELIABILITY_PARTS if part in r]
    for part in known + [part for part in r if part not in known]:
        figures = r[part]
        if part in MACHINE_KEYS | META_KEYS | {"rows"} or not isinstance(figures, dict):
            continue
        s.add(f"**{_PART_TITLES.get(part, label(part))}**")
        render = _RELIABILITY_PARTS.get(part)
        try:
            if render is None:
                raise KeyError(part)
            render(s, figures)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            if render is not None:
                print(
                    f"reliability/{part}: unexpected results, shown as generic tables",
                    file=sys.stderr,
                )
            s.generic(figures, MACHINE_KEYS | {"command"})
        if figures.get("command"):
            measured = f", measured {figures['date']}" if figures.get("date") else ""
            s.add(f"Reproduce: `{figures['command']}`{measured}.")


def _sampler_label(row: dict[str, Any], both: set[str]) -> str:
    if row["sampler"] in both:
        return f"{row['sampler']} ({'SDE' if row.get('stochastic') else 'ODE'})"
    return row["sampler"]


@renders("samplers")
def samplers(s: Section, r: dict[str, Any]) -> None:
    rows = r["rows"]
    both = {
        name
        for name in {row["sampler"] for row in rows}
        if len({bool(row.get("stochastic")) for row in rows if row["sampler"] == name}) == 2
    }
    floor = r.get("train_vs_test_fid")
    s.add(
        f"Model: `{r['config']}` with `{' '.join(r.get('overrides', []))}`: "
        f"{integer(r['parameters'])} parameters at {r['image_size']}×{r['image_size']} px, "
        f"trained in {sig(r['train_seconds'])} s"
        + (
            f" with {r['threads']} torch thread{'s' if r['threads'] != 1 else ''}. "
            if "threads" in r
            else ". "
        )
        + f"Feature-FID against the {r['reference']}, {integer(r['n_samples'])} samples per seed, "
        f"the mean over seeds {values(r['seeds'])}"
        + (
            f"; the real-data floor (train split against test split) is {sig(floor)}."
            if floor
            else "."
        )
    )
    s.table(
        [
            Col("sampler", lambda row: _sampler_label(row, both)),
            Col("steps", "steps", integer),
            Col("network evaluations", "nfe", integer),
            Col("feature-FID (mean)", "feature_fid", sig),
            Col(
                "feature-FID per seed",
                "feature_fid_per_seed",
                lambda v: ", ".join(sig(x) for x in v),
            ),
            Col("FID / DDPM-1000", "fid_vs_ddpm1000", sig),
            Col("time (s)", "seconds", sig),
            Col("samples/s", "samples_per_s", sig),
        ],
        rows,
    )
    checks = [
        ("DPM-Solver++ 20 steps (ODE) / DDIM 1000 steps, FID", "dpm20_vs_ddim1000_ode", sig),
        ("DPM-Solver++ 20 steps (SDE) / DDPM 1000 steps, FID", "dpm20_sde_vs_ddpm1000", sig),
        ("goal: DPM-Solver++ 20 steps within 10 % of DDPM-1000", "goal_dpm20_within_10pct", yes_no),
    ]
    found = [(name, fmt(r[key])) for name, key, fmt in checks if key in r]
    if found:
        s.add(*pairs(found, ("comparison", "result")))
    reference = next((row for row in rows if row["sampler"] == "ddpm"), None)

    def draw(figure: Any) -> None:
        ax = _axes(
            figure,
            "network evaluations (log scale)",
            "feature-FID (lower is better)",
            f"Sampler quality against cost, {r['image_size']} px digits",
        )
        series: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            series.setdefault(_sampler_label(row, both), []).append(row)
        for i, (name, points) in enumerate(series.items()):
            points = sorted(points, key=lambda p: p["nfe"])
            dodge = 1.04 ** (i - (len(series) - 1) / 2)  # so the seed bars of equal NFE separate
            xs = [p["nfe"] * dodge for p in points]
            ys = [p["feature_fid"] for p in points]
            seeds = [p.get("feature_fid_per_seed") or [p["feature_fid"]] for p in points]
            low = [y - min(v) for y, v in zip(ys, seeds)]
            high = [max(v) - y for y, v in zip(ys, seeds)]
            ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=name)
        if reference:
            ax.axhline(
                reference["feature_fid"],
                color="black",
                linestyle="--",
                linewidth=1,
                label=f"DDPM, {reference['nfe']} steps",
            )
        if floor:
            ax.axhline(
                floor, color="grey", linestyle=":", linewidth=1.5, label="real data (train vs test)"
            )
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))

    s.plot(
        s.name,
        f"feature-FID against network evaluations per sampler, {r['image_size']} px",
        draw,
        (8.0, 4.2),
    )
    s.add(
        "Points are the mean over seeds, the bars span the seeds' lowest and highest FID; samplers "
        "are shifted a little sideways so that bars at the same number of evaluations separate."
    )


@renders("samplers_nfe")
def samplers_nfe(s: Section, r: dict[str, Any]) -> None:
    rows, seeds = r["rows"], r["seeds"]
    floor, size = r.get("floor"), r.get("image_size") or r["data"]["image_size"]
    s.add(
        f"Model: the run `{r['run']}`, weights {r.get('weights', 'final/')}, "
        f"{integer(r['parameters'])} parameters at {size}×{size} px, "
        f"class-conditional (classes balanced, {integer(r['n_samples'] // 10)} per digit) at "
        f"guidance scale {sig(r['guidance_scale'])}. Feature-FID against the {r['reference']}, "
        f"{integer(r['n_samples'])} samples per seed, the mean over seeds {values(seeds)}"
        + (
            f"; the floor ({integer(r['n_samples'])} real training images against the test "
            f"split, mean over the same seeds) is {sig(floor)}."
            if floor
            else "."
        )
        + f" NFE: {r['nfe_convention']}."
    )
    budgets = sorted({row["nfe_budget"] for row in rows})
    by_sampler: dict[str, dict[int, dict[str, Any]]] = {}
    for row in rows:
        by_sampler.setdefault(row["sampler"], {})[row["nfe_budget"]] = row

    def point(row: dict[str, Any] | None) -> str:
        if row is None:
            return DASH
        text = f"{sig(row['feature_fid'])} ({sig(row['feature_fid_min'])}-"
        text += f"{sig(row['feature_fid_max'])})"
        if row["nfe"] != row["nfe_budget"]:
            text += f" at {row['nfe']}"
        if len(row["seeds"]) != len(seeds):
            text += f", {len(row['seeds'])} seed{'s' if len(row['seeds']) != 1 else ''}"
        return text

    s.table(
        [Col("sampler", "sampler", code)]
        + [Col(f"{b} NFE", lambda row, b=b: point(row["points"].get(b)), str) for b in budgets],
        [{"sampler": name, "points": points} for name, points in by_sampler.items()],
        title="feature-FID, mean over seeds (lowest-highest seed); "
        "'at k' where the sampler's NFE is k below the budget",
    )
    s.table(
        [
            Col("sampler", "sampler", code),
            Col("steps", "steps", integer),
            Col("NFE", "nfe", integer),
            Col("seeds", lambda row: len(row["seeds"]), integer),
            Col("feature-FID per seed", "feature_fid_per_seed", lambda v: ", ".join(map(sig, v))),
            Col(f"time per seed, {integer(r['n_samples'])} samples (s)", "seconds", sig),
        ],
        rows,
        title="every point",
    )
    found = []
    if "best" in r:
        best = r["best"]
        found.append(
            (
                "best feature-FID at any NFE",
                f"{sig(best['feature_fid'])} (`{best['sampler']}`, {best['nfe']} NFE)",
            )
        )
    if "best_at_20" in r:
        b20 = r["best_at_20"]
        found += [
            ("best at 20 NFE", f"{sig(b20['feature_fid'])} (`{b20['sampler']}`, {b20['nfe']} NFE)"),
            ("best at 20 NFE / best at any NFE", sig(r["best_at_20_vs_best"])),
            ("goal: best at 20 NFE within 10 % of the best", yes_no(r["goal_within_10pct"])),
        ]
    if floor:
        found.append(("floor (real train vs test)", sig(floor)))
    if r.get("sweep_seconds"):
        found.append(("sweep wall time (s)", sig(r["sweep_seconds"])))
    if found:
        s.add(*pairs(found, ("comparison", "result")))

    def draw(figure: Any) -> None:
        ax = _axes(
            figure,
            "network evaluations (NFE, log scale)",
            "feature-FID (lower is better)",
            f"Samplers on {r['data']['type']}, {size} px, guidance {sig(r['guidance_scale'])}",
        )
        names = list(by_sampler)
        for i, name in enumerate(names):
            points = sorted(by_sampler[name].values(), key=lambda p: p["nfe"])
            dodge = 1.03 ** (i - (len(names) - 1) / 2)  # so bars at the same NFE separate
            ys = [p["feature_fid"] for p in points]
            ax.errorbar(
                [p["nfe"] * dodge for p in points],
                ys,
                yerr=[
                    [y - p["feature_fid_min"] for y, p in zip(ys, points)],
                    [p["feature_fid_max"] - y for y, p in zip(ys, points)],
                ],
                marker="o",
                capsize=3,
                label=name,
            )
        if "best" in r:
            ax.axhline(
                1.1 * r["best"]["feature_fid"],
                color="black",
                linestyle="--",
                linewidth=1,
                label="best FID + 10% (the goal)",
            )
        if floor:
            ax.axhline(
                floor, color="grey", linestyle=":", linewidth=1.5, label="real data (train vs test)"
            )
        ax.axvline(20, color="grey", linewidth=0.8, alpha=0.5)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(budgets, [str(b) for b in budgets])
        top = max((p["feature_fid_max"] for p in rows if p["nfe"] >= 10), default=None)
        ax.set_ylim(0, 1.15 * top if top else None)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))

    s.plot(
        s.name,
        "feature-FID against network evaluations per sampler on the mnist-5k model",
        draw,
        (8.0, 4.2),
    )
    s.add(
        "Points are the mean over seeds, the bars span the seeds' lowest and highest FID; samplers "
        "are shifted a little sideways so that bars at the same NFE separate; the y axis is cut "
        "above the 10-NFE points, so 5-NFE points may lie off the plot (the table has them)."
    )


@renders("trainer_overhead")
def trainer_overhead(s: Section, r: dict[str, Any]) -> None:
    cases = r.get("cases")
    if not cases:  # results of the one-case version of the script
        cases = [
            {
                "case": "classifier",
                "model": r.get("model", {}),
                "plain_ms_per_step": r["plain_ms_per_step"],
                "trainer_ms_per_step": r["trainer_ms_per_step"],
                "overhead_percent_median": r.get(
                    "overhead_percent",
                    (r["trainer_ms_per_step"] / r["plain_ms_per_step"] - 1) * 100,
                ),
            }
        ]
    order = "alternating which goes first" if r.get("cases") else "plain loop first"
    s.add(
        f"Setup: batch {r['batch_size']}, {r['steps']} steps per loop, {r['rounds']} rounds "
        f"(both loops in each round, {order}); models: "
        + "; ".join(f"{c['case']} {cell(c.get('model', {}))}" for c in cases)
        + "."
    )
    spread = lambda c: (  # noqa: E731
        f"{c['overhead_percent_min']:+.2f} to {c['overhead_percent_max']:+.2f}"
        if "overhead_percent_min" in c
        else None
    )
    s.table(
        [
            Col("case", "case"),
            Col("plain loop (ms/step)", "plain_ms_per_step", sig),
            Col("core Trainer (ms/step)", "trainer_ms_per_step", sig),
            Col("overhead, median of rounds (%)", "overhead_percent_median", lambda v: f"{v:+.2f}"),
            Col("overhead, rounds' range (%)", spread, str),
        ],
        cases,
    )
    options = " ".join(f"--{k} {r[k]}" for k in ("steps", "rounds", "threads") if k in r)
    s.commands = [f".venv/bin/python benchmarks/trainer_overhead.py {options}".strip()]


@renders("demo_digits")
def demo_digits(s: Section, r: dict[str, Any]) -> None:
    rows = []
    for setting, e in r["summary"].items():
        recipe, sampler, guidance = setting.split(" | ")
        fid, acc, memo = e["feature_fid"], e["accuracy"], e["sample_to_train_median"]
        rows.append(
            {
                "recipe": recipe,
                "sampler": sampler,
                "guidance": float(guidance.lstrip("g")),
                "seeds": len(e["seeds"]),
                "fid": fid["mean"],
                "fid_range": f"{sig(fid['min'])}-{sig(fid['max'])}",
                "floor": e["fid_floor"],
                "acc": acc["mean"],
                "acc_range": f"{acc['min']:.3f}-{acc['max']:.3f}",
                "ceiling": e["accuracy_ceiling"],
                "memo": memo["mean"],
                "test_memo": e["test_to_train_median"],
                "train_s": e["train_seconds"]["mean"],
            }
        )
    s.table(
        [
            Col("recipe", "recipe"),
            Col("sampler", "sampler"),
            Col("guidance", "guidance", sig),
            Col("training seeds", "seeds"),
            Col("feature-FID (mean)", "fid", sig),
            Col("feature-FID (seeds' range)", "fid_range", str),
            Col("floor", "floor", sig),
            Col("accuracy (mean)", "acc", lambda v: f"{v:.4f}"),
            Col("accuracy (seeds' range)", "acc_range", str),
            Col("ceiling", "ceiling", lambda v: f"{v:.4f}"),
            Col("nearest-train distance, median", "memo", sig),
            Col("same for test images", "test_memo", sig),
            Col("training wall time (s)", "train_s", sig),
        ],
        rows,
    )


def _scored(point: dict[str, Any]) -> dict[str, Any]:
    """The three scores of one sample set (benchmarks/demo_digits.py's score_samples)."""
    return {
        "fid": point["feature_fid"],
        "floor": point["fid_floor"],
        "acc": point["accuracy"],
        "memo": point["sample_to_train_median"],
        "test_memo": point["test_to_train_median"],
    }


SCORE_COLUMNS = [
    Col("feature-FID", "fid", sig),
    Col("floor", "floor", sig),
    Col("accuracy", "acc", lambda v: f"{v:.4f}"),
    Col("nearest-train distance, median", "memo", sig),
    Col("same for test images", "test_memo", sig),
]


@renders("fid_vs_time")
def fid_vs_time(s: Section, r: dict[str, Any]) -> None:
    rows = [
        {"run": label, "step": p["step"], "seconds": p["train_seconds"], **_scored(p)}
        for label, points in r["runs"].items()
        for p in sorted(points, key=lambda p: p["step"])
    ]
    columns = [Col("run", "run"), Col("step", "step"), Col("training (s)", "seconds", sig)]
    s.table(columns + SCORE_COLUMNS, rows)


@renders("guidance_grid")
def guidance_grid(s: Section, r: dict[str, Any]) -> None:
    rows = [
        {
            "run": p["run"],
            "guidance": p["guidance"],
            "interval": p["guidance_interval"],
            "sampler": f"{p['sampler']}-{p['steps']}",
            **_scored(p),
        }
        for p in r["points"]
    ]
    columns = [
        Col("run (its final EMA weights)", "run", str),
        Col("guidance", "guidance", sig),
        Col("guided noise levels (sigma)", "interval", str),
        Col("sampler", "sampler"),
    ]
    s.table(columns + SCORE_COLUMNS, rows)


@renders("demo_time")
def demo_time(s: Section, r: dict[str, Any]) -> None:
    rows = []
    for i, row in enumerate(r["rounds"]):
        for name in ("demo", "previous"):
            rows.append(
                {
                    "round": i,
                    "config": name,
                    "seconds": row[name]["seconds"],
                    "load": row[name]["loadavg_before"][0],
                    "ratio": row["ratio"] if name == "demo" else None,
                }
            )
    s.table(
        [
            Col("round", "round"),
            Col("config", "config"),
            Col("core train (s)", "seconds", sig),
            Col("1-min load average before", "load", sig),
            Col("demo / previous", "ratio", sig),
        ],
        rows,
    )
    s.add(
        f"Idle estimate of the demo's training: {sig(r['previous_idle_seconds'])} s (the previous "
        f"quickstart on an idle machine) x {sig(r['ratio_median'])} (median ratio) = "
        f"{sig(r['idle_estimate_seconds'])} s."
    )


@renders("unet_throughput")
def unet_throughput(s: Section, r: dict[str, Any]) -> None:
    rows = r["rows"]
    s.table(
        [
            Col("case", "case"),
            Col("layout", "layout"),
            Col("image (px)", "image_size"),
            Col("batch", "batch"),
            Col("parameters", "parameters", integer),
            Col("time (s/step)", "seconds_per_step", sig),
            Col("images/s", "images_per_s", sig),
        ],
        rows,
        "Throughput",
    )
    libraries = sorted({k for row in rows for k in row.get("matmul_gflops_by_library", {})})
    names = {"mkl": "MKL", "onednn": "oneDNN"}
    s.table(
        [
            Col("case", "case"),
            Col("layout", "layout"),
            Col("GFLOP/step", "gflop_per_step", sig),
            Col("achieved (GFLOP/s)", "achieved_gflops", sig),
        ]
        + [
            Col(
                f"{names.get(lib, lib)} matmul (GFLOP/s)",
                lambda row, lib=lib: row.get("matmul_gflops_by_library", {}).get(lib),
                sig,
            )
            for lib in libraries
        ]
        + [
            Col("achieved / best matmul (%)", "fraction_of_matmul", percent),
            Col("base 3×3 conv (GFLOP/s)", "base_conv3x3_gflops", sig),
            Col("3×3 conv / best matmul (%)", "base_conv3x3_fraction_of_matmul", percent),
        ],
        rows,
        "Compute efficiency",
    )
    if r.get("note"):
        s.add(f"Notes: {r['note'].rstrip('.')}.")


# ---------------------------------------------------------------------------------------------
# Page


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


def _docstring(name: str) -> str:
    script = BENCHMARKS / f"{name}.py"
    return (ast.get_docstring(ast.parse(script.read_text())) or "") if script.is_file() else ""


def doc_summary(name: str) -> str:
    """The first paragraph of a benchmark script's docstring, on one line."""
    paragraph = _docstring(name).strip().split("\n\n")[0]
    return re.sub(r"``([^`]+)``", r"`\1`", " ".join(paragraph.split()))


def doc_paragraph(name: str, prefix: str) -> str:
    """The docstring paragraph of ``name`` that starts with ``prefix``, on one line."""
    for paragraph in _docstring(name).split("\n\n"):
        if paragraph.strip().startswith(prefix):
            return " ".join(paragraph.split())
    return ""


def doc_commands(name: str) -> list[str]:
    """The commands in a script's docstring, optional ``[...]`` arguments and comments dropped."""
    commands = []
    for line in _docstring(name).splitlines():
        if f"benchmarks/{name}.py" in line and not line.strip().startswith(("Results", "Writes")):
            command = re.sub(r"\s*\[[^\]]*\]", "", line.split("#")[0])
            commands.append(" ".join(command.split()))
    return commands


def doc_command(name: str, flag: str) -> str:
    """The first docstring command of ``name`` that passes ``flag``."""
    return next((c for c in doc_commands(name) if flag in c.split()), "")


def is_benchmark(script: Path) -> bool:
    """A script in benchmarks/ that writes ``results/<its name>.json``."""
    return not script.name.startswith("_") and f"{script.stem}.json" in script.read_text()


def machine_line(result: dict[str, Any], source: Path) -> str:
    """Where and when the results were measured, and the file they are in."""
    machine = result.get("machine")
    info = {**result, **(machine if isinstance(machine, dict) else {})}
    parts = [str(machine)] if isinstance(machine, str) and machine else []
    text = lambda: ", ".join(parts).lower()  # noqa: E731
    if info.get("processor") and info["processor"].lower() not in text():
        parts.append(str(info["processor"]))
    cpus = info.get("cpus") or info.get("cpu_count")
    if cpus and "cpu" not in text():
        parts.append(f"{cpus} CPUs")
    if info.get("python") and "python" not in text():
        parts.append(f"Python {info['python']}")
    if info.get("torch") and "torch" not in text():
        parts.append(f"torch {info['torch']}")
    threads = info.get("threads")
    if threads and "thread" not in text():
        parts.append(f"{threads} torch thread{'s' if threads != 1 else ''}")
    if info.get("device") and info["device"] != "cpu":
        parts.append(str(info["device"]))
    load = []
    if isinstance(info.get("load_average_at_start"), list):
        load.append(f"{info['load_average_at_start'][0]:.2f} at the start")
    if isinstance(info.get("load_average_at_end"), list):
        load.append(f"{info['load_average_at_end'][0]:.2f} at the end")
    if isinstance(info.get("load_average"), list):
        load.append(f"{info['load_average'][0]:.2f}")
    if isinstance(info.get("load_average_1min"), dict):
        load += [f"{v:.2f} {k}" for k, v in info["load_average_1min"].items()]
    if isinstance(info.get("load_average_1min_at_end"), (int, float)):
        load.append(f"{info['load_average_1min_at_end']:.2f} at the end")
    line = f"Machine: {', '.join(parts)}" if parts else "Machine: not recorded"
    if load:
        line += f"; 1-min load average {', '.join(load)}"
    if info.get("date"):
        line += f"; measured {info['date']}"
    return f"{line}. Results: `{shown(source)}`."


def section(name: str, path: Path) -> tuple[list[str], list[Plot]]:
    """The Markdown of one benchmark (heading to machine line) and the plots it shows."""
    result = json.loads(path.read_text()) if path.is_file() else None
    kind = (
        name if name in RENDERERS or not isinstance(result, dict) else result.get("benchmark", name)
    )
    summary = doc_summary(name) or doc_summary(kind)
    lines = [f"## {name.replace('_', '-')}", ""] + ([summary, ""] if summary else [])
    commands = (
        doc_commands(name)[:1]
        or doc_commands(kind)[:1]
        or [f".venv/bin/python benchmarks/{name}.py"]
    )
    if result is None:
        return lines + ["No results yet. Run:", "", "```bash", commands[0], "```", ""], []
    if not isinstance(result, dict):
        result = {"rows": result} if isinstance(result, list) else {"value": result}
    if result.get("description"):
        lines += [str(result["description"]), ""]
    if result.get("command"):
        commands = [str(result["command"])]
    body = Section(name, result, commands)
    renderer = RENDERERS.get(kind)
    try:
        if renderer is None:
            raise LookupError(kind)
        renderer(body, result)
    except (LookupError, TypeError, ValueError, AttributeError, IndexError):
        if renderer is not None:
            print(
                f"{path.name}: not what the {kind} renderer expects, shown as generic tables",
                file=sys.stderr,
            )
        body = Section(name, result, commands)
        body.generic(result)
    lines += body.lines
    if result.get("notes"):
        lines += [cell(result["notes"]).rstrip(".") + ".", ""]
    lines += [
        "Reproduce:",
        "",
        "```bash",
        *body.commands,
        "```",
        "",
        machine_line(result, path),
        "",
    ]
    return lines, body.plots


INTRO = [
    "# Performance",
    "",
    "<!-- Generated by scripts/gen_performance.py from benchmarks/results/*.json. -->",
    "",
    "Every number on this page comes from a script in `benchmarks/` that prints a table and",
    "writes `benchmarks/results/<name>.json`; the command under each benchmark reproduces it.",
    "The page and its plots are regenerated with `.venv/bin/python scripts/gen_performance.py`",
    "(`make bench` runs every benchmark). The machine line under each benchmark says where and",
    "when it ran; timings move with the machine and its load, so compare rows of one table, which",
    "were measured in the same run.",
    "",
]


def render() -> tuple[str, list[Plot]]:
    """The page's Markdown and the plots it shows."""
    results = {p.stem: p for p in sorted(RESULTS.glob("*.json"))} if RESULTS.is_dir() else {}
    scripts = [p.stem for p in sorted(BENCHMARKS.glob("*.py")) if is_benchmark(p)]
    names = sorted(set(results) | set(scripts))
    lines = list(INTRO)
    if names:
        lines += ["| benchmark | what it measures |", "| --- | --- |"]
        for name in names:
            summary = doc_summary(name)
            if not summary and name in results:
                try:
                    summary = str(json.loads(results[name].read_text()).get("description", ""))
                except (json.JSONDecodeError, AttributeError):
                    summary = ""
            lines.append(f"| [{name}](#{name.replace('_', '-')}) | {escape(summary)} |")
        lines.append("")
    plots: list[Plot] = []
    for name in names:
        path = results.get(name, RESULTS / f"{name}.json")
        try:
            body, shown = section(name, path)
        except json.JSONDecodeError as exc:
            body, shown = (
                [
                    f"## {name.replace('_', '-')}",
                    "",
                    f"`{shown(path)}` is not valid JSON ({exc}).",
                    "",
                ],
                [],
            )
        lines += body
        plots += shown
    return "\n".join(lines).rstrip() + "\n", plots


def draw_plots(plots: list[Plot]) -> None:
    """Write every plot to docs/images/performance/ and remove PNGs no plot writes any more."""
    import matplotlib
    import matplotlib.style

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    IMAGES.mkdir(parents=True, exist_ok=True)
    with matplotlib.style.context("default"):
        for plot in plots:
            figure = Figure(figsize=plot.size, dpi=DPI, layout="constrained")
            plot.draw(figure)
            figure.savefig(IMAGES / f"{plot.name}.png", dpi=DPI, metadata={"Software": None})
    for stale in set(IMAGES.glob("*.png")) - {IMAGES / f"{p.name}.png" for p in plots}:
        stale.unlink()


def stale(text: str, plots: list[Plot]) -> list[str]:
    """Why the page on disk differs from ``text`` and ``plots`` (empty when it is current)."""
    problems = []
    if not OUTPUT.is_file() or OUTPUT.read_text() != text:
        problems.append(f"{shown(OUTPUT)} differs from the results")
    wanted = {f"{p.name}.png" for p in plots}
    present = {p.name for p in IMAGES.glob("*.png")} if IMAGES.is_dir() else set()
    problems += [f"missing plot {shown(IMAGES)}/{n}" for n in sorted(wanted - present)]
    problems += [f"unused plot {shown(IMAGES)}/{n}" for n in sorted(present - wanted)]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args()
    text, plots = render()
    if args.check:
        problems = stale(text, plots)
        for problem in problems:
            print(problem)
        if problems:
            print("regenerate with: .venv/bin/python scripts/gen_performance.py")
            return 1
        print(f"{shown(OUTPUT)} is current")
        return 0
    OUTPUT.write_text(text)
    draw_plots(plots)
    print(f"wrote {shown(OUTPUT)} and {len(plots)} plots in {shown(IMAGES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
