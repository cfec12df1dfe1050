"""``core train`` / ``--resume`` / ``core evaluate`` with jsonl, tensorboard and mlflow, read back
with each library's own reader."""

from __future__ import annotations

import json

import pytest
import yaml
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from core.cli import main

from .conftest import tiny_run


@pytest.fixture(autouse=True)
def _file_store_flag_unset(monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)


#: steps logged (log_every 2) and sampled (sample_every 3), each plus the last step.
LOGGED, SAMPLED = [2, 4, 6, 7], [3, 4, 6, 7]


def test_train_resume_and_evaluate_reach_every_tracker(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    loggers = ["jsonl", "tensorboard", {"type": "mlflow"}]
    train = dict(steps=4, batch_size=32, log_every=2, sample_every=3, loggers=loggers)
    config = tiny_run(size=128, samples=32, **train)
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "toy.yaml", "--run-name", "r", "--quiet"]) == 0
    run = tmp_path / "runs" / "r"
    first_run_id = (run / "mlflow_run_id").read_text().strip()
    assert main(["train", "--resume", str(run), "train.steps=7", "--quiet"]) == 0
    metric = [
        "evaluate",
        str(run),
        "--metric",
        "sliced-wasserstein",
        "-n",
        "100",
        "--json",
        "--log",
    ]
    assert main(metric) == 0
    assert "warning" not in capsys.readouterr().err  # no logger was dropped on the way

    jsonl = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in jsonl] == [*LOGGED, 7]
    evaluated = jsonl[-1]["eval/sliced-wasserstein"]

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("loss")] == LOGGED
    assert {"lr", "grad_norm", "samples_per_s", "epoch", "time"} <= set(events.Tags()["scalars"])
    assert [image.step for image in events.Images("samples")] == SAMPLED
    (fid,) = events.Scalars("eval/sliced-wasserstein")
    assert (fid.step, fid.value) == (7, pytest.approx(evaluated))

    client = MlflowClient(tracking_uri=f"sqlite:///{run}/mlflow.db")  # no file-store flag
    assert (run / "mlflow_run_id").read_text().strip() == first_run_id
    (experiment,) = [e for e in client.search_experiments() if e.name == "r"]
    (mlflow_run,) = client.search_runs([experiment.experiment_id])
    assert mlflow_run.info.run_id == first_run_id
    assert mlflow_run.info.status == "FINISHED"
    assert mlflow_run.data.params["train.steps"] == "4"  # params keep the first start's config
    assert mlflow_run.data.params["model.type"] == "tiny-denoiser"
    history = client.get_metric_history(first_run_id, "loss")
    assert [m.step for m in history] == LOGGED
    (value,) = client.get_metric_history(first_run_id, "eval/sliced-wasserstein")
    assert (value.step, value.value) == (7, pytest.approx(evaluated))
    (floor,) = client.get_metric_history(first_run_id, "eval/sliced-wasserstein/floor")
    assert floor.step == 7
    artifacts = [a.path for a in client.list_artifacts(first_run_id, "samples")]
    assert artifacts == [f"samples/step-{step:07d}.png" for step in SAMPLED]
