"""Cells, tables and sections of docs/performance.md, for the benchmarks' own renderers.

A benchmark's ``render(record, name)`` returns a :class:`Section`: Markdown lines, the plots it
shows and the commands that reproduce it. Every table of a section ends with a ``machine``
column, the record's machine, so that each row says where it was measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .record import machine_label

__all__ = [
    "DASH",
    "META_KEYS",
    "IMAGES",
    "Col",
    "Plot",
    "Section",
    "axes",
    "cell",
    "code",
    "details",
    "doc_commands",
    "doc_summary",
    "escape",
    "integer",
    "label",
    "percent",
    "sig",
    "span",
    "table",
    "values",
    "yes_no",
]

DASH = "–"
#: where the page's plots go, relative to docs/performance.md
IMAGES = "images/performance"
#: keys that say nothing in a table (shown around it instead)
META_KEYS = {
    "benchmark",
    "command",
    "date",
    "description",
    "machine",
    "notes",
    "omp_num_threads",
    "started",
    "threads",
    "training_clock",
}


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
    """A flag as yes or no."""
    return DASH if value is None else ("yes" if value else "no")


def code(value: Any) -> str:
    """A value as inline code."""
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
    """Text safe inside a table cell."""
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
    raw = [[c.value(row) for c in columns] for row in rows]
    numeric = [
        any(r[i] is not None for r in raw)
        and all(
            isinstance(r[i], (int, float)) and not isinstance(r[i], bool)
            for r in raw
            if r[i] is not None
        )
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


def details(summary: str, lines: list[str]) -> list[str]:
    """``lines`` folded away under ``summary`` (long tables)."""
    return [f"<details><summary>{summary}</summary>", "", *lines, "", "</details>"]


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


def axes(figure: Any, xlabel: str, ylabel: str, title: str) -> Any:
    """One plot's axes with labels, title and a light grid."""
    ax = figure.subplots()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    return ax


def doc_summary(doc: str | None) -> str:
    """The first paragraph of a docstring, on one line, reST literals as Markdown code."""
    paragraph = (doc or "").strip().split("\n\n")[0]
    return re.sub(r"``([^`]+)``", r"`\1`", " ".join(paragraph.split()))


def doc_commands(doc: str | None, script: str) -> list[str]:
    """The commands of ``benchmarks/<script>.py`` in a docstring, ``[...]`` options and comments dropped."""
    commands = []
    for line in (doc or "").splitlines():
        if f"benchmarks/{script}.py" in line and not line.strip().startswith(("Results", "Writes")):
            command = re.sub(r"\s*\[[^\]]*\]", "", line.split("#")[0])
            commands.append(" ".join(command.split()))
    return commands


@dataclass
class Plot:
    """A PNG the page shows: ``draw(figure)`` fills a figure of ``size`` inches."""

    name: str
    draw: Callable[[Any], None]
    size: tuple[float, float] = (7.0, 4.2)


@dataclass
class Section:
    """One benchmark's part of the page: Markdown lines, plots, the commands that reproduce it."""

    name: str
    machine: str = "not recorded"
    commands: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)

    @classmethod
    def of(cls, record: dict[str, Any], name: str, doc: str | None = None) -> Section:
        """An empty section for ``record``: its machine, and its command (else the docstring's)."""
        script = str(record.get("benchmark") or name)
        commands = [str(record["command"])] if record.get("command") else []
        commands = commands or doc_commands(doc, script)[:1] or [f"python benchmarks/{script}.py"]
        return cls(name, machine_label(record.get("machine")), commands)

    @classmethod
    def generic_of(cls, record: dict[str, Any], name: str, doc: str | None = None) -> Section:
        """A section of ``record``'s generic tables, for a benchmark without tables of its own."""
        section = cls.of(record, name, doc)
        section.generic(record)
        return section

    def markdown(self) -> str:
        return "\n".join(self.lines)

    def add(self, *lines: str) -> None:
        self.lines += [*lines, ""]

    def rows(self, columns: list[Col], rows: Iterable[dict[str, Any]]) -> list[str]:
        """A table whose last column is the machine that measured each row (its
        ``measured_on`` when it has one, else the section's)."""
        return table(
            [*columns, Col("machine", lambda row: row.get("measured_on") or self.machine, str)],
            rows,
        )

    def table(
        self, columns: list[Col], rows: Iterable[dict[str, Any]], title: str = "", fold: str = ""
    ) -> None:
        """A table under an optional bold ``title``, folded under ``fold`` when given."""
        lines = self.rows(columns, rows)
        self.add(
            *([f"**{title}**", ""] if title else []), *(details(fold, lines) if fold else lines)
        )

    def pairs(self, items: Iterable[tuple[str, str]], headers=("quantity", "value")) -> None:
        """A two-column table of already formatted quantities, for settings and one-case results."""
        rows = [dict(enumerate(item)) for item in items]
        self.table([Col(headers[0], 0, str), Col(headers[1], 1, str)], rows)

    def plot(self, name: str, alt: str, draw: Callable[[Any], None], size=(7.0, 4.2)) -> None:
        self.plots.append(Plot(name, draw, size))
        self.add(f"![{alt}]({IMAGES}/{name}.png)")

    def generic(self, data: dict[str, Any], skip: set[str] = META_KEYS) -> None:
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
            self.pairs((k, cell(v)) for k, v in scalars.items())


def _headers(rows: list[dict[str, Any]]) -> list[str]:
    headers: list[str] = []
    for row in rows:
        headers += [k for k in row if k not in headers]
    return headers
