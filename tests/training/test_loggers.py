"""train.loggers in the Trainer and core evaluate: what is logged, and failures at the start only."""

from __future__ import annotations

import json

import pytest

import core
from core.errors import ConfigError, TrainingError
from core.loggers import RunLoggers
from core.training import Trainer

from .conftest import tiny_run

RECORDER = """
import json
from pathlib import Path

from core.loggers import Logger


class Recorder(Logger):
    calls = []

    def open(self, run_dir, config, *, resume_step=0):
        Recorder.calls.append(("open", resume_step, config["train"]["lr"]))

    def log_scalars(self, values, step):
        Recorder.calls.append(("scalars", step, sorted(values)))

    def log_image(self, tag, path, step):
        Recorder.calls.append(("image", step, tag, Path(path).is_file()))

    def close(self):
        Recorder.calls.append(("close",))


class Unreachable(Logger):
    def open(self, run_dir, config, *, resume_step=0):
        raise ConnectionError("tracking server http://127.0.0.1:9 refused the connection")

    def log_scalars(self, values, step):
        raise AssertionError("never called")


class FlakyLater(Logger):
    def log_scalars(self, values, step):
        if step >= 4:
            raise OSError("disk full")
"""


@pytest.fixture
def loggers_plugin(tiny, tmp_plugin, tmp_path, monkeypatch):
    (tmp_path / "test_logger_mod.py").write_text(RECORDER)
    monkeypatch.syspath_prepend(str(tmp_path))

    def register_loggers(register):
        for name in ("recorder", "unreachable", "flaky-later"):
            cls = "".join(part.capitalize() for part in name.split("-"))
            register(name, f"test_logger_mod:{cls}")

    tmp_plugin(register_loggers=register_loggers, name="test-loggers")
    import test_logger_mod

    test_logger_mod.Recorder.calls.clear()
    return test_logger_mod


def toy_run(loggers, steps=6, **train):
    return tiny_run(
        samples=8, **{"steps": steps, "batch_size": 16, "log_every": 2, **train}, loggers=loggers
    )


def test_loggers_get_config_scalars_images_and_close(loggers_plugin, tmp_path):
    Trainer(toy_run(["recorder", "jsonl"]), run_dir=tmp_path / "r", quiet=True).fit()
    calls = loggers_plugin.Recorder.calls
    assert calls[0] == ("open", 0, 2e-4)  # the resolved config: train.lr's default filled in
    scalars = [c for c in calls if c[0] == "scalars"]
    assert [c[1] for c in scalars] == [2, 4, 6]
    assert {"loss", "lr", "samples_per_s", "epoch", "grad_norm"} <= set(scalars[0][2])
    assert ("image", 6, "samples", True) in calls and calls[-1] == ("close",)
    lines = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [2, 4, 6]


def test_no_loggers_writes_no_metrics_file(tiny, tmp_path):
    Trainer(toy_run([]), run_dir=tmp_path / "r", quiet=True).fit()
    assert not (tmp_path / "r" / "metrics.jsonl").exists()
    assert (tmp_path / "r" / "final").is_dir()


def test_a_logger_that_cannot_start_fails_the_run_at_once_and_leaves_nothing(
    loggers_plugin, tmp_path
):
    trainer = Trainer(toy_run(["jsonl", "unreachable"]), run_dir=tmp_path / "r", quiet=True)
    with pytest.raises(TrainingError, match=r"^logger 'unreachable' cannot start: tracking serv"):
        trainer.fit()
    assert not (tmp_path / "r").exists()


def test_a_logger_failing_mid_run_is_dropped_with_one_warning(loggers_plugin, tmp_path, capsys):
    Trainer(toy_run(["flaky-later", "jsonl"]), run_dir=tmp_path / "r", quiet=True).fit()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        "warning: logger 'flaky-later' failed at step 4 (OSError: disk full); "
        "the run goes on without it"
    ]
    lines = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3 and (tmp_path / "r" / "final").is_dir()


def test_unknown_or_repeated_loggers_are_config_errors_before_anything_is_written(tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"train.loggers\[1\].type: unknown logger 'jsnl'"):
        Trainer(toy_run(["jsonl", "jsnl"]), run_dir=tmp_path / "r", quiet=True)
    with pytest.raises(ConfigError, match="jsonl given more than once"):
        Trainer(toy_run(["jsonl", {"type": "jsonl"}]), run_dir=tmp_path / "r", quiet=True)
    assert not (tmp_path / "r").exists()


def test_resume_continues_the_loggers_from_the_checkpoint(loggers_plugin, tmp_path):
    run = toy_run(["recorder", "jsonl"], steps=8, checkpoint_every=4)
    Trainer(run, run_dir=tmp_path / "r", quiet=True).fit(stop_at=6)
    loggers_plugin.Recorder.calls.clear()
    Trainer(run, run_dir=tmp_path / "r", quiet=True, resume=True).fit()
    assert loggers_plugin.Recorder.calls[0] == ("open", 6, 2e-4)
    steps = [json.loads(x)["step"] for x in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]


def test_only_the_main_process_logs(loggers_plugin, tmp_path):
    from test_logger_mod import Recorder

    silent = RunLoggers([("recorder", core.build("logger", {"type": "recorder"}))], enabled=False)
    silent.open(tmp_path, {"train": {"lr": 1}})
    silent.log_scalars({"loss": 1.0}, 1)
    silent.close()
    assert Recorder.calls == []


def test_evaluate_logs_the_metric_to_the_runs_loggers(tiny, tmp_path):
    from core.metrics.evaluate import evaluate_model

    run = toy_run(["jsonl"], steps=4)
    Trainer(run, run_dir=tmp_path / "r", quiet=True).fit()
    result = evaluate_model(str(tmp_path / "r"), metric="sliced-wasserstein", n=32, log=True)
    last = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 4
    assert last["eval/sliced-wasserstein"] == pytest.approx(result["value"])
    assert "eval/sliced-wasserstein/floor" in last


def test_one_grid_per_step_reaches_the_loggers(loggers_plugin, tmp_path):
    Trainer(toy_run(["recorder"], sample_every=3), run_dir=tmp_path / "r", quiet=True).fit()
    images = [c for c in loggers_plugin.Recorder.calls if c[0] == "image"]
    assert [c[1] for c in images] == [3, 6]
    assert (tmp_path / "r" / "samples_6.png").is_file() and (tmp_path / "r/samples.png").is_file()
