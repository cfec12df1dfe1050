"""benchmarks/fid_vs_time.py, guidance_grid.py and their shared scoring: parsing, clock, plot."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture
def load(monkeypatch):
    """Import a script of benchmarks/ by name, with benchmarks/ on the path as when run."""
    if not BENCHMARKS.is_dir():
        pytest.skip("benchmarks/ is not beside this plugin (installed from an sdist)")
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import _common from there

    def _load(name: str):
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return _load


def test_intervals_parse_or_name_the_problem(load):
    grid = load("guidance_grid")
    assert grid.parse_interval("all") == (0.0, math.inf)
    assert grid.parse_interval("0.3:5") == (0.3, 5.0)
    with pytest.raises(Exception, match="LOW:HIGH or all"):
        grid.parse_interval("0.3")


def test_training_seconds_come_from_the_trainers_clock(load, tmp_path):
    load("fid_vs_time")
    from _common import logged_seconds

    records = [
        {"step": 50, "loss": 0.3, "time": 9.5},
        {"step": 100, "loss": 0.2, "time": 19.0},
        {"step": 100, "eval": 1.0},  # a record without the clock is skipped
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert logged_seconds(tmp_path) == {50: 9.5, 100: 19.0}


def test_plot_draws_every_run(load, tmp_path):
    pytest.importorskip("matplotlib")
    fid_vs_time = load("fid_vs_time")
    point = {"fid_floor": 1.5, "accuracy_ceiling": 0.98}
    record = {
        "runs": {
            label: [
                {**point, "train_seconds": 10.0 * k, "feature_fid": 9.0 / k, "accuracy": 0.3 * k}
                for k in (1, 2, 3)
            ]
            for label in ("old", "new")
        }
    }
    out = tmp_path / "plot.png"
    fid_vs_time.plot(record, str(out))
    assert out.read_bytes().startswith(b"\x89PNG")


def test_score_line_names_floor_ceiling_and_memorisation(load):
    load("demo_digits")
    from _common.digits import score_line

    score = {
        "feature_fid": 2.5,
        "fid_floor": 1.5,
        "accuracy": 0.96,
        "accuracy_ceiling": 0.977,
        "sample_to_train_median": 11.0,
        "test_to_train_median": 9.6,
    }
    line = score_line(score)
    assert line == (
        "feature-FID 2.500 (floor 1.500) accuracy 0.9600 (ceiling 0.9770) nearest-train "
        "median 11.000 (test 9.600)"
    )
    scored = {"precision": 0.8, "precision_floor": 0.9, "recall": 0.7, "recall_floor": 0.95}
    assert score_line({**score, **scored}) == (
        f"{line} precision 0.800 (real 0.900) recall 0.700 (real 0.950)"
    )


def test_no_benchmark_imports_private_core_functions():
    """``_stack`` and ``_to_symmetric`` of core.metrics.evaluate are private (issue 29)."""
    if not BENCHMARKS.is_dir():
        pytest.skip("benchmarks/ is not beside this plugin (installed from an sdist)")
    for script in sorted(BENCHMARKS.rglob("*.py")):
        text = script.read_text()
        assert "import _stack" not in text and "_to_symmetric" not in text, script.name
        assert "from demo_digits import" not in text, script.name  # shared code is in _common
