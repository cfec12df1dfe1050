"""The figures of docs/reliability.md, written from benchmarks/results/reliability.json.

Each figure sits between ``<!-- figures:PART -->`` and ``<!-- /figures:PART -->`` in the page;
``update_page`` rewrites only those blocks, so the prose around them is left as it is, and
``tests/reliability/test_fuzz_config.py`` checks that the page matches the JSON.

    .venv/bin/python benchmarks/reliability_page.py           # rewrite the blocks from the JSON
    .venv/bin/python benchmarks/reliability_page.py --check   # exit 1 if the page is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "reliability.json"
PAGE = REPO / "docs" / "reliability.md"
COMMAND = ".venv/bin/python benchmarks/reliability.py"
_BLOCK = re.compile(
    r"(<!-- figures:(?P<part>[a-z0-9]+) -->\n)(?P<body>.*?)(<!-- /figures:(?P=part) -->)", re.S
)


def command(part: str, figures: dict[str, Any]) -> str:
    """The command that measures ``part`` with the parameters its figures were measured with."""
    options = {
        "fuzz": lambda f: f" --fuzz-examples {f['examples_per_component']} --seed {f['seed']}",
        "kills": lambda f: (
            f" --kills {f['kills_requested']}" + (f" --seed {f['seed']}" if "seed" in f else "")
        ),
        "memory": lambda f: f" --epochs {f['epochs']}",
    }
    extra = options.get(part, lambda f: "")(figures)
    return f"{COMMAND} --only {part}{extra}"


def _heading(part: str, figures: dict[str, Any]) -> str:
    return f"Figures (`{command(part, figures)}`, {figures['date']}):"


def _fuzz(f: dict[str, Any]) -> list[str]:
    rows = f["per_component"]
    totals = {
        k: sum(r[k] for r in rows.values()) for k in ("cases", "built", "core_error", "other")
    }
    counts = {r["cases"] for r in rows.values()}
    each = f"{counts.pop()} cases each" if len(counts) == 1 else f"up to {max(counts)} cases each"
    lines = [
        f"{len(rows)} components, {each}: **{totals['cases']} cases, {totals['built']} built, "
        f"{totals['core_error']} refused with a CoreError, {totals['other']} other outcomes** "
        "(another exception, a hang or a file written). Each component's cases are drawn from "
        f"its own seed (run seed {f['seed']}, kind and name); `digest` identifies the cases drawn.",
        "",
        "| component | cases | built | CoreError | other | digest |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in sorted(rows):
        r = rows[name]
        lines.append(
            f"| {name} | {r['cases']} | {r['built']} | {r['core_error']} | {r['other']} "
            f"| `{r['cases_digest']}` |"
        )
    return lines


def _kills(k: dict[str, Any]) -> list[str]:
    equal = "yes, bit for bit" if k["final_weights_equal_uninterrupted"] else "**no**"
    found = [r["checkpoint"] or "none" for r in k["records"] if not r["finished_before_kill"]]
    return [
        f"A {k['steps']}-step run, a checkpoint every {k['checkpoint_every']} steps, kills at a "
        "uniform random delay of 0-1.5 s after the (re)started run writes its first new "
        "metrics line.",
        "",
        "| kills | newest checkpoint loadable after a kill | partial or corrupt visible file "
        "| resume exit code | final weights and EMA == uninterrupted run |",
        "| ---: | ---: | ---: | ---: | --- |",
        f"| {k['kills_done']} | {k['with_loadable_checkpoint']} of {k['kills_done']} "
        f"| {k['runs_with_problems']} | {k['resume_exit_code']} | {equal} |",
        "",
        f"The checkpoints found after the kills, in order: {', '.join(found)}.",
    ]


def _ddp(d: dict[str, Any]) -> list[str]:
    return [
        f"Exit code {d['exit_code']} {d['seconds_to_exit']} s after launch (torchrun and torch "
        "start-up included; the run would otherwise train 1,000 steps); the injected error "
        f"appears in the output: {'yes' if d['error_reported'] else '**no**'}."
    ]


def _memory(m: dict[str, Any]) -> list[str]:
    return [
        "| epochs | steps | peak RSS, epoch 1 | epoch 2 | last epoch | growth after epoch 1 |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {m['epochs']} | {m['steps']} | {m['peak_rss_epoch1_mb']:.2f} MB "
        f"| {m['peak_rss_epoch2_mb']:.2f} MB | {m['peak_rss_last_mb']:.2f} MB "
        f"| {m['growth_after_epoch1_mb']:.2f} MB |",
    ]


def _store(s: dict[str, Any]) -> list[str]:
    return [f"{s['writers']} writers, versions {s['versions']}, listed afterwards {s['listed']}."]


def _hostile(h: dict[str, Any]) -> list[str]:
    cases = h["cases"]
    passed = sum(c["passed"] for c in cases)
    lines = [
        f"**{passed} of {len(cases)} cases as promised.** `DIR` is the case's scratch folder; "
        "messages are cut at 150 characters.",
        "",
        "| group | input | promise | what happened | time |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for case in cases:  # in the order of tests/reliability/_hostile.py
        result = case["result"].replace("|", "\\|")
        result = result if len(result) <= 150 else result[:149] + "…"
        mark = "" if case["passed"] else "**NOT AS PROMISED**: "
        lines.append(
            f"| {case['group']} | {case['given']} | {case['expected']} | {mark}{result} "
            f"| {case['seconds']:.2f} s |"
        )
    return lines


RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "fuzz": _fuzz,
    "hostile": _hostile,
    "round3": _hostile,
    "kills": _kills,
    "ddp": _ddp,
    "memory": _memory,
    "store": _store,
}


def render(part: str, results: dict[str, Any]) -> str:
    """The block of ``part``: its heading (command and date) and its figures."""
    figures = results[part]
    lines = [_heading(part, figures), "", *RENDERERS[part](figures)]
    return "\n".join(lines) + "\n"


def update_page(text: str, results: dict[str, Any]) -> str:
    """``text`` with every figures block that has results rewritten from them."""

    def block(match: re.Match[str]) -> str:
        part = match.group("part")
        if part not in results or part not in RENDERERS:
            return match.group(0)
        return f"{match.group(1)}{render(part, results)}{match.group(4)}"

    return _BLOCK.sub(block, text)


def blocks(text: str) -> dict[str, str]:
    """The figures blocks of a page, by part."""
    return {m.group("part"): m.group("body") for m in _BLOCK.finditer(text)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    text = PAGE.read_text(encoding="utf-8")
    updated = update_page(text, results)
    if args.check:
        stale = sorted(p for p, body in blocks(text).items() if body != blocks(updated)[p])
        if stale:
            print(f"{PAGE.relative_to(REPO)}: stale figures: {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    if updated != text:
        atomic_write_text(PAGE, updated)
        print(f"rewrote the figures of {PAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
