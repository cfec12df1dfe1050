"""One writer: every file core, its plugins and its scripts write goes through core.atomic."""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path

import pytest

from core.atomic import append_text
from core.errors import AtomicWriteError
from core.testing import check_writes_through_atomic
from core.testing.writes import direct_writes

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    ROOT / "core",
    ROOT / "scripts",
    *sorted(p for p in (ROOT / "plugins").glob("*/core_*") if p.is_dir()),
]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_every_write_goes_through_core_atomic(package):
    check_writes_through_atomic(package)


def _scan(tmp_path: Path, source: str) -> list[str]:
    package = tmp_path / "pkg"
    package.mkdir(exist_ok=True)
    (package / "m.py").write_text(textwrap.dedent(source))
    return [line.split(": ", 1)[1] for line in direct_writes(package)]


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("open(p, 'w').write('x')", "open(..., 'w')"),
        ("open(p, mode='ab')", "open(..., 'ab')"),
        ("path.open('r+')", "open(..., 'r+')"),
        ("path.write_text('x')", ".write_text(...)"),
        ("path.write_bytes(b'x')", ".write_bytes(...)"),
        ("torch.save(state, path)", "save(...)"),
        ("np.save(path, array)", "save(...)"),
        ("np.savez_compressed(path, a=array)", "savez_compressed(...)"),
        ("image.save(path)", "save(...)"),
        ("save_file(tensors, str(path))", "save_file(...)"),
    ],
)
def test_the_scan_finds_a_planted_write(tmp_path, source, found):
    assert _scan(tmp_path, source) == [found]


@pytest.mark.parametrize(
    "source",
    [
        "with atomic_path(target) as tmp:\n    image.save(tmp, format='PNG')",
        "with atomic_directory(target) as folder:\n    (folder / 'a').write_text('x')",
        "buffer = io.BytesIO()\nimage.save(buffer, format='PNG')\ntorch.save(state, buffer)",
        "data = save(tensors)",  # safetensors' save returns bytes
        "open(p).read()",
        "open(p, 'rb')",
        "path.write_text('x')  # own write: a fixture",
    ],
)
def test_the_scan_passes_writes_through_core_atomic(tmp_path, source):
    assert _scan(tmp_path, source) == []


def test_append_text_appends_and_refuses_what_a_write_refuses(tmp_path):
    log = tmp_path / "metrics.jsonl"
    append_text(log, "a\n")
    append_text(log, "b\n")
    assert log.read_text() == "a\nb\n"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(AtomicWriteError, match="FIFO"):
        append_text(fifo, "x\n")  # never blocks on the pipe
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "out.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
    with pytest.raises(AtomicWriteError, match="symbolic link leading out"):
        append_text(tmp_path / "sub" / "out.jsonl", "x\n")
    assert not (tmp_path / "elsewhere.jsonl").exists()
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(AtomicWriteError, match="socket"):
            append_text(tmp_path / "sock", "x\n")
