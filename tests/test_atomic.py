"""core.atomic: what the writers refuse before touching anything, and folders swapped as a unit."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import stat
from pathlib import Path

import pytest

from core._staging import staging_name
from core.atomic import (
    atomic_directory,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    check_target,
    file_kind,
    stage_directory,
    swap_directory,
)
from core.config import Config
from core.errors import AtomicWriteError, ConfigError, CoreError


def _no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


# -- files -----------------------------------------------------------------------------------


def test_a_fifo_is_refused_before_a_temporary_file_is_made(tmp_path):
    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    with pytest.raises(AtomicWriteError, match=r"out.png: it is a named pipe \(FIFO\)") as info:
        atomic_write_bytes(fifo, b"png")
    assert len(str(info.value).splitlines()) == 1
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert _no_temp_files(tmp_path)


def test_a_character_device_is_refused_directly_and_through_a_link(tmp_path):
    with pytest.raises(AtomicWriteError, match="/dev/null: it is a character device"):
        atomic_write_text("/dev/null", "x")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    link = tmp_path / "out.png"
    link.symlink_to("/dev/null")
    with pytest.raises(AtomicWriteError, match="symbolic link leading out of"):
        atomic_write_text(link, "x")
    assert link.is_symlink() and _no_temp_files(tmp_path)


def test_a_directory_and_a_socket_are_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "keep").write_text("keep")
    with pytest.raises(AtomicWriteError, match="it is a directory, not a regular file"):
        atomic_write_text(tmp_path / "folder", "x")
    assert (tmp_path / "folder" / "keep").read_text() == "keep"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(AtomicWriteError, match="it is a socket"):
            atomic_write_text(tmp_path / "sock", "x")
    assert _no_temp_files(tmp_path)


def test_a_link_out_of_the_folder_is_refused_naming_the_path(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    run = tmp_path / "run"
    run.mkdir()
    (run / "grid.png").symlink_to(outside / "precious.txt")
    (run / "new.png").symlink_to(outside / "missing.png")  # dangling, still leading out
    for name in ("grid.png", "new.png"):
        with pytest.raises(AtomicWriteError, match=f"{run / name}: it is a symbolic link"):
            atomic_write_text(run / name, "x")
    assert (outside / "precious.txt").read_text() == "keep"
    assert sorted(p.name for p in outside.iterdir()) == ["precious.txt"]


def test_a_link_inside_the_folder_is_replaced_as_a_rename_would(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "alias.txt").symlink_to("real.txt")
    atomic_write_text(tmp_path / "alias.txt", "new")
    assert not (tmp_path / "alias.txt").is_symlink()
    assert (tmp_path / "alias.txt").read_text() == "new"
    assert (tmp_path / "real.txt").read_text() == "old"


def test_something_put_in_place_while_writing_is_refused(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(AtomicWriteError, match="FIFO"), atomic_path(target) as tmp:
        tmp.write_text("x")
        os.mkfifo(target)
    assert stat.S_ISFIFO(os.lstat(target).st_mode) and _no_temp_files(tmp_path)


def test_the_refusal_is_a_core_error_and_an_oserror(tmp_path):
    os.mkfifo(tmp_path / "f")
    with pytest.raises(CoreError) as info:
        check_target(tmp_path / "f")
    assert isinstance(info.value, OSError)
    assert check_target(tmp_path / "missing") == tmp_path / "missing"
    assert check_target(tmp_path, directory=True) == tmp_path


# -- folders ---------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("name", [".", "..", "sub/.."])
def test_a_target_named_dot_or_dot_dot_is_refused_in_one_line(tmp_path, monkeypatch, name):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.txt").write_text("keep")
    monkeypatch.chdir(tmp_path / "sub")
    with (
        pytest.raises(AtomicWriteError, match=r"not '\.' or '\.\.'; nothing was written"),
        atomic_directory(name, overwrite=True),
    ):
        pass
    with pytest.raises(AtomicWriteError, match="nothing was written"):
        atomic_write_text(name, "x")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["mine.txt", "sub"]


def test_a_folder_is_staged_beside_and_swapped_in(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".out.staging-")
        assert f"-{os.getpid()}-" in staging.name
        (staging / "a.txt").write_text("a")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_gets_the_umask_mode_not_a_private_one(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "out") as staging:
            (staging / "sub").mkdir()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "out") == 0o755
    assert _mode(tmp_path / "out" / "sub") == 0o755


def test_an_existing_folder_is_refused_without_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with (
        pytest.raises(AtomicWriteError, match="it already exists"),
        atomic_directory(tmp_path / "out"),
    ):
        raise AssertionError("the block must not run")
    assert (tmp_path / "out" / "old.txt").read_text() == "old"


@pytest.mark.parametrize("kind", ["file", "fifo", "link-out"])
def test_a_folder_target_that_is_not_a_folder_is_refused(tmp_path, kind):
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("x")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "run").mkdir()
        target = tmp_path / "run" / "out"
        target.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with (
        pytest.raises(AtomicWriteError, match="refusing to write"),
        atomic_directory(target, overwrite=True),
    ):
        raise AssertionError("the block must not run")
    assert os.path.lexists(target)


def test_overwrite_keeps_the_old_folder_until_the_new_one_is_complete(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "v.txt").write_text("1")
    with pytest.raises(RuntimeError), atomic_directory(target, overwrite=True) as staging:
        (staging / "v.txt").write_text("2")
        assert (target / "v.txt").read_text() == "1"  # still the old one while writing
        raise RuntimeError("killed half-way")
    assert (target / "v.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with atomic_directory(target, overwrite=True) as staging:
        (staging / "v.txt").write_text("2")
    assert (target / "v.txt").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "v.txt").write_text("1")
    real_rename = os.rename

    def rename(src, dst):
        if Path(src).name.startswith(".out.staging-"):
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with (
        pytest.raises(AtomicWriteError, match="No space left"),
        atomic_directory(target, overwrite=True) as staging,
    ):
        (staging / "v.txt").write_text("2")
    monkeypatch.undo()
    assert (target / "v.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _killed_between_renames(target: str) -> None:
    """Rename the old folder aside, then die before the new one is renamed into place."""
    real_rename = os.rename

    def rename(src, dst):
        real_rename(src, dst)
        if ".out.old-" in str(dst):
            os.kill(os.getpid(), signal.SIGKILL)

    os.rename = rename
    with atomic_directory(target, overwrite=True) as staging:
        (staging / "v.txt").write_text("2")


def _killed_while_writing(target: str) -> None:
    with atomic_directory(target, overwrite=True) as staging:
        (staging / "v.txt").write_text("2")
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("child", [_killed_between_renames, _killed_while_writing])
def test_what_a_killed_writer_left_is_cleaned_and_the_old_folder_kept(tmp_path, child):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "v.txt").write_text("1")
    process = multiprocessing.get_context("fork").Process(target=child, args=(str(target),))
    process.start()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL
    left = sorted(tmp_path.glob(".out.*"))
    assert left  # something was left behind
    with atomic_directory(tmp_path / "other") as staging:  # another target: nothing touched
        pass
    assert sorted(tmp_path.glob(".out.*")) == left
    with pytest.raises(AtomicWriteError, match="already exists"), atomic_directory(target):
        pass  # the next writer puts the old folder back first
    assert (target / "v.txt").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "out"]


def _killed_writing_a_file(target: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_file_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "x.png"
    process = multiprocessing.get_context("fork").Process(
        target=_killed_writing_a_file, args=(str(target),)
    )
    process.start()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 1 and left[0].startswith(".x.png.tmp-") and left[0].endswith(".tmp")
    atomic_write_text(tmp_path / "x.png.bak", "other target: its leftovers only")
    assert sorted(p.name for p in tmp_path.iterdir()) == [*left, "x.png.bak"]
    with atomic_path(target) as tmp:
        (tmp_path / "late.tmp").write_bytes(tmp.name.encode())  # a live writer's file stays
        atomic_write_text(target, "a nested write of the same target while this one writes")
        assert tmp.exists()
        tmp.write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.tmp", "x.png", "x.png.bak"]
    assert target.read_text() == "new"


def test_a_long_target_name_gives_a_valid_temporary_name(tmp_path):
    target = tmp_path / ("n" * 250)
    with atomic_path(target) as tmp:
        assert len(tmp.name) < 255 and tmp.name.endswith(".tmp")
    atomic_write_text(target, "x")
    assert target.read_text() == "x"


def test_a_live_writers_staging_folder_is_left_alone(tmp_path):
    mine = stage_directory(tmp_path, ".out.staging-")
    with atomic_directory(tmp_path / "out") as staging:
        (staging / "a").write_text("a")
    assert mine.is_dir()


def test_swap_without_overwrite_is_a_claim(tmp_path):
    first = stage_directory(tmp_path, ".staging-")
    second = stage_directory(tmp_path, ".staging-")
    swap_directory(first, tmp_path / "v1")
    with pytest.raises(AtomicWriteError, match="already exists") as info:
        swap_directory(second, tmp_path / "v1")
    assert info.value.errno == 17
    assert second.is_dir() and (tmp_path / "v1").is_dir()


def test_a_long_target_name_gives_a_valid_staging_name(tmp_path):
    target = tmp_path / ("n" * 200)
    with atomic_directory(target) as staging:
        assert len(staging.name) < 255
    assert target.is_dir()
    assert staging_name(".x-").startswith(".x-")


def test_a_folder_of_many_files_is_flushed_and_swapped_in_whole(tmp_path):
    with atomic_directory(tmp_path / "many") as staging:
        for i in range(100):  # more than one syncfs' worth of separate fsyncs
            (staging / f"{i}.bin").write_bytes(bytes([i]) * 10)
    assert sorted(int(p.stem) for p in (tmp_path / "many").iterdir()) == list(range(100))


def test_file_kind_is_the_one_name_of_what_a_path_is(tmp_path):
    """The names core.atomic and core.config give in their refusals."""
    os.mkfifo(tmp_path / "p")
    kinds = [file_kind(os.stat(p).st_mode) for p in (tmp_path / "p", tmp_path, "/dev/null")]
    assert kinds == ["a named pipe (FIFO)", "a directory", "a character device"]
    with pytest.raises(ConfigError, match=r"p: is a named pipe \(FIFO\); a config file must be"):
        Config(tmp_path / "p")
