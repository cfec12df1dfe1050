"""benchmarks/families.py: the report card covers every generative family of the repository."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

from core.plugins import get_manager

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def families():
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("families", REPO / "benchmarks/families.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["families"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("families", None)
    sys.path.remove(str(REPO / "benchmarks"))


def _repository_models() -> set[str]:
    """Model names registered by the distributions under plugins/ (core's own digit
    classifier is a metric's feature network)."""
    ours = {
        tomllib.loads(p.read_text())["project"]["name"]
        for p in REPO.glob("plugins/*/pyproject.toml")
    }
    entries = get_manager().registry.entries("model")
    return {e.name for e in entries if e.distribution in ours}


def test_every_generative_family_of_the_repository_has_a_row(families) -> None:
    scored = set()
    for family in families.FAMILIES.values():
        model = yaml.safe_load((REPO / family.config).read_text())["model"]
        overrides = dict(o.split("=", 1) for o in family.overrides)
        scored.add(overrides.get("model.type", model["type"]))
        scored.add((model.get("network") or {}).get("type"))  # the denoising network
    registered = _repository_models()
    missing = registered - scored - set(families.NOT_SCORED)
    assert not missing, f"registered models with no report-card row: {sorted(missing)}"
    assert not scored & set(families.NOT_SCORED)
    assert set(families.NOT_SCORED) <= registered, "NOT_SCORED names a model nobody registers"


def test_rows_summarise_seeds_and_leave_accuracy_out_for_unconditional_models(families) -> None:
    def run(family, seed, fid, accuracy):
        score = {
            "feature_fid": fid,
            "fid_floor": 2.0,
            "precision": 0.9,
            "precision_floor": 0.95,
            "recall": 0.8,
            "recall_floor": 0.95,
            "accuracy": accuracy,
            "accuracy_ceiling": 0.98,
            "sample_to_train_median": 6.0,
            "test_to_train_median": 6.5,
        }
        return {
            "family": family,
            "seed": seed,
            "config": "x.yaml",
            "train_cpu_seconds": 100.0 + seed,
            "train_seconds": 120.0,
            "reconstruction_mse": None,
            "score": score,
        }

    record = {"runs": [run("a", 0, 3.0, None), run("a", 1, 5.0, None), run("b", 0, 4.0, 0.9)]}
    families.summarise_rows(record)
    a, b = record["rows"]
    assert a["feature_fid"]["mean"] == 4.0 and a["fid_ratio"]["mean"] == 2.0
    assert a["seeds"] == [0, 1] and a["accuracy"] is None and a["reconstruction_mse"] is None
    assert b["accuracy"]["mean"] == 0.9
