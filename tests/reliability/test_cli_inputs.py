"""Command-line values that used to run for hours, create folders or write invalid files."""

from __future__ import annotations

import ast
import os
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.cli.new_plugin_cmd import render_plugin
from core.cli.run_cmd import MAX_SAMPLES
from core.errors import ConfigError

from .conftest import load_helper

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def run_core(*args: str) -> int:
    """``core ARGS`` in-process."""
    return main(list(args))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture
def toy_run(tmp_path):
    """A trained run directory (DDPM on 2-D points, two steps)."""
    return load_helper("_hostile").trained_toy_run(tmp_path)


# -- core sample -n --------------------------------------------------------------------------


def test_sample_refuses_an_absurd_n_at_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    assert run_core("sample", "no-such-run", "-n", "1000000000") == 2
    assert time.monotonic() - started < 10
    line = one_error_line(capsys)
    assert f"at most {MAX_SAMPLES} samples" in line and "held in memory" in line
    assert list(tmp_path.iterdir()) == []


def test_sample_limit_is_exact(toy_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_core("sample", str(toy_run), "-n", str(MAX_SAMPLES + 1), "-o", "big.png") == 2
    assert "at most" in one_error_line(capsys)
    assert run_core("sample", str(toy_run), "-n", str(MAX_SAMPLES), "-o", "big.png") == 0
    assert (tmp_path / "big.png").is_file()


# -- core sample -o --------------------------------------------------------------------------


def test_sample_output_in_a_missing_folder_is_refused_first(tmp_path, capsys):
    output = tmp_path / "typo" / "deeper" / "grid.png"
    assert run_core("sample", "no-such-run", "-o", str(output)) == 2
    line = one_error_line(capsys)
    assert f"folder {output.parent} does not exist" in line  # said before the model is looked up
    assert not (tmp_path / "typo").exists()


def test_sample_output_that_is_a_folder_is_refused(tmp_path, capsys):
    assert run_core("sample", "no-such-run", "-o", str(tmp_path)) == 2
    assert "is a directory" in one_error_line(capsys)


def test_sample_output_that_core_atomic_refuses_is_refused_before_the_model(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "out.png").symlink_to(tmp_path.parent / "elsewhere.png")
    for target, problem in (("pipe.png", "FIFO"), ("out.png", "symbolic link leading out")):
        # the run does not exist: refusing the target first means no model was looked up
        assert run_core("sample", "no-such-run", "-o", str(tmp_path / target)) == 2
        assert problem in one_error_line(capsys)


def test_sample_help_states_both_rules(capsys):
    assert run_core("sample", "--help") == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"at most {MAX_SAMPLES}" in text and "its folder must exist" in text


# -- core new-plugin --description / --author -------------------------------------------------


def _refused(value: str) -> bool:
    has_control = any(unicodedata.category(c) == "Cc" for c in value)
    return has_control or any(mark in value for mark in ("{{", "{%", "{#"))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    description=st.text(min_size=1, max_size=40).filter(str.strip),
    author=st.text(min_size=1, max_size=20).filter(str.strip),
)
def test_any_description_and_author_render_valid_toml(tmp_path_factory, description, author):
    out = tmp_path_factory.mktemp("render")
    try:
        plugin = render_plugin("demo", output_dir=out, description=description, author=author)
    except ConfigError as exc:
        assert _refused(description) or _refused(author), exc
        assert "\n" not in str(exc)
        assert list(out.iterdir()) == []
        return
    assert not _refused(description) and not _refused(author)
    project = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["description"] == description
    assert project["authors"][0]["name"] == author
    package = ast.parse((plugin / "core_demo" / "__init__.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(package, clean=False).startswith(description + " (a core plugin")


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--description", "two\nlines", "control character U+000A"),
        ("--author", "tab\there", "control character U+0009"),
        ("--description", "{{ 7 * 7 }}", "template syntax"),
    ],
)
def test_new_plugin_refuses_what_cannot_be_written(tmp_path, capsys, option, value, problem):
    code = run_core("new-plugin", "demo", "--no-input", "-o", str(tmp_path), option, value)
    assert code == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {option}: ") and problem in line
    assert list(tmp_path.iterdir()) == []


def test_new_plugin_quotes_and_backslashes_round_trip(tmp_path, capsys):
    description = 'A "tiny" VAE \\ with quotes'
    args = ["new-plugin", "demo", "--no-input", "-o", str(tmp_path), "--description", description]
    assert run_core(*args, "--author", 'Jo "JD" Doe') == 0
    text = (tmp_path / "core-demo" / "pyproject.toml").read_text(encoding="utf-8")
    project = tomllib.loads(text)["project"]
    assert project["description"] == description
    assert project["authors"][0]["name"] == 'Jo "JD" Doe'


@pytest.mark.parametrize("name", ["../../escape", "", "a/b", ".", "..", " x"])
def test_train_run_name_is_one_folder_name(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text("model: {type: ddpm}\n")
    assert run_core("train", "run.yaml", "--run-name", name) == 2
    assert "a run name is one folder name" in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.parent.iterdir() if p.name == "escape") == []
    assert [p.name for p in tmp_path.iterdir()] == ["run.yaml"]  # nothing made
