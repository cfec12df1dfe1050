"""The example LR schedule."""

from __future__ import annotations

from itertools import pairwise

import pytest
from core import ConfigError, build
from core.testing import check_component

NAME = "{{ cookiecutter.__name }}-exp-decay"


def test_conformance() -> None:
    report = check_component("lr-schedule", NAME, {"min_ratio": 0.1, "drops": 3})
    assert "lr-schedule-range" in report.checks


def test_smooth_decay_shrinks_by_one_factor_per_step() -> None:
    schedule = build("lr-schedule", {"type": NAME, "min_ratio": 0.25})
    values = [schedule(step, 4) for step in range(5)]
    assert values[0] == 1.0 and values[2] == pytest.approx(0.5)
    assert values[-1] == pytest.approx(0.25)
    ratios = [later / earlier for earlier, later in pairwise(values)]
    assert ratios == pytest.approx([0.25**0.25] * 4)
    assert schedule(-3, 4) == 1.0 and schedule(9, 4) == pytest.approx(0.25)


def test_drops_hold_the_lr_in_equal_stages() -> None:
    schedule = build("lr-schedule", {"type": NAME, "min_ratio": 0.01, "drops": 2})
    values = [schedule(step, 9) for step in range(10)]
    assert values == pytest.approx([1.0] * 3 + [0.1] * 3 + [0.01] * 4)


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="min_ratio"):
        build("lr-schedule", {"type": NAME, "min_ratio": 0.0})
    with pytest.raises(ConfigError, match="drops"):
        build("lr-schedule", {"type": NAME, "drops": -1})
