"""The example scheduler."""

from __future__ import annotations

import pytest
from core import ConfigError, build
from core.testing import check_component

NAME = "{{ cookiecutter.__name }}-warmup"


def test_conformance() -> None:
    check_component("scheduler", NAME, {"warmup_steps": 10})


def test_ramps_then_holds() -> None:
    schedule = build("scheduler", {"type": NAME, "start": 0.0, "end": 2.0, "warmup_steps": 4})
    assert schedule.values(6) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="warmup_steps"):
        build("scheduler", {"type": NAME, "warmup_steps": 0})
