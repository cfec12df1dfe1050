"""Startup cost of the plugin system: `core plugins list` against `import torch`, and with 100 plugins.

Three measurements, all runs interleaved (the machine is noisy, so the cases are timed side by
side, round after round, in a rotating order) and reported as medians with the load average:

- `core plugins list` with the installed plugins against `python -c 'import torch'`. Target:
  <= 0.15 s and at least 10x faster than importing torch.
- `core plugins list` and `core components list` with 100 more small plugins (generated into a
  temporary folder on PYTHONPATH: a dist-info with entry_points.txt and a torch-free plugin
  module registering a dataset, a metric and a loss with lazy targets and pydantic configs), as
  a ratio to the time with only the installed ones. Target: <= 2x.
- Both listings with 0, 25, 50 and 100 generated plugins (``--plugin-counts``; the largest count
  is the one above), for the curve of listing time against the number of plugins installed.

Bytecode caching is on for the timed commands (as for an installed wheel, whose modules are
compiled once), even where PYTHONDONTWRITEBYTECODE is set.

    .venv/bin/python benchmarks/plugin_startup.py [--rounds 15] [--plugin-counts 0,25,50,100]

``--plugins N`` is short for ``--plugin-counts 0,N`` (no curve, about half the time: 15 rounds
of the default sweep take about 2 minutes on 2 CPUs, most of it importing torch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import save_record, start_record
from _common.markdown import Col, Section, code, integer, sig
from _common.markdown import axes as plot_axes

RESULTS = Path(__file__).resolve().parent / "results" / "plugin_startup.json"
CORE = str(Path(sys.executable).with_name("core"))
PLUGINS_LIST = [CORE, "plugins", "list"]
COMPONENTS_LIST = [CORE, "components", "list"]
TORCH_IMPORT = [sys.executable, "-c", "import torch"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
RATIO_TARGET = 2.0

PLUGIN_MODULE = '''"""Benchmark plugin {n}: a dataset, a metric and a loss (torch-free, lazy targets)."""

from core import hookimpl


@hookimpl
def register_datasets(register):
    register(
        "bench-{n}-points",
        "{package}.impl:Points",
        config="{package}.configs:PointsConfig",
        description="random points (benchmark plugin {n})",
    )


@hookimpl
def register_metrics(register):
    register(
        "bench-{n}-score",
        "{package}.impl:Score",
        config="{package}.configs:ScoreConfig",
        description="a score (benchmark plugin {n})",
    )


@hookimpl
def register_losses(register):
    register("bench-{n}-loss", "{package}.impl:Loss", description="a loss (benchmark plugin {n})")
'''

CONFIGS_MODULE = '''"""Configs of benchmark plugin {n} (torch-free)."""

from pydantic import BaseModel, ConfigDict, Field


class PointsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(100, ge=1, description="number of points")


class ScoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, gt=0, description="scale of the score")
'''

IMPL_MODULE = '''"""Targets of benchmark plugin {n} (never imported by listing)."""


class Points:
    pass


class Score:
    pass


class Loss:
    pass
'''


def make_plugins(root: Path, count: int) -> None:
    """``count`` plugin distributions (dist-info + package) in ``root``."""
    for i in range(count):
        n, package = f"{i:03d}", f"bench_plugin_{i:03d}"
        info = root / f"{package}-0.1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: bench-plugin-{n}\nVersion: 0.1.0\n"
            "Requires-Dist: core<0.2,>=0.1\nRequires-Dist: pydantic>=2.5\n\n"
            f"Benchmark plugin {n}.\n"
        )
        (info / "entry_points.txt").write_text(f"[core]\nbench-{n} = {package}.plugin\n")
        (info / "RECORD").write_text("")
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
        for module, template in (
            ("plugin", PLUGIN_MODULE),
            ("configs", CONFIGS_MODULE),
            ("impl", IMPL_MODULE),
        ):
            (root / package / f"{module}.py").write_text(template.format(n=n, package=package))


def wall_time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    return time.perf_counter() - start


def plugin_statuses(env: dict[str, str]) -> dict[str, int]:
    out = subprocess.run(
        [*PLUGINS_LIST, "--json"], capture_output=True, text=True, env=env, check=True
    ).stdout
    statuses: dict[str, int] = {}
    for record in json.loads(out)["plugins"]:
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    return statuses


def plugin_counts(text: str) -> list[int]:
    """``"0,25,100"`` -> ``[0, 25, 100]``: sorted, distinct, 0 always included."""
    try:
        counts = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of counts: {text!r}"
        ) from None
    if any(n < 0 for n in counts) or not counts - {0}:
        raise argparse.ArgumentTypeError(f"counts must be >= 0, one of them > 0: {text!r}")
    return sorted(counts | {0})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", "--runs", type=int, default=15, help="rounds (>= 10)")
    counts = parser.add_mutually_exclusive_group()
    counts.add_argument(
        "--plugin-counts",
        type=plugin_counts,
        default=[0, 25, 50, 100],
        help="numbers of generated plugins to time the listings with (default 0,25,50,100)",
    )
    counts.add_argument("--plugins", type=int, help="short for --plugin-counts 0,N")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS})"
    )
    args = parser.parse_args()
    rounds = max(args.rounds, 10)
    sweep = plugin_counts(f"0,{args.plugins}") if args.plugins is not None else args.plugin_counts
    most = sweep[-1]
    record = start_record("plugin_startup")
    with tempfile.TemporaryDirectory(prefix="core-bench-plugins-") as tmp:
        envs = {0: ENV}
        for count in sweep[1:]:
            folder = Path(tmp) / f"plugins-{count}"
            make_plugins(folder, count)
            path = os.pathsep.join(filter(None, [str(folder), ENV.get("PYTHONPATH")]))
            envs[count] = {**ENV, "PYTHONPATH": path}
        installed = plugin_statuses(ENV)
        for count in sweep[1:]:
            statuses = plugin_statuses(envs[count])
            if statuses.get("loaded", 0) != installed.get("loaded", 0) + count:
                sys.exit(f"generated plugins did not all load: {statuses} (installed: {installed})")
        cases = {
            (name, count): (command, envs[count])
            for count in sweep
            for name, command in (
                ("core plugins list", PLUGINS_LIST),
                ("core components list", COMPONENTS_LIST),
            )
        }
        cases[("python -c 'import torch'", 0)] = (TORCH_IMPORT, ENV)
        for command, env in cases.values():  # warm the file and bytecode caches
            wall_time(command, env)
        load_before = record["machine"]["load_average_before"] = list(os.getloadavg())
        times: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
        order = list(cases)
        for r in range(rounds):
            for case in order[r % len(order) :] + order[: r % len(order)]:
                times[case].append(wall_time(*cases[case]))
        load_after = os.getloadavg()
    medians = {case: statistics.median(values) for case, values in times.items()}
    listing = medians[("core plugins list", 0)]
    torch_import = medians[("python -c 'import torch'", 0)]
    extra = f"with {most} more s"
    listings = ("core plugins list", "core components list")
    listing_rows = {
        command: {
            "installed s": medians[(command, 0)],
            extra: medians[(command, most)],
            "ratio": medians[(command, most)] / medians[(command, 0)],
        }
        for command in listings
    }
    worst_ratio = max(row["ratio"] for row in listing_rows.values())
    result = record | {
        "runs": rounds,
        "plugins_installed": installed.get("loaded", 0),
        "bytecode_cache": True,
        "median_seconds": {
            "core plugins list": listing,
            "python -c 'import torch'": torch_import,
        },
        "speedup_vs_import_torch": torch_import / listing,
        "target": {"core plugins list max s": 0.15, "min speedup": 10},
        "meets_target": listing <= 0.15 and torch_import / listing >= 10,
        "listing_with_extra_plugins": listing_rows,
        "extra_plugins": most,
        "ratio_target": RATIO_TARGET,
        "meets_ratio_target": worst_ratio <= RATIO_TARGET,
        "listing_by_plugin_count": [
            {
                "extra_plugins": count,
                "plugins": installed.get("loaded", 0) + count,
                **{f"{command} s": medians[(command, count)] for command in listings},
            }
            for count in sweep
        ],
        "notes": (
            f"1-min load average {load_before[0]:.1f} before, {load_after[0]:.1f} after, on "
            f"{os.cpu_count()} CPUs: absolute times grow with the load; the cases were timed "
            "side by side, so the ratios hold better than the seconds"
        ),
    }
    plugins = result["plugins_installed"]
    generated = ", ".join(map(str, sweep[1:]))
    print(f"{rounds} interleaved rounds, {plugins} installed plugins, {generated} generated")
    print(f"load average (1 min): {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"\n{'command':<28} {'median s':>9}")
    for name, value in result["median_seconds"].items():
        print(f"{name:<28} {value:>9.3f}")
    print(f"{'speed-up':<28} {result['speedup_vs_import_torch']:>8.1f}x")
    print(f"\n{'command':<24} {'installed s':>12} {extra:>20} {'ratio':>7}")
    for name, row in listing_rows.items():
        print(f"{name:<24} {row['installed s']:>12.3f} {row[extra]:>20.3f} {row['ratio']:>6.2f}x")
    print(
        f"ratio target <= {RATIO_TARGET:g}x: {'met' if result['meets_ratio_target'] else 'NOT met'}"
    )
    if len(sweep) > 2:
        print(f"\n{'generated plugins':>18} " + " ".join(f"{c + ' s':>24}" for c in listings))
        for row in result["listing_by_plugin_count"]:
            cells = " ".join(f"{row[f'{c} s']:>24.3f}" for c in listings)
            print(f"{row['extra_plugins']:>18} {cells}")
    out = save_record("plugin_startup", result, args.out.resolve())
    shown = out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out
    print(f"wrote {shown}")


def render(record: dict[str, Any], name: str = "plugin_startup") -> Section:
    """Start-up medians, listing with generated plugins, and listing time against their number."""
    s, r = Section.of(record, name, __doc__), record
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
        ax = plot_axes(
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
    return s


if __name__ == "__main__":
    main()
