"""YAML is read safely: no Python objects, bounded size, clear _base_ and override errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.config import Config, apply_overrides
from core.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['touch PWNED']",
        "a: !!python/object/new:subprocess.Popen [['touch', 'PWNED']]",
        "a: !!python/name:os.system",
        "a: !!python/module:os",
        "!!python/object:core.config.Config {}",
        "a: !custom-tag value",
    ],
)
def test_python_tags_are_refused(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "run.yaml", text)
    with pytest.raises(ConfigError, match=r"run\.yaml:1:\d+: .*only plain YAML is read"):
        Config(path)
    assert not (tmp_path / "PWNED").exists()


def test_python_tag_in_an_override_or_env_variable_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("EVIL", "!!python/object/apply:os.system ['touch PWNED']")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="<command line>: a.*only plain YAML"):
        Config({"a": 1}, overrides=["a=!!python/object/apply:os.system ['touch PWNED']"])
    path = _write(tmp_path / "run.yaml", "a: ${EVIL}\n")
    with pytest.raises(ConfigError, match="only plain YAML"):
        Config(path)
    assert not (tmp_path / "PWNED").exists()


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    path = _write(tmp_path / "bomb.yaml", "\n".join(lines) + "\n")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb\.yaml: the YAML expands to more than"):
        Config(path)
    assert time.perf_counter() - start < 10


def test_small_aliases_still_work(tmp_path):
    path = _write(tmp_path / "ok.yaml", "base: &b {lr: 0.1}\ntrain:\n  <<: *b\n  steps: 3\n")
    assert Config(path).to_dict()["train"] == {"lr": 0.1, "steps": 3}


@pytest.mark.parametrize("nesting", ["[" * 1500 + "]" * 1500, "{a: " * 1500 + "1" + "}" * 1500])
def test_deep_nesting_is_a_config_error(tmp_path, nesting):
    path = _write(tmp_path / "deep.yaml", f"a: {nesting}\n")
    with pytest.raises(ConfigError, match="nests"):
        Config(path)
    with pytest.raises(ConfigError, match="nests"):
        Config({}, overrides=[f"a={nesting}"])


def test_base_cycle_names_the_chain(tmp_path):
    _write(tmp_path / "a.yaml", "_base_: b.yaml\nx: 1\n")
    _write(tmp_path / "b.yaml", "_base_: c.yaml\ny: 1\n")
    _write(tmp_path / "c.yaml", "_base_: a.yaml\nz: 1\n")
    with pytest.raises(ConfigError) as info:
        Config(tmp_path / "a.yaml")
    message = str(info.value)
    assert "_base_ cycle" in message
    assert message.index("a.yaml") < message.index("b.yaml") < message.index("c.yaml")


def test_self_base_is_a_cycle(tmp_path):
    _write(tmp_path / "a.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match="_base_ cycle"):
        Config(tmp_path / "a.yaml")


def test_missing_base_names_the_chain(tmp_path):
    _write(tmp_path / "child.yaml", "_base_: middle.yaml\n")
    _write(tmp_path / "middle.yaml", "_base_: [gone.yaml]\n")
    with pytest.raises(ConfigError) as info:
        Config(tmp_path / "child.yaml")
    message = str(info.value)
    assert "gone.yaml" in message and "child.yaml" in message and "middle.yaml" in message


@pytest.mark.parametrize("value", ["3", "{a: 1}", "[[a.yaml]]", "[1]", "true"])
def test_bad_base_values_are_config_errors(tmp_path, value):
    _write(tmp_path / "run.yaml", f"_base_: {value}\n")
    with pytest.raises(ConfigError, match="_base_"):
        Config(tmp_path / "run.yaml")


def test_base_that_is_a_directory_or_not_a_mapping(tmp_path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "run.yaml", "_base_: sub\n")
    with pytest.raises(ConfigError, match="sub"):
        Config(tmp_path / "run.yaml")
    _write(tmp_path / "list.yaml", "- 1\n- 2\n")
    _write(tmp_path / "run2.yaml", "_base_: list.yaml\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        Config(tmp_path / "run2.yaml")


def test_undecodable_file_is_a_config_error(tmp_path):
    (tmp_path / "bad.yaml").write_bytes(b"a: \xff\xfe\x00")
    with pytest.raises(ConfigError, match="bad.yaml"):
        Config(tmp_path / "bad.yaml")


@pytest.mark.parametrize(
    ("data", "override", "match"),
    [
        ({"a": [1, 2]}, "a.0.x=1", "'a.0' holds 1, not a section"),
        ({"a": [1, 2]}, "a.7=1", "out of range"),
        ({"a": [1, 2]}, "a.-1=1", "must look like|out of range"),
        ({"a": 1}, "a.b.c=1", "'a' holds 1, not a section"),
        ({"a": 1}, "a..b=1", "must look like"),
        ({"a": 1}, "=1", "must look like"),
        ({"a": 1}, "a b=1", "must look like"),
        ({"a": 1}, "a=[1, 2", "invalid YAML"),
    ],
)
def test_bad_overrides_are_config_errors(data, override, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides(data, [override])
