"""The one way core and its plugins run an external program (yosys, iverilog, a C compiler).

- An argument list, never a shell: no character of an argument is interpreted.
- The program runs in its own process group under a small supervisor that dies with the
  calling process (``PR_SET_PDEATHSIG`` on Linux) and takes the whole group with it, so a
  ``kill -9`` of core leaves no tool (nor a tool's own children) running.
- A timeout kills the whole group; so does any exception in the caller (Ctrl-C).
- stdout and stderr are captured, the last ``max_output`` bytes of each.
- A missing program, a failure or a timeout is a one-line ``ToolError`` naming the tool and
  the last lines of its stderr.

Work folders are ``<tempdir>/core-tools/<staging name>`` (:func:`tool_workdir`), private to
the process; those left by a dead process are removed when the next one is made. A path the
tool reads through its own script language (a yosys script, an iverilog command file) is
never pasted into it: :func:`stage_input` copies the file into the work folder under a fixed
name, and the script names only that.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core._staging import remove_stale, staging_name
from core.errors import ToolError

__all__ = [
    "ToolError",
    "ToolResult",
    "MAX_OUTPUT",
    "find_tool",
    "run_tool",
    "tool_workdir",
    "tools_root",
    "stage_input",
]

#: bytes of each of stdout and stderr kept by default (the last ones).
MAX_OUTPUT = 1 << 20
_WORK_PREFIX = "work-"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_TAIL_LINES = 5
_KEEPALIVE_SECONDS = 60.0

#: run as ``python -I -S _supervisor.py PARENT_PID PROGRAM ARGV...`` (see that file).
_SUPERVISOR = str(Path(__file__).with_name("_supervisor.py"))


@dataclass(frozen=True)
class ToolResult:
    """What a finished program left: exit code, the tail of its output, its wall time."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def find_tool(name: str, hint: str = "", env: Mapping[str, str] | None = None) -> str:
    """The path of program ``name`` (searched on ``PATH``), or a one-line ``ToolError``."""
    path_var = (env if env is not None else os.environ).get("PATH", os.defpath)
    found = shutil.which(name, path=path_var)
    if found is None:
        where = "is not an executable file" if os.sep in name else "was not found on PATH"
        raise ToolError(f"{name} {where}" + (f": {hint}" if hint else ""))
    return found


def _tail(text: str) -> str:
    """The last few non-blank lines of ``text`` on one line, control characters removed."""
    lines = [re.sub(r"[\x00-\x1f\x7f]", " ", line).strip() for line in text.splitlines()]
    lines = [line[:300] for line in lines if line][-_TAIL_LINES:]
    return " | ".join(lines)


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"failed with exit code {returncode}"


class _Tail:
    """The last ``limit`` bytes written to it."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, int(limit))
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit + 65536:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        kept = bytes(self.data[-self.limit :]) if self.limit else b""
        return kept.decode("utf-8", "replace")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _collect(
    proc: subprocess.Popen, deadline: float, limit: int, workdir: Path | None
) -> tuple[str, str, bool]:
    """Read stdout and stderr until both close or ``deadline``; (out, err, timed out).

    A work folder's time is refreshed every minute, so a long run is never taken for stale.
    """
    tails = {proc.stdout: _Tail(limit), proc.stderr: _Tail(limit)}
    touched = time.monotonic()
    with selectors.DefaultSelector() as selector:
        for stream in tails:
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                break
            if workdir is not None and now - touched > _KEEPALIVE_SECONDS:
                with contextlib.suppress(OSError):
                    os.utime(workdir)
                touched = now
            for key, _ in selector.select(min(deadline - now, _KEEPALIVE_SECONDS)):
                chunk = os.read(key.fileobj.fileno(), 65536)
                if chunk:
                    tails[key.fileobj].add(chunk)
                else:
                    selector.unregister(key.fileobj)
        timed_out = bool(selector.get_map())
    return tails[proc.stdout].text(), tails[proc.stderr].text(), timed_out


def _exited(pid: int, deadline: float) -> bool:
    """Wait (until ``deadline``) for ``pid`` to exit, leaving it unreaped (its group stays ours)."""
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def run_tool(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    max_output: int = MAX_OUTPUT,
    name: str | None = None,
    timeout_hint: str = "",
) -> ToolResult:
    """Run ``args`` (program first) and wait at most ``timeout`` seconds (see module doc).

    ``name`` names the tool in errors (default: the program's file name); ``check=False``
    returns a failed run instead of raising. A timeout always raises.
    """
    argv = [os.fspath(a) for a in args]
    if not argv:
        raise ToolError("no program to run: the argument list is empty")
    label = name or os.path.basename(argv[0])
    program = find_tool(argv[0], env=env)
    supervisor = [sys.executable, "-I", "-S", _SUPERVISOR, str(os.getpid()), program]
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            supervisor + argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=None if env is None else dict(env),
            process_group=0,
        )
    except OSError as exc:
        raise ToolError(f"cannot start {label}: {exc.strerror or exc}") from None
    deadline = start + timeout
    try:
        out, err, timed_out = _collect(proc, deadline, max_output, _work_folder(cwd))
        if not timed_out:
            timed_out = not _exited(proc.pid, deadline)
    finally:
        _kill_group(proc.pid)  # the tool's leftovers; the unreaped leader keeps the group id
        proc.stdout.close()
        proc.stderr.close()
        returncode = proc.wait()
    seconds = time.monotonic() - start
    if timed_out:
        hint = f" ({timeout_hint})" if timeout_hint else ""
        last = _tail(err)
        raise ToolError(
            f"{label} did not finish within {timeout:g} s{hint}" + (f": {last}" if last else "")
        )
    result = ToolResult(tuple(argv), returncode, out, err, seconds)
    if check and returncode != 0:
        last = _tail(err) or _tail(out) or "no output"
        raise ToolError(f"{label} {_describe(returncode)}: {last}")
    return result


def _work_folder(cwd: str | os.PathLike[str] | None) -> Path | None:
    """``cwd`` if it is one of :func:`tool_workdir`'s folders, else None."""
    if cwd is None:
        return None
    path = Path(cwd)
    is_work = path.name.startswith(_WORK_PREFIX) and path.parent.name == "core-tools"
    return path if is_work and path.parent == tools_root() else None


def tools_root() -> Path:
    """``<tempdir>/core-tools``, the parent of every work folder (made if missing)."""
    root = Path(tempfile.gettempdir()) / "core-tools"
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(root, 0o700)
            os.chmod(root, 0o1777)  # shared by every user, like /tmp: sticky
        info = os.lstat(root)
    except OSError as exc:
        raise ToolError(f"cannot make {root}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{root} is not a directory (a link or a file): remove it")
    if info.st_uid not in (os.getuid(), 0) and not info.st_mode & stat.S_ISVTX:
        raise ToolError(f"{root} belongs to another user and is not sticky: remove it")
    return root


@contextlib.contextmanager
def tool_workdir() -> Iterator[Path]:
    """A private, empty work folder under :func:`tools_root`, removed afterwards.

    Work folders of dead processes are removed first.
    """
    root = tools_root()
    remove_stale(root, _WORK_PREFIX)
    path = root / staging_name(_WORK_PREFIX)
    try:
        os.mkdir(path, 0o700)
    except OSError as exc:
        raise ToolError(f"cannot make a work folder in {root}: {exc.strerror or exc}") from None
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stage_input(source: str | os.PathLike[str], workdir: Path, name: str) -> str:
    """Copy ``source`` into ``workdir`` as ``name``; returns ``name``, the one thing to paste.

    ``name`` must be a plain, fixed file name; ``source`` must be a regular file (a FIFO or a
    device is refused before anything waits on it).
    """
    if not _SAFE_NAME.match(name):
        raise ToolError(f"unsafe work file name {name!r}: use letters, digits, '_', '.', '-'")
    source = Path(source)
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ToolError(f"cannot read {source}: {exc.strerror or exc}") from None
    with open(fd, "rb") as reader:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ToolError(f"{source} is not a regular file")
        try:
            with open(workdir / name, "xb") as writer:  # own write: a new copy in our work folder
                shutil.copyfileobj(reader, writer, 1 << 20)
        except OSError as exc:
            raise ToolError(f"cannot copy {source} into {workdir}: {exc.strerror or exc}") from None
    return name
