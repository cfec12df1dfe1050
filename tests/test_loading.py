"""The one loader (core.loading): every source form, one override policy, run folders as data,
and ``core evaluate`` that reads a run without rewriting it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml

import core
from core import BaseModel, ComponentConfig
from core.cli import main
from core.errors import AtomicWriteError, ConfigError, TrainingError
from core.loading import load_model, locate, read_run_config
from core.loggers import Logger
from core.schema import Field, runtime
from core.training import Trainer

STRUCTURAL = r"cannot override structural parameter 'width' \(saved 3, given 4\)"


class PointsConfig(ComponentConfig):
    width: int = Field(8, ge=1, description="hidden width")
    temperature: float = runtime(1.0, gt=0, description="scales the samples")


class Points(BaseModel):
    """A tiny generative model of 2-D points."""

    config_class = PointsConfig

    def __init__(self, config=None, /, **overrides):
        super().__init__(config, **overrides)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2, self.config.width),
            torch.nn.Tanh(),
            torch.nn.Linear(self.config.width, 2),
        )

    def forward(self, x):
        return self.net(x)

    def compute_loss(self, batch):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return {"loss": torch.nn.functional.mse_loss(self(x), x)}

    @torch.no_grad()
    def sample(self, n, **kwargs):
        z = torch.randn(n, 2, device=self.device, generator=kwargs.get("generator"))
        return self(z) * self.config.temperature


class RecorderConfig(ComponentConfig):
    experiment: str = Field("", description="a name a tracker would use")


class Recorder(Logger):
    """Records how it was opened (the class keeps the calls)."""

    config_class = RecorderConfig
    calls: list = []

    def open(self, run_dir, config, *, resume_step=0):
        Recorder.calls.append(("open", resume_step, self.config.experiment))

    def append_to(self, run_dir, config, step):
        Recorder.calls.append(("append_to", step, self.config.experiment))

    def log_scalars(self, values, step):
        Recorder.calls.append(("scalars", step, sorted(values)))


class Refuses(Logger):
    def append_to(self, run_dir, config, step):
        raise ConnectionError("tracking server refused the connection")

    def log_scalars(self, values, step):
        raise AssertionError("never called")


@pytest.fixture
def points(core_manager, tmp_path, monkeypatch):
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    registry = core_manager.registry
    registry.register("model", "points", Points, config=PointsConfig, plugin="t")
    registry.register("logger", "recorder", Recorder, config=RecorderConfig, plugin="t")
    registry.register("logger", "refuses", Refuses, plugin="t")
    Recorder.calls = []
    return Points


def trained_run(tmp_path: Path, steps: int = 4, **train) -> Path:
    """A trained run (checkpoints every 2 steps, final/) of the points model."""
    config = {
        "model": {"type": "points", "width": 3},
        "data": {"type": "toy2d", "size": 64},
        "train": {"steps": steps, "batch_size": 16, "log_every": 1, "checkpoint_every": 2, **train},
        "sample": {"n": 8},
    }
    Trainer(config, run_dir=tmp_path / "run", quiet=True).fit()
    return tmp_path / "run"


def edit_run_config(run: Path, change) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    change(config)
    (run / "config.yaml").write_text(yaml.safe_dump(config))


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and mtime (nanoseconds)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


def same_weights(a, b) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


# -- every source form ----------------------------------------------------------------------


def test_every_source_form_loads_the_same_weights(points, tmp_path):
    torch.manual_seed(0)
    model = Points(width=3)
    model.save_pretrained(tmp_path / "plain", name="pts")
    core.save_to_pretrained(model, "pts")
    run = tmp_path / "run"
    (run / "checkpoints" / "step_5").mkdir(parents=True)
    core.save_weights(model, run / "checkpoints" / "step_5" / "model.safetensors")
    (run / "checkpoints" / "step_5" / "state.json").write_text('{"step": 5}')
    (run / "config.yaml").write_text("model: {type: points, width: 3}\ndata: {type: toy2d}\n")
    model.save_pretrained(run / "final", name="points")

    sources = [
        run,
        run / "checkpoints" / "step_5",
        run / "final",
        tmp_path / "plain",
        "pts",
        "points/pts",
        "points/pts/v1",
    ]
    for source in sources:
        loaded = load_model(source)
        assert isinstance(loaded, Points) and same_weights(loaded, model), source
        assert same_weights(BaseModel.from_pretrained(source), model), source
        assert same_weights(core.build_model(str(source)), model), source
    assert same_weights(load_model(run, raw=True), model)  # raw: the checkpoint's raw weights
    assert locate(run).label == "final (final/)"
    assert locate(run, raw=True).label == "model (step_5)"
    assert same_weights(core.load_pretrained("pts"), model)


def test_a_file_is_not_a_source(points, tmp_path):
    (tmp_path / "weights.safetensors").write_bytes(b"")
    with pytest.raises(core.WeightsError, match="not a folder"):
        load_model(tmp_path / "weights.safetensors")


def test_a_runs_final_or_checkpoint_linked_from_elsewhere_is_refused(points, tmp_path):
    run = trained_run(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(run / "final", elsewhere / "final")
    (run / "final").symlink_to(elsewhere / "final")
    with pytest.raises(core.WeightsError, match="final resolves outside"):
        load_model(run)
    (run / "final").unlink()
    shutil.copytree(run / "checkpoints" / "step_4", elsewhere / "step_9")
    (run / "checkpoints" / "step_9").symlink_to(elsewhere / "step_9")
    with pytest.raises(core.WeightsError, match="step_9/model.safetensors resolves outside"):
        load_model(run, raw=True)
    (run / "checkpoints" / "step_9").unlink()
    (run / "checkpoints" / "step_4" / "model.safetensors").unlink()
    (run / "checkpoints" / "step_4" / "model.safetensors").symlink_to(
        elsewhere / "step_9" / "model.safetensors"
    )
    with pytest.raises(core.WeightsError, match="resolves outside"):
        load_model(run, raw=True)


# -- one override policy ----------------------------------------------------------------------


def test_every_caller_applies_one_override_policy(points, tmp_path):
    torch.manual_seed(0)
    saved = Points(width=3)
    saved.save_pretrained(tmp_path / "m", name="m")
    core.save_to_pretrained(saved, "m")
    callers = {
        "load_model": lambda **o: load_model(tmp_path / "m", overrides=o),
        "from_pretrained": lambda **o: BaseModel.from_pretrained(tmp_path / "m", **o),
        "Points.from_pretrained": lambda **o: Points.from_pretrained(tmp_path / "m", **o),
        "build_model": lambda **o: core.build_model("m", overrides=o),
        "build_model pairs": lambda **o: core.build_model(
            "m", overrides=[f"{k}={v}" for k, v in o.items()]
        ),
        "load_pretrained": lambda **o: core.load_pretrained("m", **o),
    }
    for name, load in callers.items():
        warm = load(temperature=0.5)
        assert warm.config.temperature == 0.5 and same_weights(warm, saved), name
        assert load(width=3).config.width == 3, name  # structural, but equal to the saved value
        with pytest.raises(ConfigError, match=STRUCTURAL) as refused:
            load(width=4)
        message = str(refused.value)
        assert "\n" not in message and "runtime parameters: temperature" in message, name
    with pytest.raises(ConfigError, match="widht"):
        load_model(tmp_path / "m", overrides={"widht": 3})


def test_a_registered_model_of_another_class_is_refused(points, tmp_path):
    class Other(BaseModel):
        config_class = PointsConfig
        model_type = "other"

    Points(width=3).save_pretrained(tmp_path / "m", name="m")
    with pytest.raises(core.PretrainedError, match="holds a 'points' model, which is not a Other"):
        Other.from_pretrained(tmp_path / "m")


# -- run directories are data -----------------------------------------------------------------


def test_run_config_is_read_as_data(points, tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(
        "model: {type: points, width: 3}\n"
        "data: {type: toy2d, note: '${HOME}'}\n"
        "train: {loggers: [{type: mlflow, experiment: 'exp-${SECRET_TOKEN}'}]}\n"
    )
    config = read_run_config(run)
    assert config["data"]["note"] == "${HOME}"
    assert config["train"]["loggers"][0]["experiment"] == "exp-${SECRET_TOKEN}"

    (run / "config.yaml").write_text("_base_: ../other.yaml\nmodel: {type: points}\n")
    with pytest.raises(ConfigError, match="_base_ in a run directory's config is refused"):
        locate(run)


@pytest.mark.parametrize("shape", ["fifo", "folder", "50 MB", "link out"])
def test_a_hostile_run_config_is_refused_in_one_line(points, tmp_path, shape):
    run = tmp_path / "run"
    run.mkdir()
    target = run / "config.yaml"
    if shape == "fifo":
        os.mkfifo(target)  # opening it would block: it must be refused before
    elif shape == "folder":
        target.mkdir()
    elif shape == "50 MB":
        with open(target, "wb") as handle:
            handle.truncate(50 << 20)
    else:
        (tmp_path / "outside.yaml").write_text("model: {type: points}\n")
        target.symlink_to(tmp_path / "outside.yaml")
    with pytest.raises(ConfigError) as refused:
        locate(run)
    message = str(refused.value)
    assert "\n" not in message and "config.yaml" in message


# -- core evaluate reads the run --------------------------------------------------------------

EVALUATE = ["evaluate", "run", "--metric", "sliced-wasserstein", "-n", "16"]


def test_evaluate_keeps_a_killed_runs_metrics_byte_for_byte(points, tmp_path):
    run = trained_run(tmp_path)
    metrics = run / "metrics.jsonl"
    killed = metrics.read_bytes() + b'{"step": 5, "loss": 1.0}\n{"step": 6, "loss": 0.9}\n'
    metrics.write_bytes(killed)  # lines after the last checkpoint (step 4), as a kill leaves
    assert main(EVALUATE) == 0
    assert metrics.read_bytes() == killed

    assert main([*EVALUATE, "--log"]) == 0  # appends only
    after = metrics.read_bytes()
    assert after.startswith(killed)
    (added,) = after[len(killed) :].decode().splitlines()
    assert json.loads(added)["step"] == 4 and "eval/sliced-wasserstein" in json.loads(added)


def test_evaluate_opens_the_runs_loggers_only_with_log(points, tmp_path, monkeypatch):
    run = trained_run(tmp_path)
    monkeypatch.setenv("SECRET_TOKEN", "hunter2")
    recorder = {"type": "recorder", "experiment": "exp-${SECRET_TOKEN}"}
    edit_run_config(run, lambda c: c["train"].update(loggers=[recorder, "jsonl"]))
    Recorder.calls = []
    before = (run / "metrics.jsonl").read_bytes()
    assert main(EVALUATE) == 0
    assert Recorder.calls == [] and (run / "metrics.jsonl").read_bytes() == before
    assert main([*EVALUATE, "--log"]) == 0
    assert Recorder.calls[0] == ("append_to", 4, "exp-${SECRET_TOKEN}")  # appends; no expansion
    assert Recorder.calls[1] == (
        "scalars",
        4,
        ["eval/sliced-wasserstein", "eval/sliced-wasserstein/floor"],
    )


def test_evaluate_no_write_writes_nothing(points, tmp_path, capsys):
    run = trained_run(tmp_path)
    before = snapshot(run)
    assert main([*EVALUATE, "--no-write"]) == 0
    assert "sliced_wasserstein:" in capsys.readouterr().out
    assert snapshot(run) == before
    assert main([*EVALUATE, "--no-write", "--log"]) == 2
    assert "--no-write" in capsys.readouterr().err


def test_evaluate_prints_its_result_before_a_write_that_fails(
    points, tmp_path, monkeypatch, capsys
):
    import core.metrics.evaluate as evaluate

    run = trained_run(tmp_path)

    def refuse(path, text):
        raise AtomicWriteError(f"cannot write {path}: Read-only file system")

    monkeypatch.setattr(evaluate, "atomic_write_text", refuse)
    assert main(EVALUATE) == 2
    captured = capsys.readouterr()
    assert "sliced_wasserstein:" in captured.out and "Read-only file system" in captured.err
    assert main([*EVALUATE, "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["key"] == "sliced_wasserstein"
    assert not list(run.glob("eval_*.json"))


def test_evaluate_prints_its_result_before_a_logger_that_cannot_start(points, tmp_path, capsys):
    run = trained_run(tmp_path)
    edit_run_config(run, lambda c: c["train"].update(loggers=["refuses"]))
    assert main([*EVALUATE, "--log"]) == 2
    captured = capsys.readouterr()
    assert "sliced_wasserstein:" in captured.out and "wrote" in captured.out
    assert "logger 'refuses' cannot start" in captured.err
    assert list(run.glob("eval_*.json"))


def test_log_needs_a_run_and_a_logger_that_can_append(points, tmp_path, core_manager):
    run = trained_run(tmp_path)
    with pytest.raises(ConfigError, match="not a run directory"):
        core.metrics.evaluate_model(str(run / "final"), metric="sliced-wasserstein", n=8, log=True)

    class OldStyle(Logger):
        def open(self, run_dir, config, *, resume_step=0):
            raise AssertionError("opened")

    core_manager.registry.register("logger", "old-style", OldStyle, plugin="t")
    edit_run_config(run, lambda c: c["train"].update(loggers=["old-style"]))
    with pytest.raises(TrainingError, match="'old-style' cannot start: OldStyle cannot add to a"):
        core.metrics.evaluate_model(str(run), metric="sliced-wasserstein", n=8, log=True)


def test_no_caller_reads_the_registrys_private_entries():
    root = Path(core.__file__).parent
    readers = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "registry.py" and "registry._entries" in path.read_text(encoding="utf-8")
    ]
    assert readers == []
