"""``_base_`` is bounded: regular files only, a size limit checked before reading, each base
read once per load (a diamond resolves in linear time), chains of bounded length."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import core.config
from core.config import MAX_BASE_DEPTH, Config, deep_merge
from core.errors import ConfigError

from .conftest import REPEATABLE, load_helper, run_limited

time_limit = load_helper("_deadline").time_limit


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _child_of(tmp_path: Path, base: str) -> Path:
    return _write(tmp_path / "run.yaml", f"_base_: {base}\ntrain: {{lr: 0.1}}\n")


def test_a_device_as_base_is_refused_without_reading_it(tmp_path):
    """Run in a child process under a 2 GiB address-space limit: reading /dev/zero would die."""
    child = _child_of(tmp_path, "/dev/zero")
    code = (
        "import sys\n"
        "from core.config import Config\n"
        "from core.errors import ConfigError\n"
        "try:\n"
        f"    Config({str(child)!r})\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    done = run_limited(code, timeout=60)
    assert done.returncode == 3, done.stderr[-2000:]
    assert "/dev/zero: is a character device; a config file must be a regular file" in done.stdout


def test_a_named_pipe_as_base_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    child = _child_of(tmp_path, "pipe.yaml")
    with time_limit(10), pytest.raises(ConfigError, match="pipe.yaml: is a named pipe"):
        Config(child)


def test_a_directory_as_config_is_refused(tmp_path):
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(ConfigError, match="folder.yaml: is a directory"):
        Config(tmp_path / "folder.yaml")


def test_a_50_mb_base_is_refused_at_once(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("w", encoding="utf-8") as handle:
        handle.write("a: 1\n")
        handle.truncate(50 * 2**20)  # sparse: 50 MB on paper, nothing on disk
    child = _child_of(tmp_path, "big.yaml")
    start = time.perf_counter()
    with time_limit(10), pytest.raises(ConfigError, match=r"52,428,800 bytes, over the 1,048,576"):
        Config(child)
    assert time.perf_counter() - start < 1.0


@settings(max_examples=30, derandomize=True, deadline=None)
@given(size=st.integers(min_value=0, max_value=600))
def test_a_file_is_read_exactly_when_it_is_within_the_limit(tmp_path_factory, size):
    limit = 300
    path = tmp_path_factory.mktemp("size") / "f.yaml"
    path.write_bytes(b"a: '" + b"x" * max(0, size - 6) + b"'\n" if size >= 6 else b" " * size)
    if size <= limit:
        assert core.config.read_text_file(path, limit) == path.read_text(encoding="utf-8")
    else:
        with pytest.raises(ConfigError, match=f"{size:,} bytes, over the {limit:,}-byte limit"):
            core.config.read_text_file(path, limit)


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    reads: dict[str, int] = {}
    real = core.config.read_text_file

    def counting(path, *args, **kwargs):
        reads[Path(path).name] = reads.get(Path(path).name, 0) + 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(core.config, "read_text_file", counting)
    return reads


def test_a_diamond_of_31_files_resolves_in_linear_time(tmp_path, monkeypatch):
    for i in range(31):
        bases = f"[{', '.join([f'f{i + 1}.yaml'] * 4)}]" if i < 30 else "[]"
        _write(tmp_path / f"f{i}.yaml", f"_base_: {bases}\nsection: {{k{i}: {i}}}\n")
    reads = _count_reads(monkeypatch)
    start = time.perf_counter()
    with time_limit(20):
        data = Config(tmp_path / "f0.yaml").to_dict()
    assert time.perf_counter() - start < 2.0
    assert data["section"] == {f"k{i}": i for i in range(31)}
    assert reads == {f"f{i}.yaml": 1 for i in range(31)}


def _reference(files: list[tuple[list[int], int]], i: int) -> dict:
    """The merge of file i, resolved naively (no memo)."""
    bases, _ = files[i]
    merged: dict = {}
    for j in bases:
        merged = deep_merge(merged, _reference(files, j))
    return deep_merge(merged, {"shared": i, "section": {f"k{i}": i}})


@st.composite
def base_graphs(draw: st.DrawFn) -> list[tuple[list[int], int]]:
    """Files 0..n-1; file i names bases among the later files, repeats allowed."""
    n = draw(st.integers(min_value=1, max_value=7))
    return [
        (draw(st.lists(st.integers(min_value=i + 1, max_value=n - 1), max_size=4)), i)
        if i < n - 1
        else ([], i)
        for i in range(n)
    ]


@REPEATABLE
@given(files=base_graphs())
def test_any_base_graph_merges_as_naive_resolution_reading_each_file_once(
    tmp_path_factory, monkeypatch, files
):
    folder = tmp_path_factory.mktemp("graph")
    for bases, i in files:
        document = {"_base_": [f"f{j}.yaml" for j in bases], "shared": i, "section": {f"k{i}": i}}
        _write(folder / f"f{i}.yaml", yaml.safe_dump(document))
    with monkeypatch.context() as patch:
        reads = _count_reads(patch)
        data = Config(folder / "f0.yaml").to_dict()
    assert data == _reference(files, 0)
    assert set(reads.values()) == {1}


def test_a_base_chain_longer_than_the_limit_is_refused(tmp_path):
    count = MAX_BASE_DEPTH + 5
    for i in range(count):
        base = f"_base_: f{i + 1}.yaml\n" if i < count - 1 else ""
        _write(tmp_path / f"f{i}.yaml", f"{base}k{i}: {i}\n")
    with pytest.raises(ConfigError, match=f"_base_ chain longer than {MAX_BASE_DEPTH} files"):
        Config(tmp_path / "f0.yaml")
    assert Config(tmp_path / f"f{count - MAX_BASE_DEPTH}.yaml")[f"k{count - 1}"] == count - 1


def test_a_chain_of_a_thousand_bases_is_a_config_error_not_a_recursion_error(tmp_path):
    for i in range(1000):
        base = f"_base_: f{i + 1}.yaml\n" if i < 999 else ""
        _write(tmp_path / f"f{i}.yaml", base)
    with pytest.raises(ConfigError, match="_base_ chain longer"):
        Config(tmp_path / "f0.yaml")
