"""Round 3, area "files": every file and folder core writes goes through ``core.atomic``.

``core sample -o`` onto a FIFO, a folder, a socket, a device or a link leading out of its
folder is refused in one line and the target is left as it was; the folders ``core difflut
convert`` and ``export`` write are staged beside the target (a killed writer's staging folder
is cleaned on the next run, the old folder stays until the new one is complete, the umask
gives the mode) and an export is one unit whose manifest ``core difflut synth`` checks. Loaded
by ``_hostile.py``, which injects itself as ``hostile``.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.testing.refusals import run_cli

hostile: Any = globals()["hostile"]  # set by _hostile.py before this module runs


# -- core sample -o ----------------------------------------------------------------------------


def _state(path: Path) -> tuple[Any, ...]:
    """What ``path`` is (not following a link): kind, inode, device, link text, contents."""
    info = os.lstat(path)
    kind = stat.S_IFMT(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return kind, info.st_ino, os.readlink(path)
    if stat.S_ISREG(info.st_mode):
        return kind, info.st_ino, path.read_bytes()
    if stat.S_ISDIR(info.st_mode):
        return kind, info.st_ino, sorted(p.name for p in path.iterdir())
    return kind, info.st_ino, info.st_rdev


def _char_device(path: Path) -> str | None:
    """A null character device at ``path`` (``mknod``, as root); the reason where refused."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        return "mknod is not permitted here (not root)"
    return None


def _sample_onto(make: Callable[[Path], str | None], *watch: str) -> Callable[[Path], str]:
    """``core sample RUN -o out/x.png`` where ``make(out/x.png)`` put something there first;
    refused in one line, and ``x.png`` and every path in ``watch`` are left as they were."""

    def check(work: Path) -> str:
        run = hostile.trained_toy_run(work)
        target = work / "out" / "x.png"
        target.parent.mkdir()
        (work / "elsewhere").mkdir()
        (work / "elsewhere" / "target.png").write_bytes(b"keep me")
        skipped = make(target)
        if isinstance(skipped, str):
            return f"skipped: {skipped}"
        paths = [target, *(work / w for w in watch)]
        before = {p: _state(p) if os.path.lexists(p) else None for p in paths}
        result = hostile.expect_cli_refused("sample", str(run), "-n", "4", "-o", str(target))
        after = {p: _state(p) if os.path.lexists(p) else None for p in paths}
        changed = [str(p.relative_to(work)) for p in paths if after[p] != before[p]]
        assert not changed, f"refused, but changed {changed}"
        return result

    return check


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "mine.txt").write_text("keep me")


_SOCKETS: list[socket.socket] = []  # kept open (bound) while the case runs


def _socket(path: Path) -> str | None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(os.path.relpath(path))  # relative: a socket path is at most 108 bytes
    except OSError as exc:
        return f"cannot bind a unix socket here: {exc}"
    _SOCKETS.append(listener)
    return None


def _link_out(path: Path) -> None:
    path.symlink_to(Path("..") / "elsewhere" / "target.png")


def _dangling_link_out(path: Path) -> None:
    path.symlink_to(path.parent.parent / "elsewhere" / "new.png")  # absolute, not there yet


def _sample_link_inside(work: Path) -> str:
    run = hostile.trained_toy_run(work)
    out = work / "out"
    out.mkdir()
    (out / "real.png").write_bytes(b"keep me")
    (out / "x.png").symlink_to("real.png")
    code, _, err = run_cli("sample", str(run), "-n", "4", "-o", str(out / "x.png"))
    assert code == 0, f"exit {code}: {err.strip()[-200:]}"
    assert (out / "real.png").read_bytes() == b"keep me", "the file the link named was replaced"
    written = out / "x.png"
    assert not written.is_symlink() and written.read_bytes().startswith(b"\x89PNG"), "no PNG"
    return "exit 0: the link itself replaced by the PNG; the file it named untouched"


# -- folders: core difflut convert and export --------------------------------------------------


def _upstream_checkpoint(path: Path, seed: int) -> Path:
    """The small upstream DWN checkpoint of core-difflut's tests (two layers of 3-input nodes,
    3 classes); ``seed`` 1 has every table inverted, so its Verilog differs."""
    import importlib.util

    import core_difflut
    import torch

    source = Path(core_difflut.__file__).parents[1] / "tests" / "test_export_unit.py"
    spec = importlib.util.spec_from_file_location("_core_difflut_export_unit", source)
    tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests)
    tests._upstream_checkpoint(path)
    if seed:
        state = torch.load(path, weights_only=True)
        torch.save({k: 1 - v if k.endswith(".luts") else v for k, v in state.items()}, path)
    return path


def _ok(*args: str) -> str:
    """``core ARGS`` in-process; it must exit 0."""
    code, out, err = run_cli(*args)
    assert code == 0, f"core {' '.join(args[:2])}: exit {code}: {err.strip()[-200:]}"
    return out


def _convert_digits(work: Path, name: str, seed: int = 0) -> Path:
    """``core difflut convert`` of a small upstream checkpoint into ``work/name`` (digits)."""
    checkpoint = _upstream_checkpoint(work / f"up{seed}.pth", seed)
    args = ("-o", str(work / name), "--num-classes", "3", "--dataset", "digits")
    _ok("difflut", "convert", str(checkpoint), *args)
    return work / name


def _export_args(model: Path, output: Path, *extra: str) -> tuple[str, ...]:
    return ("difflut", "export", str(model), "--format", "verilog", "-o", str(output), *extra)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _fail_replace_after(files: int) -> None:
    """``os.replace`` (the rename that puts a written file in place) puts ``files`` files in
    place, then fails with ENOSPC: a disk that fills up half-way through a folder."""
    real = os.replace
    done = [0]

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        if done[0] >= files:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done[0] += 1
        real(src, dst, **kwargs)

    os.replace = replace


_KILLED = """\
import os, signal, sys
name, _, times = sys.argv.pop(1).partition("@")
opened = []
def hook(event, args):  # killed as it opens ``name`` to write it (builtins open and os.open),
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):  # the n-th time
        if name in os.fsdecode(args[0]) and args[2] & (os.O_WRONLY | os.O_RDWR):
            opened.append(args[0])
            if len(opened) == int(times or 1):
                os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _killed_then_again(command: str) -> Callable[[Path], str]:
    """``command`` (export or convert) killed (-9) as it starts the folder's second file: no
    torn folder is left in the target's place, and the next run cleans what it left."""

    def check(work: Path) -> str:
        (work / "out").mkdir()
        if command == "export":
            target, kill_at = work / "out" / "v", "difflut_net.json"
            args = _export_args(_convert_digits(work, "net"), target)
        else:
            target, kill_at = work / "out" / "net", "README.md"
            checkpoint = _upstream_checkpoint(work / "up.pth", 0)
            args = ("difflut", "convert", str(checkpoint), "-o", str(target), "--num-classes")
            args += ("3", "--dataset", "digits")
        (work / "kill.py").write_text(_KILLED)
        killed = subprocess.run(
            [sys.executable, str(work / "kill.py"), kill_at, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.returncode == -signal.SIGKILL, f"not killed: {killed.stderr[-300:]}"
        left = sorted(p.name for p in (work / "out").iterdir())
        assert not os.path.lexists(target), f"a torn {target.name} is in place: {left}"
        _ok(*args)
        now = sorted(p.name for p in (work / "out").iterdir())
        assert now == [target.name], f"beside {target.name} after the next run: {now}"
        assert len(list(target.iterdir())) == 3, sorted(target.iterdir())
        return f"the killed one left {left}; the next run cleaned it and wrote {target.name}"

    return check


def _sample_killed_then_again(work: Path) -> str:
    """``core sample -o out/x.png`` killed (-9) while it writes the PNG, then run again."""
    run = hostile.trained_toy_run(work)
    (work / "out").mkdir()
    (work / "kill.py").write_text(_KILLED)
    args = ("sample", str(run), "-n", "4", "-o", str(work / "out" / "x.png"))
    killed = subprocess.run(
        [sys.executable, str(work / "kill.py"), "x.png@2", *args],  # made, then written
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, f"not killed: {killed.stderr[-300:]}"
    left = sorted(p.name for p in (work / "out").iterdir())
    _ok(*args)
    now = sorted(p.name for p in (work / "out").iterdir())
    assert now == ["x.png"], f"beside x.png after the next run: {now}"
    return f"the killed one left {left}; the next run cleaned it"


def _folder_modes(work: Path) -> str:
    os.umask(0o027)
    model = _convert_digits(work, "net")
    _ok(*_export_args(model, work / "v"))
    modes = {name: oct(stat.S_IMODE((work / name).stat().st_mode)) for name in ("net", "v")}
    assert modes == {"net": "0o750", "v": "0o750"}, f"umask 027 gave {modes}"
    return f"umask 027: {modes}"


def _overwrite_fails(command: str) -> Callable[[Path], str]:
    """``command`` (convert or export) with ``--overwrite`` fails half-way through the new
    folder: the old folder is left whole and nothing else beside it."""

    def check(work: Path) -> str:
        (work / "out").mkdir()
        if command == "export":
            first, second = _convert_digits(work, "a", 0), _convert_digits(work, "b", 1)
            target = work / "out" / "v"
            _ok(*_export_args(first, target))
            args = _export_args(second, target, "--overwrite")
        else:
            target = _convert_digits(work, "out/net", 0)
            checkpoint = _upstream_checkpoint(work / "other.pth", 1)
            args = ("difflut", "convert", str(checkpoint), "-o", str(target), "--num-classes")
            args += ("3", "--dataset", "digits", "--overwrite")
        before = _tree(target)
        _fail_replace_after(1)
        result = hostile.expect_cli_refused(*args)
        assert _tree(target) == before, "the old folder was changed before the new one was whole"
        beside = sorted(p.name for p in (work / "out").iterdir())
        assert beside == [target.name], f"left beside it: {beside}"
        return result

    return check


def _export_onto(make: Callable[[Path], None]) -> Callable[[Path], str]:
    """``core difflut export -o out/v`` where ``make(out/v)`` put something there first."""

    def check(work: Path) -> str:
        model = _convert_digits(work, "net")
        (work / "out").mkdir()
        (work / "elsewhere").mkdir()
        target = work / "out" / "v"
        make(target)
        watch = [target, work / "elsewhere"]
        before = [_state(p) for p in watch]
        result = hostile.expect_cli_refused(*_export_args(model, target))
        assert [_state(p) for p in watch] == before, "the target or what it leads to changed"
        beside = sorted(p.name for p in (work / "out").iterdir())
        assert beside == ["v"], f"left beside it: {beside}"
        return result

    return check


def _link_to_elsewhere(path: Path) -> None:
    path.symlink_to(Path("..") / "elsewhere", target_is_directory=True)


def _a_file(path: Path) -> None:
    path.write_text("keep me")


def _synth_mismatch(how: str) -> Callable[[Path], str]:
    """``core difflut export``, then the .v is edited or another export's, then ``synth``."""

    def check(work: Path) -> str:
        _needs_yosys()
        first = _convert_digits(work, "a", 0)
        _ok(*_export_args(first, work / "v"))
        source = work / "v" / "difflut_net.v"
        if how == "mixed":
            _ok(*_export_args(_convert_digits(work, "b", 1), work / "w"))
            source.write_bytes((work / "w" / "difflut_net.v").read_bytes())
        else:
            source.write_bytes(source.read_bytes().replace(b"assign", b"assign /* x */", 1))
        return hostile.expect_cli_refused("difflut", "synth", "--verilog", str(source))

    return check


def _needs_yosys() -> None:
    import shutil

    if shutil.which("yosys") is None:
        raise AssertionError("yosys is not installed: this case cannot run")


CASES = {
    "sample-o-fifo": (
        "files",
        "`core sample RUN -o FIFO` (a named pipe called x.png)",
        "exit 2, one line, the pipe left as it was",
        _sample_onto(_fifo),
    ),
    "sample-o-folder": (
        "files",
        "`core sample RUN -o FOLDER` (a folder called x.png, holding a file)",
        "exit 2, one line, the folder untouched (held before: the rename onto a folder failed)",
        _sample_onto(_folder),
    ),
    "sample-o-socket": (
        "files",
        "`core sample RUN -o SOCKET` (a listening unix socket called x.png)",
        "exit 2, one line, the socket left in place",
        _sample_onto(_socket),
    ),
    "sample-o-device": (
        "files",
        "`core sample RUN -o DEVICE` (a null character device made with mknod, as root)",
        "exit 2, one line, the device left in place",
        _sample_onto(_char_device),
    ),
    "sample-o-link-out": (
        "files",
        "`core sample RUN -o out/x.png`, x.png a link to ../elsewhere/target.png",
        "exit 2, one line; the link and the file it names untouched",
        _sample_onto(_link_out, "elsewhere/target.png"),
    ),
    "sample-o-dangling-link-out": (
        "files",
        "`core sample RUN -o out/x.png`, x.png a link to a missing file in another folder",
        "exit 2, one line; nothing created where the link leads",
        _sample_onto(_dangling_link_out, "elsewhere/new.png"),
    ),
    "sample-o-link-inside": (
        "files",
        "`core sample RUN -o out/x.png`, x.png a link to out/real.png (inside its folder)",
        "exit 0, the link replaced, real.png untouched (held before)",
        _sample_link_inside,
    ),
    "export-killed": (
        "files",
        "`core difflut export` killed (-9) after its first file, then run again",
        "no torn folder in place; the next run cleans what the killed one left",
        _killed_then_again("export"),
    ),
    "convert-killed": (
        "files",
        "`core difflut convert` killed (-9) after its first file, then run again",
        "no torn folder in place; the next run cleans what the killed one left",
        _killed_then_again("convert"),
    ),
    "sample-killed": (
        "files",
        "`core sample -o out/x.png` killed (-9) while it writes the PNG, then run again",
        "the next run removes the killed one's temporary file",
        _sample_killed_then_again,
    ),
    "folder-umask": (
        "files",
        "umask 027, `core difflut convert` and `core difflut export`",
        "both folders drwxr-x--- (not drwx------)",
        _folder_modes,
    ),
    "export-overwrite-fails": (
        "files",
        "`core difflut export --overwrite`, the disk fills after the new folder's first file",
        "exit 2, one line; the old export byte-identical, nothing left beside it",
        _overwrite_fails("export"),
    ),
    "convert-overwrite-fails": (
        "files",
        "`core difflut convert --overwrite`, the disk fills after the new folder's first file",
        "exit 2, one line; the old model byte-identical (held before: convert staged its folder)",
        _overwrite_fails("convert"),
    ),
    "export-o-link-out": (
        "files",
        "`core difflut export -o out/v`, v a link to the folder ../elsewhere",
        "exit 2, one line; nothing written where the link leads",
        _export_onto(_link_to_elsewhere),
    ),
    "export-o-fifo": (
        "files",
        "`core difflut export -o out/v`, v a named pipe",
        "exit 2, one line, the pipe left in place (held before: mkdir refused it)",
        _export_onto(_fifo),
    ),
    "export-o-file": (
        "files",
        "`core difflut export -o out/v`, v a regular file",
        "exit 2, one line, the file untouched (held before: mkdir refused it)",
        _export_onto(_a_file),
    ),
    "synth-mixed-export": (
        "files",
        "`core difflut synth --verilog v/difflut_net.v`, the .v copied from another export",
        "exit 2, one line: the .v does not match its manifest",
        _synth_mismatch("mixed"),
    ),
    "synth-edited-v": (
        "files",
        "`core difflut synth --verilog v/difflut_net.v`, one comment added to the .v",
        "exit 2, one line: the .v does not match its manifest",
        _synth_mismatch("edited"),
    ),
}
