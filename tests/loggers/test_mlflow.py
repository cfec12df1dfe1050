"""The mlflow logger, read back with MLflow's own MlflowClient."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from core.building import build
from core.errors import TrainingError
from core.loggers.mlflow import ARTIFACTS_DIR, DATABASE_FILE, RUN_ID_FILE


@pytest.fixture(autouse=True)
def _file_store_flag_unset(monkeypatch):
    """The logger itself must allow MLflow's file store (restored after each test)."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)


def _client(run_dir: Path) -> MlflowClient:
    """MLflow's own client on the run's default store, the SQLite database in the run."""
    return MlflowClient(tracking_uri=f"sqlite:///{run_dir / DATABASE_FILE}")


def _stored_run_id(run_dir: Path) -> str:
    return (run_dir / RUN_ID_FILE).read_text().strip()


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def test_metrics_params_and_image_read_back(run_dir, grid, run_config, tmp_path):
    path, _ = grid
    logger = build("logger", {"type": "mlflow"})
    logger.open(run_dir, run_config)
    run_id = logger.run_id
    logger.log_scalars({"loss": 0.5, "eval/feature-fid": 12.0}, 1)
    logger.log_scalars({"loss": 0.25}, 2)
    logger.log_image("samples", path, 2)
    logger.close()

    client = _client(run_dir)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "digits-run"
    assert client.get_experiment(run.info.experiment_id).name == "digits-run"
    assert _history(client, run_id, "loss") == [(1, 0.5), (2, 0.25)]
    assert _history(client, run_id, "eval/feature-fid") == [(1, 12.0)]
    params = run.data.params
    assert params["train.lr"] == "0.001"
    assert params["model.unet.channels"] == "[32, 64]"
    assert params["train.amp"] == "false"
    assert params["train.loggers"] == '["jsonl"]'
    assert [a.path for a in client.list_artifacts(run_id, "samples")] == [
        "samples/step-0000002.png"
    ]
    local = client.download_artifacts(run_id, "samples/step-0000002.png", str(tmp_path))
    assert Path(local).read_bytes() == path.read_bytes()
    assert (run_dir / RUN_ID_FILE).read_text() == run_id + "\n"


def test_the_default_store_is_a_sqlite_database_read_without_the_file_store_flag(
    run_dir, grid, run_config, tmp_path, monkeypatch, capfd
):
    monkeypatch.chdir(tmp_path)  # MLflow's own default would put artifacts in ./mlruns here
    logger = build("logger", {"type": "mlflow"})
    logger.open(run_dir, run_config)
    logger.log_scalars({"loss": 1.0, "loss/kl": 0.25}, 1)
    logger.log_image("samples", grid[0], 1)
    logger.close()
    assert "database tables" not in capfd.readouterr().err  # MLflow's setup lines kept quiet
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        [ARTIFACTS_DIR, DATABASE_FILE, RUN_ID_FILE, "samples.png"]
    )
    assert not (tmp_path / "mlruns").exists()
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir}/mlflow.db")
    run = client.get_run(_stored_run_id(run_dir))
    assert run.info.status == "FINISHED"
    assert _history(client, run.info.run_id, "loss/kl") == [(1, 0.25)]  # no file-store dots
    assert run.info.artifact_uri.startswith((run_dir / ARTIFACTS_DIR).as_uri() + "/")
    (image,) = (run_dir / ARTIFACTS_DIR).rglob("step-0000001.png")
    assert image.read_bytes() == grid[0].read_bytes()


def test_a_run_begun_with_the_file_store_keeps_it_on_resume(run_dir, run_config):
    logger = build("logger", {"type": "mlflow", "tracking_uri": "mlruns"})
    logger.open(run_dir, run_config)
    first = logger.run_id
    logger.log_scalars({"loss": 1.0}, 1)
    logger.close()
    resumed = build("logger", {"type": "mlflow"})  # the default, as in the run's config
    resumed.open(run_dir, run_config, resume_step=1)
    assert resumed.run_id == first
    resumed.log_scalars({"loss": 0.5}, 2)
    resumed.close()
    assert not (run_dir / DATABASE_FILE).exists()
    client = MlflowClient(tracking_uri=(run_dir / "mlruns").as_uri())
    assert _history(client, first, "loss") == [(1, 1.0), (2, 0.5)]


def test_a_database_store_without_sqlalchemy_stops_in_one_line(run_dir, run_config, monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(TrainingError) as failure:
        build("logger", {"type": "mlflow"}).open(run_dir, run_config)
    assert str(failure.value) == (
        "the mlflow logger's sqlite store needs the packages 'sqlalchemy' and 'alembic': "
        "pip install 'core[mlflow]'"
    )
    assert not (run_dir / RUN_ID_FILE).exists()


@pytest.mark.parametrize(
    ("given", "paths"),
    [
        (None, [RUN_ID_FILE, DATABASE_FILE, ARTIFACTS_DIR]),
        ("mlruns", [RUN_ID_FILE, "mlruns"]),
        ("../mlruns", [RUN_ID_FILE]),
        ("sqlite:////srv/x/mlflow.db", [RUN_ID_FILE, "/srv/x/mlflow.db", "/srv/x/mlartifacts"]),
        ("sqlite:///mlflow.db", [RUN_ID_FILE]),  # in the working directory, not the run
        ("http://127.0.0.1:5000", [RUN_ID_FILE]),
    ],
)
def test_run_paths_name_the_local_store(given, paths):
    assert build("logger", {"type": "mlflow", "tracking_uri": given}).run_paths() == paths


def test_long_values_are_truncated_and_odd_keys_replaced(run_dir):
    logger = build("logger", {"type": "mlflow"})
    logger.open(run_dir, {"data": {"items": list(range(3000)), "weird key!": 1}})
    logger.close()
    params = _client(run_dir).get_run(_stored_run_id(run_dir)).data.params
    assert len(params["data.items"]) == 6000
    assert params["data.items"].startswith("[0, 1, 2") and params["data.items"].endswith("...")
    assert params["data.weird key_"] == "1"


def test_resume_continues_the_same_run(run_dir, run_config):
    logger = build("logger", {"type": "mlflow"})
    logger.open(run_dir, run_config)
    first = logger.run_id
    logger.log_scalars({"loss": 1.0}, 1)
    logger.log_scalars({"loss": 0.5}, 2)
    logger.close()
    resumed = {**run_config, "sample": {"n": 16}}
    logger.open(run_dir, resumed, resume_step=2)
    assert logger.run_id == first
    logger.log_scalars({"loss": 0.25}, 3)
    logger.close()

    client = _client(run_dir)
    assert _history(client, first, "loss") == [(1, 1.0), (2, 0.5), (3, 0.25)]
    run = client.get_run(first)
    assert run.info.status == "FINISHED"
    assert run.data.params["sample.n"] == "16"
    experiment = run.info.experiment_id
    assert len(client.search_runs([experiment])) == 1


def test_a_fresh_start_in_the_same_directory_is_a_new_run(run_dir, run_config):
    logger = build("logger", {"type": "mlflow"})
    logger.open(run_dir, run_config)
    first = logger.run_id
    logger.close()
    logger.open(run_dir, run_config)
    second = logger.run_id
    logger.close()
    assert second != first
    assert _stored_run_id(run_dir) == second


def test_resume_of_a_missing_run_names_the_id_file(run_dir, run_config):
    (run_dir / RUN_ID_FILE).write_text("0123456789abcdef0123456789abcdef\n")
    logger = build("logger", {"type": "mlflow"})
    with pytest.raises(TrainingError) as failure:
        logger.open(run_dir, run_config, resume_step=5)
    message = str(failure.value)
    assert "\n" not in message
    assert str(run_dir / RUN_ID_FILE) in message
    assert "0123456789abcdef0123456789abcdef" in message
    assert "delete the file" in message


def test_two_runs_in_one_process_keep_apart(tmp_path, run_config):
    dirs = [tmp_path / "a", tmp_path / "b"]
    loggers = [build("logger", {"type": "mlflow", "tracking_uri": "../mlruns"}) for _ in dirs]
    for logger, run_dir in zip(loggers, dirs):
        run_dir.mkdir()
        logger.open(run_dir, run_config)
    for step in (1, 2):
        for index, logger in enumerate(loggers):
            logger.log_scalars({"loss": 10.0 * index + step}, step)
    ids = [logger.run_id for logger in loggers]
    for logger in loggers:
        logger.close()

    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    assert _history(client, ids[0], "loss") == [(1, 1.0), (2, 2.0)]
    assert _history(client, ids[1], "loss") == [(1, 11.0), (2, 12.0)]
    names = {client.get_experiment(client.get_run(i).info.experiment_id).name for i in ids}
    assert names == {"a", "b"}


def test_experiment_and_tracking_uri_are_configurable(run_dir, run_config, tmp_path):
    store = tmp_path / "shared-store"
    logger = build(
        "logger", {"type": "mlflow", "tracking_uri": store.as_uri(), "experiment": "digits"}
    )
    logger.open(run_dir, run_config)
    run_id = logger.run_id
    logger.close()
    client = MlflowClient(tracking_uri=store.as_uri())
    assert client.get_experiment(client.get_run(run_id).info.experiment_id).name == "digits"
    assert not (run_dir / "mlruns").exists() and not (run_dir / DATABASE_FILE).exists()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_fails_in_open_quickly_with_one_line(run_dir, run_config):
    uri = f"http://127.0.0.1:{_closed_port()}"
    logger = build("logger", {"type": "mlflow", "tracking_uri": uri})
    start = time.monotonic()
    with pytest.raises(TrainingError) as failure:
        logger.open(run_dir, run_config)
    assert time.monotonic() - start < 10
    message = str(failure.value)
    assert message.startswith(f"cannot reach the MLflow tracking server at {uri} (")
    assert "\n" not in message
    assert not (run_dir / RUN_ID_FILE).exists()


def test_a_password_in_the_uri_is_not_shown(run_dir, run_config):
    port = _closed_port()
    uri = f"https://ci:s3cret@127.0.0.1:{port}/mlflow"
    logger = build("logger", {"type": "mlflow", "tracking_uri": uri})
    with pytest.raises(TrainingError) as failure:
        logger.open(run_dir, run_config)
    message = str(failure.value)
    assert f"https://ci:***@127.0.0.1:{port}/mlflow" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "sqlite:///{path}/mlflow.db"),
        ("mlruns", "{run}/mlruns"),
        ("../mlruns", "{parent}/mlruns"),
        ("databricks", "databricks"),
        ("sqlite:///tmp/mlflow.db", "sqlite:///tmp/mlflow.db"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ],
)
def test_tracking_uri_resolution(given, expected, run_dir):
    logger = build("logger", {"type": "mlflow", "tracking_uri": given})
    expected = expected.format(
        run=run_dir.as_uri(), parent=run_dir.parent.as_uri(), path=run_dir.resolve()
    )
    assert logger.tracking_uri(run_dir) == expected


def test_nested_metric_names_keep_logging_in_a_file_store(run_dir, run_config):
    logger = build("logger", {"type": "mlflow", "tracking_uri": "mlruns"})
    logger.open(run_dir, run_config)
    assert os.environ["MLFLOW_ALLOW_FILE_STORE"] == "true"  # set for itself
    logger.log_scalars({"loss": 1.0, "loss/kl": 0.25}, 1)
    logger.close()
    logger.open(run_dir, run_config, resume_step=1)
    logger.log_scalars({"loss/kl": 0.5, "loss": 2.0}, 2)
    logger.close()
    client = MlflowClient(tracking_uri=(run_dir / "mlruns").as_uri())
    run_id = _stored_run_id(run_dir)
    assert _history(client, run_id, "loss") == [(1, 1.0), (2, 2.0)]
    assert _history(client, run_id, "loss.kl") == [(1, 0.25), (2, 0.5)]
