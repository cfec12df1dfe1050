"""core.tools: external programs run from an argument list, bounded, and never outliving core."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import tools
from core._staging import staging_name
from core.errors import CoreError, ToolError
from core.testing.processes import check_tool_dies_with, gone_within
from core.tools import find_tool, run_tool, stage_input, tool_workdir, tools_root

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, prctl")

PY = sys.executable


def _wait_for(path: Path, seconds: float = 10.0) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def test_arguments_are_passed_verbatim_never_through_a_shell(tmp_path):
    hostile = ["a b", "; touch X", "$(touch X)", "`touch X`", "'\"", "line\nbreak", "*"]
    result = run_tool([PY, "-c", "import sys; print(repr(sys.argv[1:]))", *hostile], timeout=30)
    assert result.returncode == 0 and result.stdout.strip() == repr(hostile)
    assert not (tmp_path / "X").exists() and not Path("X").exists()


def test_failure_names_the_tool_and_the_last_lines_of_its_stderr():
    script = "import sys\nfor i in range(20): print(f'line {i}', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(ToolError) as caught:
        run_tool([PY, "-c", script], timeout=30, name="mytool")
    message = str(caught.value)
    assert isinstance(caught.value, CoreError) and "\n" not in message
    assert message.startswith("mytool failed with exit code 3: ")
    assert "line 19" in message and "line 15" in message and "line 14" not in message
    unchecked = run_tool([PY, "-c", script], timeout=30, check=False)
    assert unchecked.returncode == 3 and unchecked.stderr.count("\n") == 20


def test_a_tool_killed_by_a_signal_says_so():
    with pytest.raises(ToolError, match=r"^python\S* was killed by SIGSEGV"):
        run_tool([PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"], timeout=30)


def test_a_missing_tool_is_one_line_naming_it(tmp_path):
    with pytest.raises(ToolError, match=r"^no-such-tool-xyz was not found on PATH: apt-get it$"):
        find_tool("no-such-tool-xyz", "apt-get it")
    with pytest.raises(ToolError, match="no-such-tool-xyz was not found on PATH"):
        run_tool(["no-such-tool-xyz", "--version"], timeout=5)
    with pytest.raises(ToolError, match="is not an executable file"):
        run_tool([str(tmp_path / "missing")], timeout=5)


def test_timeout_kills_the_whole_process_group(tmp_path):
    # the tool starts a grandchild and both sleep; the timeout must take both
    script = (
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "open('pids', 'w').write(f'{os.getpid()} {child.pid}')\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    with pytest.raises(ToolError, match=r"did not finish within 1 s \(raise it\)"):
        run_tool([PY, "-c", script], timeout=1, cwd=tmp_path, timeout_hint="raise it")
    assert time.monotonic() - start < 5
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert gone_within(pids, 1.0), pids


def test_a_tool_that_closes_its_output_and_lingers_still_times_out():
    start = time.monotonic()
    with pytest.raises(ToolError, match="did not finish within 0.5 s"):
        run_tool(
            [PY, "-c", "import os, time; os.close(1); os.close(2); time.sleep(60)"], timeout=0.5
        )
    assert time.monotonic() - start < 5


def test_output_is_bounded_to_its_last_bytes():
    script = "import sys; sys.stdout.write('a' * 3_000_000 + 'END'); sys.stderr.write('e' * 10)"
    result = run_tool([PY, "-c", script], timeout=30, max_output=1000)
    assert len(result.stdout) == 1000 and result.stdout.endswith("aEND")
    assert result.stderr == "e" * 10


def test_the_tool_dies_with_its_parent(tmp_path):
    """SIGKILL of the process that runs a tool: the tool and its children are gone within 1 s."""
    tool = (
        "import os, subprocess, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "open('pids', 'w').write(f'{os.getpid()} {child.pid}')\n"
        "time.sleep(60)\n"
    )
    parent = (
        "import sys\nfrom core.tools import run_tool\n"
        f"run_tool([sys.executable, '-c', {tool!r}], timeout=120)\n"
    )
    proc = subprocess.Popen([PY, "-c", parent], cwd=tmp_path)
    check_tool_dies_with(proc, tmp_path / "pids")


def test_work_folders_live_under_one_prefix_and_stale_ones_are_removed():
    dead = subprocess.Popen([PY, "-c", "pass"])
    dead.wait()
    stale = tools_root() / staging_name("work-").replace(f"-{os.getpid()}-", f"-{dead.pid}-")
    stale.mkdir()
    (stale / "left.v").write_text("x")
    with tool_workdir() as work:
        assert work.parent == Path(tools.tempfile.gettempdir()) / "core-tools"
        assert work.name.startswith("work-") and f"-{os.getpid()}-" in work.name
        assert oct(work.stat().st_mode & 0o777) == "0o700"
        assert not stale.exists(), "a dead process's work folder was kept"
        (work / "scratch").write_text("x")
    assert not work.exists()


def test_a_link_in_place_of_the_tools_root_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tools.tempfile, "gettempdir", lambda: str(tmp_path))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "core-tools").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ToolError, match="is not a directory"), tool_workdir():
        pass


def test_stage_input_copies_under_a_fixed_name_and_refuses_odd_files(tmp_path):
    odd = tmp_path / "a b;\"c'\nd"
    odd.mkdir()
    (odd / "x.v").write_text("module m; endmodule\n")
    work = tmp_path / "work"
    work.mkdir()
    assert stage_input(odd / "x.v", work, "input.v") == "input.v"
    assert (work / "input.v").read_text() == "module m; endmodule\n"
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ToolError, match="is not a regular file"):
        stage_input(tmp_path / "fifo", work, "fifo.v")  # refused at once, never waits
    with pytest.raises(ToolError, match="unsafe work file name"):
        stage_input(odd / "x.v", work, "../x.v")
    with pytest.raises(ToolError, match="cannot read"):
        stage_input(tmp_path / "missing.v", work, "m.v")


def test_the_supervisor_whose_parent_is_already_gone_runs_nothing(tmp_path):
    # the race prctl cannot close: the parent died between fork and PR_SET_PDEATHSIG
    marker = tmp_path / "ran"
    done = subprocess.run(
        [PY, "-I", "-S", tools._SUPERVISOR, "1", PY, PY, "-c", f"open({str(marker)!r}, 'w')"],
        timeout=30,
    )
    assert done.returncode == -signal.SIGKILL and not marker.exists()
