"""Hostile inputs, one case each, shared by the tests and ``benchmarks/reliability.py``.

Builders make the inputs (a PNG whose header lies, an IDX header claiming 65536^4 items, a
manifest, a full disk). ``CASES`` lists every case the benchmark measures; ``run`` runs one
in a forked child (its own working directory, umask, patches and memory limit) and says
whether core refused it as promised.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import multiprocessing
import os
import resource
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _toy import toy_run  # this folder is on sys.path (load_helper, the benchmark's _helper)

from core.testing.refusals import expect_cli_refused, expect_refused

__all__ = [
    "png_claiming",
    "real_png",
    "idx_bytes",
    "write_manifest",
    "fail_temp_file_writes",
    "mounted_tmpfs",
    "trained_toy_run",
    "Case",
    "CASES",
    "run",
]


# -- builders --------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny grey PNG whose header claims ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + _chunk(b"IEND", b"")
    )


def real_png(width: int, height: int) -> bytes:
    """A black grey-scale PNG of that size."""
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((height, width), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def idx_bytes(dtype_code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    """An IDX file: magic number, the shape's dimensions, then ``payload``."""
    return bytes([0, 0, dtype_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def write_manifest(folder: Path, rows: list[dict[str, str]]) -> Path:
    """``folder/data.csv`` holding ``rows``."""
    path = folder / "data.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def fail_temp_file_writes(patch: Callable[[Any, str, Any], None], code: int) -> None:
    """Make ``os.write`` into a ``*.tmp`` file write 100 bytes, then raise ``OSError(code)``.

    ``patch`` is ``monkeypatch.setattr`` (or ``setattr``): it replaces ``os.write``.
    """
    real_write = os.write
    started: set[int] = set()

    def write(fd: int, data: Any) -> int:
        if not os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
            return real_write(fd, data)
        if fd not in started:  # a short write first, as a disk that is filling up gives
            started.add(fd)
            return real_write(fd, bytes(memoryview(data)[:100]))
        raise OSError(code, os.strerror(code))

    patch(os, "write", write)


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: str = "96k") -> Iterator[Path | str]:
    """A tmpfs of ``size`` on ``where``; yields the reason instead where mounting is refused."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        yield f"cannot run mount: {exc}"
        return
    if done.returncode != 0:
        yield f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}"
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


# -- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One hostile input: how it is given, what core must do, and the code that gives it."""

    group: str
    given: str
    expected: str
    check: Callable[[Path], str]  # returns what happened; raises AssertionError if not expected
    round: int = 2


def _mode_under_umask(work: Path) -> str:
    from core.atomic import atomic_write_text
    from core.weights import save_weights

    os.umask(0o022)
    atomic_write_text(work / "config.yaml", "a: 1\n")
    save_weights({}, work / "w.safetensors")
    modes = {oct(os.stat(work / n).st_mode & 0o777) for n in ("config.yaml", "w.safetensors")}
    assert modes == {"0o644"}, modes
    return "mode 0o644 (0o666 less the umask), as a plain open gives"


def _full_write(save: str) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        import torch

        from core.pretrained import list_pretrained, save_to_pretrained
        from core.training.checkpoint import save_torch
        from core.weights import save_weights

        os.environ["CORE_HOME"] = str(work / "store")
        model = None
        if save == "store":
            from core.building import build_model

            model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
            save_to_pretrained(model, "tiny")
        action = {
            "weights": lambda: save_weights({"w": torch.zeros(1000)}, work / "m.safetensors"),
            "checkpoint": lambda: save_torch(work / "optimizer.pt", {"s": torch.zeros(1000)}),
            "store": lambda: save_to_pretrained(model, "tiny"),
        }[save]
        fail_temp_file_writes(setattr, errno.ENOSPC)
        result = expect_refused("AtomicWriteError", action)
        if save == "store":
            versions = [i.version for i in list_pretrained() if i.source == "store"]
            assert versions == [1], versions
        return result

    return check


def _real_full_disk(work: Path) -> str:
    import torch

    from core.weights import read_weights, save_weights

    with mounted_tmpfs(work / "disk") as disk:
        if isinstance(disk, str):
            return f"skipped: {disk}"
        save_weights({"w": torch.ones(100)}, disk / "m.safetensors")
        result = expect_refused(
            "AtomicWriteError",
            lambda: save_weights({"w": torch.zeros(50_000)}, disk / "m.safetensors"),
        )
        assert torch.equal(read_weights(disk / "m.safetensors")["w"], torch.ones(100))
        return result + " (the previous file reads back)"


def _image_folder_bomb(width: int, height: int) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        import core

        (work / "bomb.png").write_bytes(png_claiming(width, height))
        return expect_refused(
            "DataError", lambda: core.build("dataset", {"type": "image-folder", "root": str(work)})
        )

    return check


def _idx_overflow(work: Path) -> str:
    from core.data.files import read_idx

    path = work / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(0x08, (65536,) * 4, b""))
    return expect_refused("DataError", lambda: read_idx(path))


def _manifest(cell: str, kind: str = "image") -> Callable[[Path], str]:
    def check(work: Path) -> str:
        import core

        root = work / "data"
        root.mkdir()
        (root / "a.png").write_bytes(real_png(4, 4))
        (work / "outside.png").write_bytes(real_png(4, 4))
        (root / "link.png").symlink_to(work / "outside.png")
        value = cell.replace("OUTSIDE", str(work / "outside.png"))
        first = "a.png" if kind == "image" else "1"
        path = write_manifest(root, [{"x": first}, {"x": value}])
        spec = {"column": "x", "kind": kind}
        return expect_refused(
            "DataError",
            lambda: core.build(
                "dataset", {"type": "manifest", "path": str(path), "columns": {"x": spec}}
            ),
        )

    return check


def trained_toy_run(work: Path) -> Path:
    """A trained run directory in ``work`` (DDPM on 2-D points, two steps)."""
    from core.training import Trainer

    run = toy_run(timesteps=4, noise_schedule="linear", steps=2, batch_size=16)
    Trainer(run, run_dir=work / "run", quiet=True).fit()
    return work / "run"


def _sample(*args: str) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        run = trained_toy_run(work)
        os.chdir(work)
        start = time.perf_counter()
        result = expect_cli_refused("sample", str(run), *args)
        return f"{result} ({time.perf_counter() - start:.2f} s)"

    return check


def _new_plugin_newline(work: Path) -> str:
    result = expect_cli_refused(
        "new-plugin", "demo", "--no-input", "-o", str(work), "--description", "a\nb"
    )
    assert list(work.iterdir()) == [], "something was written"
    return result


def _new_plugin_quotes(work: Path) -> str:
    import tomllib

    from core.cli.new_plugin_cmd import render_plugin

    value = 'A "tiny" VAE \\ quoted'
    plugin = render_plugin("demo", output_dir=work, description=value, author='Jo "J" Doe')
    project = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["description"] == value and project["authors"][0]["name"] == 'Jo "J" Doe'
    return "pyproject.toml parses; description and author read back unchanged"


def _config(base: str | None = None, text: str = "", chain: int = 0) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        from core.config import Config

        if base == "fifo":
            os.mkfifo(work / "fifo.yaml")
        elif base == "big":
            (work / "big.yaml").write_bytes(b"a: 1\n" + b"#" * (50 << 20) + b"\n")
        for i in range(chain):
            (work / f"c{i}.yaml").write_text(
                f"_base_: c{i + 1}.yaml\n" if i + 1 < chain else "a: 1\n"
            )
        start = {"fifo": "fifo.yaml", "big": "big.yaml", "chain": "c0.yaml"}.get(base or "", base)
        head = f"_base_: {start}\n" if start else ""
        (work / "run.yaml").write_text(head + text, encoding="utf-8")
        return expect_refused("ConfigError", lambda: Config(work / "run.yaml").to_dict())

    return check


def _train_override(override: str) -> Callable[[Path], str]:
    def check(work: Path) -> str:
        import yaml

        config = toy_run(timesteps=4, noise_schedule="linear", steps=2, batch_size=16)
        (work / "run.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        result = expect_cli_refused(
            "train", str(work / "run.yaml"), override, "--runs-dir", str(work / "runs"), "-q"
        )
        assert not (work / "runs").exists() or not any((work / "runs").rglob("*")), "wrote files"
        return result

    return check


def _broken_store_entry(work: Path) -> str:
    from core.building import build_model
    from core.pretrained import list_pretrained, save_to_pretrained

    os.environ["CORE_HOME"] = str(work / "store")
    model = build_model({"model": {"type": "mlp-denoiser", "hidden_dim": 8}})
    save_to_pretrained(model, "good")
    bad = save_to_pretrained(model, "bad")
    (bad.path / "bad.yaml").write_text(
        "a: &a [*a, *a]\n" * 3 + "!!python/object/apply:os.system [x]\n"
    )
    found = {i.name: i for i in list_pretrained() if i.source == "store"}
    assert found["good"].status == "ok" and found["bad"].status == "broken", found
    return f"listed: good ok, bad broken ({found['bad'].error[:80]})"


CASES: dict[str, Case] = {
    "umask": Case("files", "umask 022, files written atomically", "mode 0o644", _mode_under_umask),
    "enospc-weights": Case(
        "files",
        "ENOSPC inside the write of a weights file",
        "AtomicWriteError",
        _full_write("weights"),
    ),
    "enospc-checkpoint": Case(
        "files",
        "ENOSPC inside the write of a checkpoint's optimizer.pt",
        "AtomicWriteError",
        _full_write("checkpoint"),
    ),
    "enospc-store": Case(
        "files",
        "ENOSPC while saving a store version",
        "AtomicWriteError, no version claimed",
        _full_write("store"),
    ),
    "tmpfs-full": Case(
        "files", "a real 96 KiB tmpfs, 200 KB of weights", "AtomicWriteError", _real_full_disk
    ),
    "png-30000": Case(
        "data",
        "image folder: PNG header claims 30000x30000",
        "DataError",
        _image_folder_bomb(30000, 30000),
    ),
    "png-12000": Case(
        "data",
        "image folder: PNG header claims 12000x12000",
        "DataError",
        _image_folder_bomb(12000, 12000),
    ),
    "idx-overflow": Case("data", "IDX header claims 65536^4 items", "DataError", _idx_overflow),
    "label-nan": Case("data", "manifest label `nan`", "DataError", _manifest("nan", "float")),
    "label-inf": Case(
        "data", "manifest label `inf` in an int column", "DataError", _manifest("inf", "int")
    ),
    "path-dotdot": Case(
        "data", "manifest path `../outside.png`", "DataError", _manifest("../outside.png")
    ),
    "path-absolute": Case(
        "data", "manifest path `/…/outside.png`", "DataError", _manifest("OUTSIDE")
    ),
    "path-symlink": Case(
        "data",
        "manifest path `link.png`, a symlink out of the folder",
        "DataError",
        _manifest("link.png"),
    ),
    "sample-n": Case(
        "command line",
        "`core sample RUN -n 1000000000`",
        "exit 2, one line",
        _sample("-n", "1000000000"),
    ),
    "sample-o": Case(
        "command line",
        "`core sample RUN -o missing/dir/x.png`",
        "exit 2, one line",
        _sample("-o", "missing/dir/x.png"),
    ),
    "plugin-newline": Case(
        "command line",
        "`core new-plugin demo --description $'a\\nb'`",
        "exit 2, one line, nothing written",
        _new_plugin_newline,
    ),
    "plugin-quotes": Case(
        "command line",
        "`core new-plugin demo --description 'A \"tiny\" VAE \\ quoted'`",
        "valid pyproject.toml",
        _new_plugin_quotes,
    ),
    "base-device": Case(
        "configs", "`_base_: /dev/zero`", "ConfigError, nothing read", _config("/dev/zero")
    ),
    "base-fifo": Case("configs", "`_base_:` a named pipe", "ConfigError, no wait", _config("fifo")),
    "base-50mb": Case("configs", "`_base_:` a 50 MB file", "ConfigError", _config("big")),
    "base-chain": Case(
        "configs", "a chain of 1,000 `_base_` files", "ConfigError", _config("chain", chain=1000)
    ),
    "lr-nan": Case(
        "configs",
        "`core train run.yaml train.lr=.nan`",
        "exit 2, one line",
        _train_override("train.lr=.nan"),
    ),
    "noise-inf": Case(
        "configs",
        "`core train run.yaml data.noise=.inf`",
        "exit 2, one line",
        _train_override("data.noise=.inf"),
    ),
    "store-broken": Case(
        "store",
        "a store version whose YAML is an alias bomb with a python tag",
        "listed as broken, the others ok",
        _broken_store_entry,
    ),
}


#: the areas of round 3, one module each: ``tests/reliability/_round3_<area>.py`` with ``CASES``,
#: a dict of name -> (group, given, expected, check). Each module sees this one as its global
#: ``hostile`` (for ``trained_toy_run`` and the other builders).
ROUND3_AREAS = ("files", "tools", "loading", "runs", "plugins", "inputs")


def _round3_cases() -> dict[str, Case]:
    import importlib.util

    cases = {}
    for area in ROUND3_AREAS:
        path = Path(__file__).with_name(f"_round3_{area}.py")
        if not path.exists():
            continue
        spec = importlib.util.spec_from_file_location(f"_core_round3_{area}", path)
        module = importlib.util.module_from_spec(spec)
        module.hostile = sys.modules[__name__]
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        for name, (group, given, expected, check) in module.CASES.items():
            assert name not in CASES and name not in cases, f"case {name} given twice"
            cases[name] = Case(group, given, expected, check, round=3)
    return cases


CASES.update(_round3_cases())


def _child(check: Callable[[Path], str], work: Path, answer: Any) -> None:
    if "torch" in sys.modules:  # OpenMP's thread pool does not survive fork: stay on one thread
        sys.modules["torch"].set_num_threads(1)
    limit = _address_space() + (2 << 30)  # 2 GiB more than the child holds at the start
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.chdir(work)
    try:
        answer.send({"passed": True, "result": check(work)})
    except AssertionError as exc:
        answer.send({"passed": False, "result": f"not as promised: {exc}"})
    except BaseException as exc:  # noqa: BLE001 - any other exception is a finding
        answer.send({"passed": False, "result": f"{type(exc).__name__}: {exc}"[:300]})


def _address_space() -> int:
    with open("/proc/self/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"VmSize:"):
                return int(line.split()[1]) * 1024
    return 8 << 30


def run(name: str, work: Path, timeout: float = 120) -> dict[str, Any]:
    """Run case ``name`` in a forked child inside ``work``: passed, result, seconds."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    start = time.perf_counter()
    child = context.Process(target=_child, args=(CASES[name].check, work, send))
    child.start()
    send.close()
    outcome = {"passed": False, "result": f"no answer within {timeout:.0f} s (a hang?)"}
    if receive.poll(timeout):
        try:
            outcome = receive.recv()
        except EOFError:  # the child died without answering (a crash, the memory limit)
            child.join(5)
            outcome = {"passed": False, "result": f"the case's process died ({child.exitcode})"}
    child.join(5)
    if child.is_alive():
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    outcome["seconds"] = round(time.perf_counter() - start, 2)
    outcome["result"] = outcome["result"].replace(str(work), "DIR")
    return outcome
