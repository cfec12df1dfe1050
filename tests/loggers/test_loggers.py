"""Core's tracking loggers as components: conformance, registration, failures at the start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.building import build
from core.errors import TrainingError
from core.loggers import RunLoggers, build_loggers
from core.testing import check_component


@pytest.fixture(autouse=True)
def _file_store_flag_unset(monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)


@pytest.mark.parametrize("name", ["jsonl", "tensorboard", "mlflow"])
def test_conformance(name):
    report = check_component("logger", name)
    assert "logger-lifecycle" in report.checks


def test_listed_and_described_without_importing_torch_or_the_trackers():
    code = (
        "import sys; from core.building import get_entry, list_components\n"
        "names = list_components('logger')\n"
        "fields = [sorted(get_entry('logger', n).load_config().model_fields) "
        "for n in ('tensorboard', 'mlflow')]\n"
        "heavy = [m for m in ('torch', 'tensorboard', 'mlflow') if m in sys.modules]\n"
        "print({'jsonl', 'tensorboard', 'mlflow'} <= set(names), fields, heavy)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip() == (
        "True [['flush_secs', 'hparam_metrics', 'log_dir'], "
        "['connect_timeout_s', 'experiment', 'tracking_uri']] []"
    )


@pytest.mark.parametrize(
    ("name", "package"), [("tensorboard", "tensorboard"), ("mlflow", "mlflow-skinny")]
)
def test_a_missing_package_stops_the_run_at_the_start_in_one_line(
    name, package, run_dir, run_config, monkeypatch
):
    monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(TrainingError) as failure:
        build("logger", {"type": name}).open(run_dir, run_config)
    assert str(failure.value) == (
        f"the {name} logger needs the package '{package}': pip install 'core[{name}]'"
    )
    loggers = RunLoggers(build_loggers(["jsonl", name]))
    with pytest.raises(TrainingError) as failure:
        loggers.open(run_dir, run_config)
    message = str(failure.value)
    assert message.startswith(f"logger '{name}' cannot start: the {name} logger needs")
    assert message.endswith(f"pip install 'core[{name}]'")
    assert "\n" not in message
    assert not (run_dir / name).exists()
