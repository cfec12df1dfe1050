"""``--overwrite`` keeps the previous run until the new one has written a checkpoint, and puts
it back when the new run fails first."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from core.base_model import BaseModel
from core.batches import unpack_batch
from core.cli import main
from core.errors import TrainingError
from core.schema import ComponentConfig, Field
from core.training.trainer import Trainer


class FailingConfig(ComponentConfig):
    fail_at_step: int = Field(0, ge=0, description="raise in the loss of this step (0: never)")


class FailingModel(BaseModel):
    """A linear map trained to the identity; its loss raises at ``fail_at_step``."""

    config_class = FailingConfig
    model_type = "failing-model"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.lin = torch.nn.Linear(2, 2)
        self.losses = 0

    def compute_loss(self, batch: Any) -> dict[str, torch.Tensor]:
        self.losses += 1
        if self.config.fail_at_step and self.losses >= self.config.fail_at_step:
            raise TrainingError(f"the loss failed at step {self.losses}")
        x, _ = unpack_batch(batch)
        return {"loss": ((self.lin(x) - x) ** 2).mean()}


RUN = {
    "model": {"type": "failing-model"},
    "data": {"type": "toy2d", "size": 64},
    "train": {"steps": 4, "batch_size": 16, "device": "cpu", "log_every": 1},
}


@pytest.fixture
def previous(core_manager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A finished run at runs/run, with a file of its own, and the config that made it."""
    core_manager.registry.register("model", "failing-model", FailingModel, plugin="test")
    monkeypatch.chdir(tmp_path)
    Path("run.yaml").write_text(yaml.safe_dump(RUN), encoding="utf-8")
    assert main(["train", "run.yaml", "--quiet"]) == 0
    run = tmp_path / "runs" / "run"
    (run / "notes.txt").write_text("the previous run's own file", encoding="utf-8")
    return run


def _snapshot(run: Path) -> dict[str, str]:
    """The run's files and their hashes; not the lock file, which names its latest holder."""
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _set_aside(run: Path) -> list[Path]:
    return sorted([*run.parent.glob(f".{run.name}.old-*"), *run.glob(".previous-*")])


def test_a_run_failing_at_step_1_with_overwrite_leaves_the_previous_run_intact(previous, capsys):
    before = _snapshot(previous)
    assert (previous / "final").is_dir() and "notes.txt" in before
    capsys.readouterr()
    assert main(["train", "run.yaml", "model.fail_at_step=1", "--overwrite", "--quiet"]) == 2
    assert "the loss failed at step 1" in capsys.readouterr().err
    assert _snapshot(previous) == before
    assert _set_aside(previous) == []


def test_an_interrupted_overwrite_restores_the_previous_run(previous):
    before = _snapshot(previous)
    trainer = Trainer("run.yaml", run_dir=previous, overwrite=True, quiet=True)

    def interrupt(batch: Any) -> None:
        raise KeyboardInterrupt

    trainer.model.compute_loss = interrupt
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert _snapshot(previous) == before and _set_aside(previous) == []


def test_a_run_refused_at_construction_leaves_the_previous_run_intact(previous):
    before = _snapshot(previous)
    assert main(["train", "run.yaml", "train.lr=-1", "--overwrite", "--quiet"]) == 2
    assert _snapshot(previous) == before and _set_aside(previous) == []


def test_the_previous_run_goes_once_the_new_run_has_a_checkpoint(previous):
    overrides = ["model.fail_at_step=3", "train.checkpoint_every=2", "--overwrite", "--quiet"]
    assert main(["train", "run.yaml", *overrides]) == 2
    assert not (previous / "notes.txt").exists()
    assert (previous / "checkpoints" / "step_2").is_dir()
    assert _set_aside(previous) == []


def test_a_successful_overwrite_replaces_the_previous_run(previous):
    assert main(["train", "run.yaml", "train.steps=2", "--overwrite", "--quiet"]) == 0
    assert not (previous / "notes.txt").exists() and (previous / "final").is_dir()
    assert yaml.safe_load((previous / "config.yaml").read_text())["train"]["steps"] == 2
    assert _set_aside(previous) == []
