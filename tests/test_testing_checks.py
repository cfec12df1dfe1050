"""core.testing.checks: the docs, example-config and torch-free checks plugins' tests share;
core.testing.processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.schema import ComponentConfig, Field, runtime
from core.testing.checks import (
    check_config_reference,
    check_example_config,
    check_listing_is_torch_free,
    config_table,
    run_python_blocks,
)
from core.testing.processes import check_tool_dies_with, gone_within, running

REPO = Path(__file__).resolve().parents[1]


class DemoConfig(ComponentConfig):
    width: int = Field(8, ge=1, le=64, description="channels")
    scale: float = runtime(1.0, gt=0, description="output scale")


def test_config_table_has_types_defaults_bounds_and_kinds():
    table = config_table(DemoConfig).splitlines()
    assert table[2] == "| `width` | int | `8` | >= 1, <= 64 | structural | channels |"
    assert table[3] == "| `scale` | float | `1.0` | > 0 | runtime | output scale |"


def test_config_reference_names_the_table_to_update(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("intro\n\n" + config_table(DemoConfig) + "\n")
    check_config_reference(page, DemoConfig)
    page.write_text("intro\n")
    with pytest.raises(AssertionError, match="update the DemoConfig table"):
        check_config_reference(page, DemoConfig)


def test_python_blocks_run_in_order_in_one_namespace(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nx = 2\n```\n\n```bash\nexit 1\n```\n\n```python\nassert x == 2\n```\n"
    )
    assert run_python_blocks(page) == 2
    page.write_text("```python\nassert False, 'broken example'\n```\n")
    with pytest.raises(AssertionError, match="broken example"):
        run_python_blocks(page)


def test_example_config_is_built_and_checked_against_its_data(tmp_path):
    model = check_example_config(REPO / "plugins" / "core-gan" / "configs" / "dcgan.yaml")
    assert model.sample_range == (-1.0, 1.0)
    bad = tmp_path / "bad.yaml"
    text = (REPO / "plugins" / "core-gan" / "configs" / "dcgan.yaml").read_text()
    bad.write_text(text.replace("value_range: [-1, 1]", "value_range: [0, 1]"))
    with pytest.raises(AssertionError, match="data.value_range"):
        check_example_config(bad)


def test_listing_torch_free_passes_for_a_builtin_and_names_a_failure():
    check_listing_is_torch_free("dataset", "toy2d")
    with pytest.raises(AssertionError, match="not listed"):
        check_listing_is_torch_free("dataset", "no-such-dataset")


def test_one_torch_thread_fixture_runs_the_test_on_one_thread(one_torch_thread):
    import torch

    assert torch.get_num_threads() == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_running_is_false_for_a_zombie_and_gone_within_waits_for_the_end():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    assert running(child.pid) and running(os.getpid())
    assert not gone_within([child.pid], 0.0)
    assert gone_within([child.pid], 10.0)  # exited, not yet reaped: a zombie is not running
    child.wait()
    assert not running(child.pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_check_tool_dies_with_names_a_tool_that_outlives_the_kill(tmp_path):
    pids = tmp_path / "pids"
    code = (
        "import subprocess, sys, time\n"
        "tool = subprocess.Popen(['sleep', '30'], start_new_session=True)\n"  # not in its group
        "open(sys.argv[1], 'w').write(str(tool.pid))\n"
        "time.sleep(30)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(pids)])
    with pytest.raises(AssertionError, match=r"still running 0.2 s after kill -9: \[\d+\]"):
        check_tool_dies_with(process, pids, seconds=0.2)
    assert process.returncode is not None
    assert gone_within([int(pids.read_text())], 10.0), "the check leaves no tool behind"
