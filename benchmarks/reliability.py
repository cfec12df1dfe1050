"""Reliability figures: fuzz cases per component, hostile inputs, many SIGKILLs with exact
resume, a failing DDP rank, peak RSS over many epochs, concurrent store saves.

    .venv/bin/python benchmarks/reliability.py                 # everything (~15-20 min, 2 cores)
    .venv/bin/python benchmarks/reliability.py --only fuzz --fuzz-examples 60 --seed 0
    .venv/bin/python benchmarks/reliability.py --only hostile --only round3

Prints a table per part, writes benchmarks/results/reliability.json and rewrites the figures
blocks of docs/reliability.md from it (benchmarks/reliability_page.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import reliability_page as page  # benchmarks/ is on sys.path when this script runs
from _common import load_record, machine, machine_label, save_record
from _common.markdown import META_KEYS, Col, Section, integer, label, sig, values, yes_no
from _common.markdown import axes as plot_axes

from core.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
HELPERS = REPO / "tests" / "reliability"
RESULTS = REPO / "benchmarks" / "results" / "reliability.json"
PARTS = ("fuzz", "hostile", "round3", "kills", "ddp", "memory", "store")


def _helper(name: str) -> Any:
    if str(HELPERS) not in sys.path:  # helpers import their siblings by name (from _toy import ...)
        sys.path.append(str(HELPERS))
    spec = importlib.util.spec_from_file_location(f"_rel_{name}", HELPERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ENV = _helper("_toy").child_env()  # one thread, core's own plugins


def fuzz(examples: int, seed: int) -> dict[str, Any]:
    helper = _helper("_fuzz")
    rows = {}
    for kind, name in helper.component_ids():
        r = rows[f"{kind}:{name}"] = helper.fuzz_component(kind, name, examples, seed)
        print(
            f"  {kind + ':' + name:34} cases {r['cases']:4}  built {r['built']:4}  "
            f"CoreError {r['core_error']:4}  other {r['other']}  {r['cases_digest']}",
            flush=True,
        )
    total = {k: sum(r[k] for r in rows.values()) for k in ("cases", "built", "core_error", "other")}
    print(f"  total: {total}")
    return {
        "examples_per_component": examples,
        "seed": seed,
        "components": len(rows),
        "total": total,
        "per_component": rows,
    }


def hostile(round_: int = 2) -> dict[str, Any]:
    """Every case of one round of ``tests/reliability/_hostile.py``, each in a forked child."""
    import torch  # noqa: F401 - imported once here, not in every forked case

    helper = _helper("_hostile")
    cases = []
    for name, case in helper.CASES.items():
        if case.round != round_:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            outcome = helper.run(name, Path(tmp))
        cases.append(
            {"case": name, "group": case.group, "given": case.given, "expected": case.expected}
            | outcome
        )
        mark = "ok " if outcome["passed"] else "NOT"
        print(f"  {mark} {name:18} {outcome['seconds']:6.2f}s  {outcome['result'][:90]}")
    passed = sum(c["passed"] for c in cases)
    print(f"  {passed} of {len(cases)} cases as promised")
    return {"passed": passed, "count": len(cases), "cases": cases}


def kills(count: int, seed: int, steps: int = 2000) -> dict[str, Any]:
    crash = _helper("_crash")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ref = work / "reference"
        ref.mkdir()
        start = time.perf_counter()
        done = crash.run_to_end(crash.train_command(crash.write_config(ref, steps), ref / "runs"))
        clean_s = time.perf_counter() - start
        assert done.returncode == 0, done.stderr
        killed = work / "killed"
        killed.mkdir()
        start = time.perf_counter()
        result = crash.kill_and_resume(
            killed, kills=count, seed=seed, window=(0.0, 1.5), steps=steps
        )
        equal = crash.same_weights(
            crash.final_weights(ref / "runs" / "crash"),
            crash.final_weights(killed / "runs" / "crash"),
        )
    records = result["kills"]
    real = [r for r in records if not r["finished_before_kill"]]
    summary = {
        "kills_requested": count,
        "seed": seed,
        "kills_done": len(real),
        "with_loadable_checkpoint": sum(
            r["checkpoint"] is not None and not r["problems"] for r in real
        ),
        "before_first_checkpoint": sum(r["checkpoint"] is None for r in real),
        "runs_with_problems": sum(bool(r["problems"]) for r in records),
        "resume_exit_code": result["final_returncode"],
        "final_weights_equal_uninterrupted": equal,
        "clean_run_s": round(clean_s, 1),
        "kill_loop_s": round(time.perf_counter() - start, 1),
        "steps": steps,
        "checkpoint_every": crash.RUN_CONFIG["train"]["checkpoint_every"],
        "records": records,
    }
    print(
        f"  kills {summary['kills_done']}/{count}; loadable checkpoint after "
        f"{summary['with_loadable_checkpoint']} (before the first checkpoint: "
        f"{summary['before_first_checkpoint']}); runs with a partial/corrupt file: "
        f"{summary['runs_with_problems']}; resumed weights == uninterrupted: {equal}"
    )
    return summary


def ddp() -> dict[str, Any]:
    torchrun = Path(sys.executable).with_name("torchrun")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = subprocess.run(
            [
                str(torchrun),
                "--nproc_per_node=2",
                "--standalone",
                "--max-restarts=0",
                str(HELPERS / "_worker.py"),
                "ddp-fail",
                str(Path(tmp) / "run"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=ENV,
            cwd=tmp,
        )
        elapsed = time.perf_counter() - start
    output = result.stdout + result.stderr
    summary = {
        "exit_code": result.returncode,
        "seconds_to_exit": round(elapsed, 1),
        "error_reported": "injected failure on rank 1 at step 3" in output,
    }
    print(
        f"  rank 1 raises at step 3: exit {result.returncode} after {elapsed:.1f}s "
        f"(torchrun start-up included); error shown: {summary['error_reported']}"
    )
    return summary


def memory(epochs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data = _helper("_memory").measure(epochs, Path(tmp) / "run", timeout=1800)
    peaks = data["peak_rss_mb"]
    summary = {
        "epochs": epochs,
        "steps": data["steps"],
        "peak_rss_epoch1_mb": peaks[0],
        "peak_rss_epoch2_mb": peaks[1],
        "peak_rss_last_mb": peaks[-1],
        "growth_after_epoch1_mb": round(max(peaks[1:]) - peaks[1], 2),
        "per_epoch_mb": peaks,
    }
    print(
        f"  {epochs} epochs ({data['steps']} steps): peak RSS epoch 1 {peaks[0]:.1f} MB, "
        f"epoch 2 {peaks[1]:.1f} MB, last {peaks[-1]:.1f} MB, growth after epoch 1 "
        f"{summary['growth_after_epoch1_mb']:.2f} MB"
    )
    return summary


def store(writers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**ENV, "CORE_HOME": tmp}
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(HELPERS / "_worker.py"), "save", str(writers)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        elapsed = time.perf_counter() - start
        lines = [json.loads(x) for x in result.stdout.strip().splitlines()]
        from core.pretrained import list_pretrained

        listed = sorted(i.version for i in list_pretrained(tmp) if i.source == "store")
    summary = {
        "writers": writers,
        "versions": sorted(x["version"] for x in lines),
        "listed": listed,
        "distinct": len({x["version"] for x in lines}),
        "seconds": round(elapsed, 1),
    }
    print(f"  {writers} concurrent writers -> versions {summary['versions']} (listed {listed})")
    return summary


# part -> the (figure, result) of its summary line on the performance page
_ROW_TEXT: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "fuzz": lambda f: (
        f"config fuzz ({f['components']} components x {f['examples_per_component']} cases)",
        f"{f['total']['cases']} cases: {f['total']['built']} built, "
        f"{f['total']['core_error']} CoreError, {f['total']['other']} other",
    ),
    "hostile": lambda h: (
        f"hostile inputs ({h['count']} cases: files, data, CLI, configs, store)",
        f"{h['passed']} of {h['count']} as promised",
    ),
    "round3": lambda h: (
        f"hostile inputs, round 3 ({h['count']} cases: one path per concern)",
        f"{h['passed']} of {h['count']} as promised",
    ),
    "kills": lambda k: (
        f"SIGKILL during training ({k['steps']} steps)",
        f"{k['kills_done']} kills, {k['runs_with_problems']} with a partial file; "
        f"resumed == uninterrupted: {k['final_weights_equal_uninterrupted']}",
    ),
    "ddp": lambda d: (
        "DDP (2 CPU ranks), rank 1 raises",
        f"exit {d['exit_code']} after {d['seconds_to_exit']} s, error shown: {d['error_reported']}",
    ),
    "memory": lambda m: (
        f"peak RSS over {m['epochs']} epochs",
        f"epoch 1 {m['peak_rss_epoch1_mb']} MB, last {m['peak_rss_last_mb']} MB, "
        f"growth after epoch 1 {m['growth_after_epoch1_mb']} MB",
    ),
    "store": lambda s: (
        f"{s['writers']} concurrent store saves",
        f"{s['distinct']} distinct versions, listed {s['listed']}",
    ),
}


def _rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One summary line per figure (the performance page shows these), with its machine."""
    rows = []
    for part, text in _ROW_TEXT.items():
        if part in results:
            figure, result = text(results[part])
            measured_on = machine_label(results[part].get("machine", results.get("machine")))
            rows.append({"figure": figure, "result": result, "measured_on": measured_on})
    return rows


def _keep_part_machines(results: dict[str, Any]) -> None:
    """Give each part measured before parts kept their machine the record's machine of then,
    so that a run of one part does not relabel the others."""
    for part in PARTS:
        figures = results.get(part)
        if isinstance(figures, dict) and "machine" not in figures:
            figures["machine"] = results.get("machine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=[*PARTS], action="append", help="hostile is round 2, round3 round 3"
    )
    parser.add_argument("--fuzz-examples", type=int, default=60)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="seed of the fuzz cases and the kills")
    args = parser.parse_args()
    parts = args.only or list(PARTS)
    results: dict[str, Any] = load_record(RESULTS) if RESULTS.is_file() else {}
    _keep_part_machines(results)
    results["benchmark"] = "reliability"
    results["machine"] = machine()
    for part in parts:
        print(f"== {part}", flush=True)
        start = time.perf_counter()
        if part == "fuzz":
            results["fuzz"] = fuzz(args.fuzz_examples, args.seed)
        elif part == "hostile":
            results["hostile"] = hostile(2)
        elif part == "round3":
            results["round3"] = hostile(3)
        elif part == "kills":
            results["kills"] = kills(args.kills, args.seed)
        elif part == "ddp":
            results["ddp"] = ddp()
        elif part == "memory":
            results["memory"] = memory(args.epochs)
        else:
            results["store"] = store(8)
        results[part]["machine"] = results["machine"]
        results[part]["command"] = page.command(part, results[part])
        results[part]["date"] = time.strftime("%Y-%m-%d")
        print(f"  ({time.perf_counter() - start:.0f}s)", flush=True)
    results["rows"] = _rows(results)
    save_record("reliability", results)
    print(f"wrote {RESULTS.relative_to(REPO)}")
    text = page.PAGE.read_text(encoding="utf-8")
    updated = page.update_page(text, results)
    if updated != text:
        atomic_write_text(page.PAGE, updated)
        print(f"rewrote the figures of {page.PAGE.relative_to(REPO)}")


def _render_fuzz(s: Section, f: dict[str, Any]) -> None:
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
    s.table(columns, rows, fold=f"Per component ({len(rows)} rows)")


def _render_hostile(s: Section, h: dict[str, Any]) -> None:
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
    s.table(columns, rows, fold=f"Per case ({len(rows)} rows)")


def _render_kills(s: Section, k: dict[str, Any]) -> None:
    s.pairs(
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
        s.table(columns, rows, fold=f"Every kill ({len(rows)} rows)")


def _render_memory(s: Section, m: dict[str, Any]) -> None:
    s.pairs(
        [
            ("epochs", integer(m["epochs"])),
            ("steps", integer(m["steps"])),
            ("peak RSS, epoch 1 (MB)", sig(m["peak_rss_epoch1_mb"], 4)),
            ("peak RSS, epoch 2 (MB)", sig(m["peak_rss_epoch2_mb"], 4)),
            ("peak RSS, last epoch (MB)", sig(m["peak_rss_last_mb"], 4)),
            ("growth after epoch 1 (MB)", sig(m["growth_after_epoch1_mb"], 2)),
        ]
    )
    per_epoch = m.get("per_epoch_mb")
    if per_epoch:

        def draw(figure: Any) -> None:
            ax = plot_axes(figure, "epoch", "peak RSS (MB)", "Peak resident memory per epoch")
            ax.plot(range(1, len(per_epoch) + 1), per_epoch, marker=".")
            low, high = min(per_epoch), max(per_epoch)
            pad = max(0.0, 10.0 - (high - low)) / 2  # at least 10 MB shown: noise stays small
            ax.set_ylim(low - pad - 0.5, high + pad + 0.5)
            ax.ticklabel_format(axis="y", useOffset=False)

        s.plot("reliability_memory", "peak RSS per epoch", draw, (7.0, 3.2))


def _render_ddp(s: Section, d: dict[str, Any]) -> None:
    s.pairs(
        [
            ("exit code", str(d["exit_code"])),
            ("time to exit (s)", sig(d["seconds_to_exit"])),
            ("injected error shown", yes_no(d["error_reported"])),
        ]
    )


def _render_store(s: Section, st: dict[str, Any]) -> None:
    s.pairs(
        [
            ("concurrent writers", integer(st["writers"])),
            ("distinct versions", integer(st["distinct"])),
            ("versions written", values(st["versions"])),
            ("versions listed afterwards", values(st["listed"])),
            ("time (s)", sig(st.get("seconds"))),
        ]
    )


_PARTS: dict[str, Callable[[Section, dict[str, Any]], None]] = {
    "fuzz": _render_fuzz,
    "hostile": _render_hostile,
    "kills": _render_kills,
    "ddp": _render_ddp,
    "memory": _render_memory,
    "store": _render_store,
}
_PART_TITLES = {
    "fuzz": "Config fuzzing",
    "hostile": "Hostile inputs",
    "kills": "SIGKILL during training",
    "ddp": "A failing DDP rank",
    "memory": "Memory over many epochs",
    "store": "Concurrent store saves",
}


def render(record: dict[str, Any], name: str = "reliability") -> Section:
    """The summary rows, then each part's figures (what they mean: docs/reliability.md)."""
    s = Section.of(record, name, __doc__)
    if isinstance(record.get("rows"), list):
        s.table([Col("figure", "figure"), Col("result", "result")], record["rows"])
    s.add("The per-part figures and what they mean: [reliability.md](reliability.md).")
    known = [part for part in _PARTS if part in record]
    for part in known + [part for part in record if part not in known]:
        figures = record[part]
        if part in META_KEYS | {"rows"} or not isinstance(figures, dict):
            continue
        s.machine = machine_label(figures.get("machine", record.get("machine")))
        s.add(f"**{_PART_TITLES.get(part, label(part))}**")
        if part in _PARTS:
            _PARTS[part](s, figures)
        else:
            s.generic(figures)
        if figures.get("command"):
            measured = f", measured {figures['date']}" if figures.get("date") else ""
            s.add(f"Reproduce: `{figures['command']}`{measured}.")
    return s


if __name__ == "__main__":
    main()
