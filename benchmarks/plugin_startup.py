"""Startup cost of the plugin system: `core plugins list` against `import torch`.

Runs both commands interleaved (at least 10 times each), prints a table of median wall times
and writes benchmarks/results/plugin_startup.json. Target: `core plugins list` <= 0.15 s and at
least 10x faster than importing torch. Bytecode caching is on for the timed commands (as for an
installed wheel, whose modules are compiled once), even where PYTHONDONTWRITEBYTECODE is set.

    .venv/bin/python benchmarks/plugin_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "plugin_startup.json"
CORE = str(Path(sys.executable).with_name("core"))
COMMANDS = {
    "core plugins list": [CORE, "plugins", "list"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
}
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (>= 10)")
    args = parser.parse_args()
    runs = max(args.runs, 10)
    for command in COMMANDS.values():  # warm the file and bytecode caches
        wall_time(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, command in COMMANDS.items():
            times[name].append(wall_time(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    listing, torch_import = medians["core plugins list"], medians["python -c 'import torch'"]
    plugins = json.loads(
        subprocess.run([CORE, "plugins", "list", "--json"], capture_output=True, text=True).stdout
    )["plugins"]
    result = {
        "benchmark": "plugin_startup",
        "runs": runs,
        "plugins_installed": len(plugins),
        "bytecode_cache": True,
        "median_seconds": medians,
        "speedup_vs_import_torch": torch_import / listing,
        "target": {"core plugins list max s": 0.15, "min speedup": 10},
        "meets_target": listing <= 0.15 and torch_import / listing >= 10,
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    print(f"{'command':<28} {'median s':>9}   ({runs} interleaved runs, {len(plugins)} plugins)")
    for name, value in medians.items():
        print(f"{name:<28} {value:>9.3f}")
    print(f"{'speed-up':<28} {result['speedup_vs_import_torch']:>8.1f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    shown = RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS
    print(f"wrote {shown}")


if __name__ == "__main__":
    main()
