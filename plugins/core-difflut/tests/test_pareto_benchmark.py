"""benchmarks/difflut_pareto.py: its candidates are valid models and its front is right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from core_difflut.configs import ModelConfig

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "difflut_pareto.py"


@pytest.fixture(scope="module")
def pareto():
    if not SCRIPT.is_file():
        pytest.skip("benchmarks/ is not beside this plugin (installed from an sdist)")
    if str(SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(SCRIPT.parent))  # the script imports _common, as when it runs
    spec = importlib.util.spec_from_file_location("difflut_pareto", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_candidate_is_a_valid_model_with_a_goal(pareto):
    candidates = pareto.candidates()
    names = [c["name"] for c in candidates]
    assert len(names) == len(set(names))
    assert len({pareto.fingerprint(c) for c in candidates}) == len(candidates)
    for c in candidates:
        assert c["dataset"] in pareto.GOALS
        assert ModelConfig(**c["config"]).dataset == c["dataset"]
    assert set(pareto.SHIPPED) <= set(names)


def _row(accuracy: float, total: int) -> dict:
    return {"test_accuracy_mean": accuracy, "luts": {"total": total}}


def test_pareto_front_keeps_only_undominated_rows(pareto):
    rows = {
        "small": _row(0.95, 1000),
        "dominated": _row(0.94, 1500),
        "tie-but-bigger": _row(0.95, 1200),
        "best": _row(0.97, 2500),
        "equal-twin": _row(0.97, 2500),
    }
    assert pareto.pareto_front(rows) == ["small", "best", "equal-twin"]


def test_summary_reports_mean_range_and_goal(pareto):
    candidate = next(c for c in pareto.candidates() if c["dataset"] == "digits")
    luts = {"encoder": 200, "network": 1000, "popcount": 1400, "total": 2600}
    runs = {
        str(seed): {"test_accuracy": accuracy, "luts": luts, "depth": 12, "training_time_s": 9.0}
        for seed, accuracy in enumerate([0.96, 0.98, 0.98])
    }
    row = pareto.summarize(candidate, runs)
    assert row["test_accuracy_mean"] == pytest.approx(0.9733, abs=1e-4)
    assert row["test_accuracy_range"] == [0.96, 0.98]
    assert row["luts"]["total"] == 2600 and row["seeds"] == 3
    assert row["meets_goal"]
    runs["0"] = {**runs["0"], "test_accuracy": 0.90}
    assert not pareto.summarize(candidate, runs)["meets_goal"]
