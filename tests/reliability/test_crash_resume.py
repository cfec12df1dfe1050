"""SIGKILL during training: a loadable checkpoint, no partial files, exact resume."""

from __future__ import annotations

import pytest

from .conftest import load_helper

pytestmark = pytest.mark.slow

crash = load_helper("_crash")


def test_kills_leave_loadable_checkpoints_and_resume_matches_a_clean_run(tmp_path):
    reference = tmp_path / "reference"
    reference.mkdir()
    config = crash.write_config(reference)
    done = crash.run_to_end(crash.train_command(config, reference / "runs"))
    assert done.returncode == 0, done.stderr

    killed = tmp_path / "killed"
    killed.mkdir()
    result = crash.kill_and_resume(killed, kills=2, seed=3, window=(0.0, 1.5))
    for record in result["kills"]:
        assert record["problems"] == [], record
    assert any(not r["finished_before_kill"] for r in result["kills"]), "no kill happened"
    assert result["final_returncode"] == 0, result["final_stderr"]
    assert crash.same_weights(
        crash.final_weights(reference / "runs" / "crash"),
        crash.final_weights(killed / "runs" / "crash"),
    ), "resumed weights differ from the uninterrupted run"


def test_check_run_dir_finds_a_partial_file(tmp_path):
    """The invariant check is not vacuous: a cut weights file under its final name is caught."""
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "final" / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    (run / ".final.staging").mkdir()
    (run / ".final.staging" / "model.safetensors").write_bytes(b"partial")  # hidden: allowed
    problems = crash.check_run_dir(run)["problems"]
    assert len(problems) == 1 and "final/model.safetensors" in problems[0]


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, capsys):
    import yaml

    from core.cli import main

    run = tmp_path / "runs" / "crash"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(crash.RUN_CONFIG))
    (run / "checkpoints" / ".staging-step_10").mkdir(parents=True)  # killed mid-write
    assert main(["train", "--resume", str(run), "-q"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "no complete checkpoint" in lines[0], lines
