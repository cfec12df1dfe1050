"""YAML configs: bases, environment variables, overrides, safe loading, error messages."""

from __future__ import annotations

import pytest

from core import Config
from core.config import parse_override
from core.errors import ConfigError


def write(path, text):
    path.write_text(text)
    return path


def test_attribute_and_item_access(tmp_path):
    cfg = Config(write(tmp_path / "a.yaml", "model:\n  type: x\n  width: 4\ntrain: {lr: 0.1}\n"))
    assert cfg.model.width == 4 and cfg["model"]["type"] == "x" and cfg.train.lr == 0.1
    cfg.model.width = 8
    assert cfg.to_dict()["model"]["width"] == 8
    assert cfg.source == str(tmp_path / "a.yaml")
    with pytest.raises(AttributeError, match="section 'model' has no key 'depth'"):
        _ = cfg.model.depth


def test_base_inheritance_merges_recursively_child_wins(tmp_path):
    write(tmp_path / "base.yaml", "model: {type: x, width: 4, depth: 2}\ntrain: {lr: 0.1}\n")
    child = write(tmp_path / "child.yaml", "_base_: base.yaml\nmodel: {width: 8}\n")
    cfg = Config(child)
    assert cfg.to_dict() == {"model": {"type": "x", "width": 8, "depth": 2}, "train": {"lr": 0.1}}
    assert cfg.origin("model.depth").endswith("base.yaml")
    assert cfg.origin("model.width").endswith("child.yaml")


def test_base_cycle_names_the_chain(tmp_path):
    write(tmp_path / "a.yaml", "_base_: b.yaml\n")
    write(tmp_path / "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match=r"_base_ cycle: .*a.yaml -> .*b.yaml -> .*a.yaml"):
        Config(tmp_path / "a.yaml")


def test_missing_base_is_a_clear_error(tmp_path):
    write(tmp_path / "a.yaml", "_base_: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"a.yaml: _base_ file not found: .*nowhere.yaml"):
        Config(tmp_path / "a.yaml")


def test_environment_variables_expand_with_types_and_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("CORE_TEST_STEPS", "250")
    monkeypatch.setenv("CORE_TEST_NAME", "digits")
    path = write(
        tmp_path / "e.yaml",
        "train: {steps: '${CORE_TEST_STEPS}', tag: 'run-${CORE_TEST_NAME}', lr: '${UNSET_X:-0.5}'}\n",
    )
    train = Config(path).train
    assert train.steps == 250 and train.tag == "run-digits" and train.lr == 0.5


def test_unset_environment_variable_is_an_error(tmp_path):
    path = write(tmp_path / "e.yaml", "data: {root: '${CORE_SURELY_UNSET_VAR}'}\n")
    with pytest.raises(
        ConfigError, match=r"data.root: environment variable \$\{CORE_SURELY_UNSET_VAR\}"
    ):
        Config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train.lr=1e-3", ("train.lr", 1e-3)),
        ("train.steps=10", ("train.steps", 10)),
        ("model.widths=[1, 2]", ("model.widths", [1, 2])),
        ("model.flag=true", ("model.flag", True)),
        ("model.name=abc", ("model.name", "abc")),
        ("model.none=null", ("model.none", None)),
    ],
)
def test_overrides_are_typed_like_yaml(text, expected):
    assert parse_override(text) == expected


def test_overrides_apply_and_create_sections(tmp_path):
    path = write(tmp_path / "o.yaml", "model: {type: x}\n")
    cfg = Config(path, overrides=["model.width=3", "train.lr=0.01"])
    assert cfg.model.width == 3 and cfg.train.lr == 0.01
    assert cfg.origin("model.width") == "<command line>"


@pytest.mark.parametrize("bad", ["noequals", "=3", "a..b=1", "a b=1"])
def test_malformed_override_is_an_error(bad):
    with pytest.raises(ConfigError, match="must look like 'section.key=value'"):
        parse_override(bad)


def test_override_through_a_scalar_is_an_error():
    with pytest.raises(ConfigError, match="'model.type' holds 'x', not a section"):
        Config({"model": {"type": "x"}}, overrides=["model.type.deep=1"])


def test_python_tags_are_refused(tmp_path):
    path = write(tmp_path / "evil.yaml", "x: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match=r"evil.yaml:1:4: .*only plain YAML"):
        Config(path)


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.yaml", "model:\n  type: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+:\d+: invalid YAML"):
        Config(path)


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="must hold a mapping, got list"):
        Config(write(tmp_path / "l.yaml", "- 1\n- 2\n"))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        Config(tmp_path / "nope.yaml")


def test_save_round_trips(tmp_path):
    cfg = Config({"model": {"type": "x", "widths": [1, 2]}})
    cfg.save(tmp_path / "out.yaml")
    assert Config(tmp_path / "out.yaml") == cfg
