"""Every case ``benchmarks/reliability.py --only hostile`` measures holds its promise.

Each runs as the benchmark runs it: in a forked child with its own scratch folder, umask,
patches and memory limit (``tests/reliability/_hostile.py``).
"""

from __future__ import annotations

import sys

import pytest

from .conftest import load_helper

hostile = load_helper("_hostile")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks, /proc, tmpfs"),
]


@pytest.mark.parametrize("name", list(hostile.CASES))
def test_hostile_case_is_refused_as_promised(tmp_path, name):
    outcome = hostile.run(name, tmp_path)
    assert outcome["passed"], f"{hostile.CASES[name].given}: {outcome['result']}"


def test_a_case_that_is_accepted_is_reported_as_not_as_promised(tmp_path, monkeypatch):
    def accepts(work):
        return hostile.expect_refused("DataError", lambda: None)

    monkeypatch.setitem(hostile.CASES, "accepted", hostile.Case("t", "x", "DataError", accepts))
    outcome = hostile.run("accepted", tmp_path)
    assert outcome == {
        "passed": False,
        "result": "not as promised: accepted",
        "seconds": outcome["seconds"],
    }
