"""No logger writes a file the run owns: ``train.loggers`` is checked when the config is
validated, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.cli import main
from core.config import Config
from core.errors import ConfigError
from core.training.trainer import validate_run_config

RUN = {
    "model": {"type": "tiny", "dim": 2},
    "data": {"type": "toy2d", "size": 64},
    "train": {"steps": 2, "batch_size": 16},
}


#: a run that trains (a DDPM over a small MLP on toy points) for the end-to-end cases.
TRAINABLE = {
    "model": {
        "type": "ddpm",
        "timesteps": 4,
        "data_dim": 2,
        "network": {"type": "mlp-denoiser", "hidden_dim": 8, "num_timesteps": 4},
    },
    "data": {"type": "toy2d", "size": 32},
    "train": {"steps": 2, "batch_size": 16, "checkpoint_every": 2, "log_every": 1},
    "sample": {"n": 4},
}


def _validate(loggers: list) -> None:
    validate_run_config(Config({**RUN, "train": {**RUN["train"], "loggers": loggers}}))


@pytest.mark.parametrize(
    ("loggers", "message"),
    [
        (
            [{"type": "jsonl", "filename": "config.yaml"}],
            "'config.yaml', which is the run's config",
        ),
        ([{"type": "jsonl", "filename": "CONFIG.YAML"}], "which is the run's config"),
        ([{"type": "jsonl", "filename": ".lock"}], "which is a hidden name"),
        ([{"type": "jsonl", "filename": "final"}], "which is the run's final model"),
        ([{"type": "jsonl", "filename": "checkpoints"}], "which is the run's checkpoints"),
        ([{"type": "jsonl", "filename": "samples.png"}], "which is a sample grid of the run"),
        ([{"type": "jsonl", "filename": "samples_200.png"}], "which is a sample grid"),
        ([{"type": "jsonl", "filename": "loss.png"}], "which is the run's loss curve"),
        ([{"type": "jsonl", "filename": "eval_fid_seed0.json"}], "an evaluation record"),
        ([{"type": "jsonl", "filename": ".."}], "'..', which leaves the run directory"),
        ([{"type": "jsonl", "filename": "."}], "'.', which is the run directory itself"),
        (
            ["jsonl", {"type": "tensorboard", "log_dir": "metrics.jsonl"}],
            "train.loggers[1]: logger 'tensorboard' writes 'metrics.jsonl', which is also "
            "written by logger 'jsonl' (train.loggers[0])",
        ),
        ([{"type": "tensorboard", "log_dir": "x/../final"}], "which is the run's final model"),
        ([{"type": "tensorboard", "log_dir": "checkpoints/tb"}], "the run's checkpoints"),
        ([{"type": "mlflow", "tracking_uri": "config.yaml"}], "which is the run's config"),
        (
            [{"type": "jsonl", "filename": "mlflow_run_id"}, "mlflow"],
            "'mlflow_run_id', which is also written by logger 'jsonl'",
        ),
        (
            [{"type": "jsonl", "filename": "mlflow.db"}, "mlflow"],
            "'mlflow.db', which is also written by logger 'jsonl'",
        ),
        (
            [{"type": "tensorboard", "log_dir": "mlartifacts"}, "mlflow"],
            "'mlartifacts', which is also written by logger 'tensorboard'",
        ),
    ],
)
def test_a_logger_writing_a_file_the_run_owns_is_refused(loggers, message):
    with pytest.raises(ConfigError, match="a logger may not|give it a file name") as exc:
        _validate(loggers)
    text = str(exc.value)
    assert message in text and "\n" not in text


@pytest.mark.parametrize(
    "loggers",
    [
        ["jsonl"],
        [{"type": "jsonl", "filename": "scalars.jsonl"}, "tensorboard"],
        [{"type": "tensorboard", "log_dir": "/tmp/shared-tensorboard"}],  # used as given
        [{"type": "mlflow", "tracking_uri": "../mlruns"}],  # one store for every run
        [{"type": "mlflow", "tracking_uri": "sqlite:///mlflow.db"}],
        ["jsonl", "tensorboard", "mlflow"],
    ],
)
def test_loggers_with_files_of_their_own_are_accepted(loggers):
    _validate(loggers)


def test_core_train_refuses_it_before_writing_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("run.yaml").write_text(yaml.safe_dump(RUN))
    code = main(["train", "run.yaml", "train.loggers=[{type: jsonl, filename: config.yaml}]"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: <command line>: train.loggers[0]: logger 'jsonl' writes 'config.yaml', which is "
        "the run's config; give it a file name of its own in the run directory"
    ]
    assert not Path("runs").exists()


@pytest.mark.parametrize(
    ("logger", "message"),
    [
        ("{type: tensorboard, log_dir: RUN/final}", "which is the run's final model"),
        ("{type: tensorboard, log_dir: RUN/checkpoints/tb}", "which is the run's checkpoints"),
        ("{type: tensorboard, log_dir: LINK/final}", "which is the run's final model"),
        ("{type: mlflow, tracking_uri: 'file://RUN/checkpoints'}", "the run's checkpoints"),
        ("{type: mlflow, tracking_uri: 'sqlite:///RUN/final/m.db'}", "the run's final model"),
    ],
)
def test_an_absolute_path_into_the_run_is_refused_once_the_run_is_known(
    tmp_path, monkeypatch, capsys, logger, message
):
    monkeypatch.chdir(tmp_path)
    Path("run.yaml").write_text(yaml.safe_dump(TRAINABLE))
    run = tmp_path / "runs" / "cc"
    (tmp_path / "link").symlink_to(tmp_path / "runs")  # a link into the runs folder
    logger = logger.replace("RUN", str(run)).replace("LINK", str(tmp_path / "link" / "cc"))
    code = main(["train", "run.yaml", f"train.loggers=[{logger}]", "--run-name", "cc", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert message in err and "\n" not in err
    assert not run.exists()


def test_an_absolute_path_of_its_own_inside_the_run_is_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("run.yaml").write_text(yaml.safe_dump(TRAINABLE))
    log_dir = tmp_path / "runs" / "cc" / "tb"
    loggers = f"train.loggers=[{{type: tensorboard, log_dir: {log_dir}}}]"
    assert main(["train", "run.yaml", loggers, "--run-name", "cc", "-q"]) == 0
    assert any(log_dir.iterdir())
