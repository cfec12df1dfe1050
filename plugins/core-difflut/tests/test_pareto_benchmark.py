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
    assert set(pareto.SHIPPED.values()) <= set(names)


def _row(validation: float, total: int, seeds: int = 3, test: float = 0.5) -> dict:
    return {
        "validation_accuracy_mean": validation,
        "test_accuracy_mean": test,
        "luts": {"total": total},
        "seeds": seeds,
    }


def test_pareto_front_keeps_only_undominated_rows(pareto):
    rows = {
        "small": _row(0.95, 1000),
        "dominated": _row(0.94, 1500),
        "tie-but-bigger": _row(0.95, 1200),
        "best": _row(0.97, 2500),
        "equal-twin": _row(0.97, 2500),
    }
    assert pareto.pareto_front(rows) == ["small", "best", "equal-twin"]


def test_choose_reads_validation_and_luts_only(pareto):
    goal = (0.975, 2000)
    rows = {
        "big": _row(0.99, 2500, test=0.99),  # over the cap
        "meets": _row(0.976, 1900, test=0.96),
        "meets-smaller": _row(0.975, 1800, test=0.95),
        "misses": _row(0.97, 1500, test=0.999),  # the best test score: not read
        "one-seed": _row(0.99, 1000, seeds=1),
    }
    assert pareto.choose(rows, goal) == "meets-smaller"
    del rows["meets"], rows["meets-smaller"]
    assert pareto.choose(rows, goal) == "misses"  # none meets: best validation within the cap
    assert pareto.choose({"big": rows["big"]}, goal) is None


def test_summary_reports_validation_test_both_counts_and_goal(pareto):
    candidate = next(c for c in pareto.candidates() if c["dataset"] == "digits")
    luts = {"encoder": 200, "network": 1000, "popcount": 600, "total": 1800}
    xilinx = {p: {"luts": v + 10} for p, v in luts.items()} | {
        "total_without_encoder": {"luts": 1610}
    }
    runs = {
        str(seed): {
            "validation_accuracy": val,
            "test_accuracy": test,
            "luts": luts,
            "xilinx": xilinx,
            "depth": 12,
            "training_cpu_time_s": 9.0,
        }
        for seed, (val, test) in enumerate([(0.97, 0.96), (0.98, 0.98), (0.98, 0.98)])
    }
    row = pareto.summarize(candidate, runs)
    assert row["test_accuracy_mean"] == pytest.approx(0.9733, abs=1e-4)
    assert row["validation_accuracy_mean"] == pytest.approx(0.9767, abs=1e-4)
    assert row["test_accuracy_range"] == [0.96, 0.98]
    assert row["luts"]["total"] == 1800 and row["seeds"] == 3
    assert row["xilinx_luts"]["total"] == 1810
    assert row["xilinx_luts"]["total_without_encoder"] == 1610
    assert row["meets_goal_validation"] and not row["meets_goal"]


def test_round_two_is_kept_as_selected_on_test(pareto):
    old = {"summary": {"digits": {"x": {}}}, "goals": {}, "shipped": ["x"], "runs": {}}
    kept = pareto._round2(old)
    assert kept["selected_on"] == "test" and kept["summary"] == old["summary"]
    assert "runs" not in kept
    assert pareto._round2({"round2": kept}) is kept


def test_shipped_presets_are_the_candidates_they_name(pareto):
    from core_difflut.training import PRESETS

    known = {c["name"]: c for c in pareto.candidates()}
    for preset, name in pareto.SHIPPED.items():
        assert PRESETS[preset]["config"] == known[name]["config"]
        assert PRESETS[preset]["train"] == known[name]["train"]


def test_render_shows_test_accuracy_only_for_the_chosen_candidate(pareto):
    def row(validation, test, total):
        return {
            "node_type": "dwn",
            "layer_widths": [10],
            "encoder": "thermometer, 4 bits",
            "training": "1 epochs, tau 1",
            "seeds": 3,
            "validation_accuracy_mean": validation,
            "validation_accuracy_range": [validation, validation],
            "test_accuracy_mean": test,
            "test_accuracy_range": [test, test],
            "luts": {"encoder": 1, "network": 10, "popcount": 20, "total": total},
            "xilinx_luts": {"total": total + 1, "total_without_encoder": total},
            "depth": 3,
            "training_cpu_s_median": 1.0,
        }

    old = {"test_accuracy_mean": 0.9, "test_accuracy_range": [0.9, 0.9], "seeds": 3}
    old |= {"node_type": "dwn", "layer_widths": [5], "encoder": "e", "luts": row(0, 0, 50)["luts"]}
    record = {
        "goals": {"digits": {"accuracy": 0.975, "luts": 2000}},
        "summary": {"digits": {"a": row(0.91, 0.123, 100), "b": row(0.95, 0.456, 200)}},
        "chosen": {"digits": "b"},
        "round2": {"summary": {"digits": {"old": old}}, "shipped": ["old"]},
    }
    text = pareto.render(record).markdown()
    assert "45.6" in text and "12.3" not in text
    assert "round 2 (every candidate scored, the shipped one picked, on the test split" in text
    assert "DWN (Bacellar et al. 2024)" in text and "off-chip and not counted" in text
