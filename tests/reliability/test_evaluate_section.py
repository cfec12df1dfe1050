"""The ``evaluate`` section of a run config is validated with the rest of the run config:
unknown keys, unknown metrics (checked against the registry) and ``n`` out of bounds."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from core.building import build_model
from core.config import COMMAND_LINE, Config
from core.errors import ConfigError
from core.plugins import get_manager
from core.testing.refusals import expect_cli_refused
from core.training.trainer import validate_run_config

RUN = {"model": {"type": "mlp-denoiser"}, "data": {"type": "toy2d"}, "train": {"steps": 2}}


def _refused(overrides: list) -> str:
    with pytest.raises(ConfigError) as info:
        validate_run_config(Config(RUN, overrides=overrides))
    return str(info.value)


def test_an_unknown_metric_is_refused_with_close_matches():
    message = _refused(["evaluate.metric=feature-fidd"])
    assert message.startswith(f"{COMMAND_LINE}: evaluate.metric: ")
    assert "feature-fidd" in message and "feature-fid" in message.replace("feature-fidd", "")


def test_an_unknown_key_is_refused():
    assert "evaluate.bogus: unknown key 'bogus'" in _refused(["evaluate.bogus=1"])


@pytest.mark.parametrize("n", [0, 1, -5])
def test_too_few_samples_are_refused(n):
    assert f"evaluate.n: got {n}" in _refused([f"evaluate.n={n}"])


def test_a_valid_section_passes():
    config = Config(RUN, overrides=["evaluate.metric=swd", "evaluate.n=64", "evaluate.split=train"])
    validate_run_config(config)


def _metric_known(name: str) -> bool:
    registry = get_manager().registry
    return any(
        entry.answers_to(name) or name == entry.qualified_name
        for entry in registry.entries("metric")
    )


@settings(max_examples=40, derandomize=True, deadline=None)
@given(
    name=st.sampled_from(["feature-fid", "kid", "swd", "accuracy", "core:kid", "fid", "KID"])
    | st.text(min_size=1, max_size=20)
)
def test_a_metric_is_accepted_exactly_when_the_registry_knows_it(name):
    config = Config(RUN)
    config["evaluate"] = {"metric": name}
    if _metric_known(name):
        validate_run_config(config)
    else:
        with pytest.raises(ConfigError, match="evaluate.metric"):
            validate_run_config(config)


def test_core_train_refuses_a_bad_evaluate_section_before_writing(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump(RUN), encoding="utf-8")
    runs = ("--runs-dir", str(tmp_path / "r"))
    assert "evaluate.metric" in expect_cli_refused(
        "train", str(run), "evaluate.metric=nosuch", *runs
    )
    assert not (tmp_path / "r").exists()


@pytest.fixture
def old_run(tmp_path):
    """A run directory written before evaluate sections were checked: ``evaluate.n: 0``."""
    run = tmp_path / "old-run"
    config = {**RUN, "evaluate": {"metric": "sliced-wasserstein", "n": 0}}
    build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}}).save_pretrained(
        run / "final", meta={"weights": "raw"}
    )
    (run / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return run


def test_core_evaluate_refuses_a_bad_saved_section_instead_of_using_1000(old_run):
    from core.metrics.evaluate import evaluate_model

    with pytest.raises(ConfigError, match=r"old-run/config.yaml: evaluate.n: got 0"):
        evaluate_model(str(old_run), device="cpu")


def test_evaluate_arguments_are_checked_like_the_section(old_run):
    from core.metrics.evaluate import evaluate_model

    (old_run / "config.yaml").write_text(yaml.safe_dump(RUN), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"evaluate.n: got 0"):
        evaluate_model(str(old_run), n=0, device="cpu")
    with pytest.raises(ConfigError, match=r"evaluate.metric: .*nosuch"):
        evaluate_model(str(old_run), metric="nosuch", device="cpu")
