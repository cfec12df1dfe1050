"""One owner per run directory: the lock ``core train``, ``--resume``, ``core evaluate`` and
``core sample`` take, across processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from core.cli import main
from core.errors import TrainingError
from core.training.run_directory import LOCK_FILE, holding_run, lock_run

from .conftest import tiny_run


def _config(steps: int, delay: float = 0.0, **train) -> dict:
    return tiny_run(
        model={"delay": delay}, **{"steps": steps, "batch_size": 16, "log_every": 1, **train}
    )


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), process.stderr.read() if process.poll() is not None else "timed out"


def _files(run: Path) -> dict[str, float]:
    """Every entry of ``run`` and its mtime; the lock file records its latest holder."""
    return {
        str(p.relative_to(run)): p.stat().st_mtime_ns
        for p in sorted(run.rglob("*"))
        if p.name != LOCK_FILE
    }


def _one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture
def training(tiny, start_cli, tmp_path, monkeypatch):
    """A slow ``core train`` in another process, past its first checkpoint; killed at the end."""
    monkeypatch.chdir(tmp_path)
    config = _config(1500, delay=0.01, checkpoint_every=2, keep_checkpoints=1000)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    process = start_cli("train", "run.yaml", "--run-name", "cc", "--quiet", cwd=tmp_path)
    _wait_for(tmp_path / "runs/cc/checkpoints/step_2/state.json", process)
    yield process, tmp_path / "runs/cc"
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_a_second_trainer_is_refused_naming_the_first_ones_pid(training, capsys):
    first, run = training
    config = (run / "config.yaml").read_bytes()
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    line = _one_error_line(capsys)
    assert f"run directory {run} is in use by pid {first.pid} (core train)" in line
    assert main(["train", "run.yaml", "--run-name", "cc", "--overwrite", "--quiet"]) == 2
    assert f"pid {first.pid}" in _one_error_line(capsys)
    assert (run / "config.yaml").read_bytes() == config
    assert not list(run.glob(".previous-*")), "the overwrite set the running run aside"
    assert first.poll() is None, "the first run was disturbed"


def test_sample_and_evaluate_are_refused_while_a_run_trains(training, capsys, tmp_path):
    first, run = training
    assert main(["sample", str(run), "-n", "4", "-o", str(tmp_path / "g.png")]) == 2
    assert f"in use by pid {first.pid}" in _one_error_line(capsys)
    assert not (tmp_path / "g.png").exists()
    assert main(["evaluate", str(run), "-m", "sliced-wasserstein", "-n", "8"]) == 2
    assert f"in use by pid {first.pid}" in _one_error_line(capsys)
    assert not list(run.glob("eval_*.json"))


def test_a_killed_owner_leaves_no_lock_behind(training, capsys, tmp_path):
    first, run = training
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert (run / LOCK_FILE).read_text().split()[0] == str(first.pid)  # its stale record
    assert main(["sample", str(run), "-n", "4", "-o", str(tmp_path / "g.png")]) == 0
    with lock_run(run) as lock:
        assert lock.held
    assert (run / LOCK_FILE).read_text().split()[0] == str(os.getpid())


def test_two_trainers_started_together_do_not_both_run(tiny, start_cli, tmp_path):
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(_config(300)))
    args = ("train", "run.yaml", "--run-name", "cc", "--quiet")
    both = [start_cli(*args, cwd=tmp_path) for _ in range(2)]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in both]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refusal = next(err for code, err in results if code == 2).strip().splitlines()
    assert len(refusal) == 1 and ("is in use by pid" in refusal[0] or "exists" in refusal[0])
    lines = (tmp_path / "runs/cc/metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(1, 301))


def test_readers_share_the_lock_and_writers_hold_it_alone(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    mine = os.getpid()
    with (
        lock_run(run, shared=True),
        lock_run(run, shared=True),
        pytest.raises(TrainingError, match=f"is in use by pid {mine}"),
    ):
        lock_run(run, what="core train")
    with (
        lock_run(run, what="core evaluate"),
        pytest.raises(TrainingError, match=rf"in use by pid {mine} \(core evaluate\)"),
    ):
        lock_run(run, shared=True)
    with lock_run(run), lock_run(tmp_path):
        pass  # another folder's lock is another lock


def test_holding_run_locks_run_directories_only(tmp_path):
    (tmp_path / "model").mkdir()
    with holding_run(tmp_path / "model", shared=False), holding_run("no-such", shared=True):
        pass
    assert not (tmp_path / "model" / LOCK_FILE).exists()


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo", "directory"])
def test_a_lock_file_that_is_not_a_regular_file_is_refused_in_one_line(tmp_path, kind):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere.txt"
    run.mkdir()
    elsewhere.write_text("keep me")
    lock = run / LOCK_FILE
    {
        "symlink": lambda: lock.symlink_to(elsewhere),
        "hardlink": lambda: os.link(elsewhere, lock),
        "fifo": lambda: os.mkfifo(lock),
    }.get(kind, lock.mkdir)()
    with pytest.raises(TrainingError, match=r"^cannot lock the run directory: .*\.lock: ") as exc:
        lock_run(run)
    assert "\n" not in str(exc.value)
    assert elsewhere.read_text() == "keep me"


def test_a_reader_of_a_run_it_cannot_write_holds_no_lock(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    real_open = os.open

    def read_only_folder(path, flags, *args):
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only_folder)
    with lock_run(run, shared=True) as lock:
        assert not lock.held
    with pytest.raises(TrainingError, match="cannot lock the run directory"):
        lock_run(run)


def test_a_finished_run_is_refused_before_it_is_locked_by_a_new_run(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(_config(2)))
    assert main(["train", "run.yaml", "--quiet"]) == 0
    before = _files(tmp_path / "runs/run")
    assert main(["train", "run.yaml", "--quiet"]) == 2  # exists: --resume or --overwrite
    assert _files(tmp_path / "runs/run") == before
    with lock_run(tmp_path / "runs/run"):  # released by the refused run
        pass
