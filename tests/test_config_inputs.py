"""Config inputs checked at the boundary: duplicate keys in one YAML file, and errors about a
key set on the command line naming ``<command line>`` rather than the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from core.building import build
from core.config import COMMAND_LINE, Config, parse_yaml
from core.errors import ConfigError
from core.training.trainer import validate_run_config

RUN = {"model": {"type": "mlp-denoiser"}, "data": {"type": "toy2d"}, "train": {"steps": 2}}


def _refused(text: str, source: str = "run.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, source)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_key_given_twice_names_both_lines():
    message = _refused("model:\n  type: x\n  lr: 1\n  lr: 2\n")
    assert message == "run.yaml:4:3: key 'model.lr' given twice (lines 3 and 4); give it once"


def test_a_section_given_twice_names_both_lines(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model: {type: a}\ntrain: {steps: 1}\nmodel: {type: b}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"run.yaml:3:1: section 'model' given twice \(lines 1 and 3\)"
    ):
        Config(path)


def test_duplicates_in_a_base_file_and_in_a_flow_mapping_are_refused(tmp_path):
    (tmp_path / "base.yaml").write_text("train:\n  steps: 1\n  steps: 2\n", encoding="utf-8")
    (tmp_path / "run.yaml").write_text("_base_: base.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"base.yaml:3:3: key 'train.steps' given twice"):
        Config(tmp_path / "run.yaml")
    assert "line 1, columns 6 and 12" in _refused("l: [{a: 1, a: 2}]\n")
    with pytest.raises(ConfigError, match=rf"^{COMMAND_LINE}: model:1:8: key 'a' given twice"):
        Config(RUN, overrides=["model={a: 1, a: 2}"])


def test_a_merge_key_may_still_be_overridden_and_distinct_keys_stay_apart():
    text = "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\nd: {1: a, '1': b}\n"
    assert parse_yaml(text, "f") == yaml.safe_load(text)


def test_no_yaml_is_read_but_through_the_one_loader():
    """``core.config.parse_yaml`` is the one way the project reads YAML (a plain
    ``yaml.safe_load`` would keep the last of two duplicate keys silently)."""
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("core/**/*.py"), *root.glob("plugins/*/core_*/**/*.py")]
    readers = re.compile(r"yaml\.(safe_load|load|full_load|unsafe_load|load_all|safe_load_all)\(")
    found = [
        str(path.relative_to(root))
        for path in sources
        if path != root / "core" / "config.py" and readers.search(path.read_text("utf-8"))
    ]
    assert found == []


def _error(config: Config) -> str:
    with pytest.raises(ConfigError) as info:
        validate_run_config(config)
    return str(info.value)


@pytest.mark.parametrize(
    "override, expected",
    [
        ("train.loggers=[{type: jsonl, bogus: 1}]", "train.loggers[0].bogus: unknown key"),
        ("train.loggers=[{type: tensorboard, flush_secs: -1}]", "train.loggers[0].flush_secs"),
        ("train.loggers=[jsonl, jsonl]", "train.loggers: jsonl given more than once"),
    ],
)
def test_a_logger_option_from_the_command_line_names_the_command_line(tmp_path, override, expected):
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump(RUN), encoding="utf-8")
    message = _error(Config(run, overrides=[override]))
    assert message.startswith(f"{COMMAND_LINE}: {expected}"), message
    assert "run.yaml" not in message


def test_a_logger_option_in_the_file_names_the_file(tmp_path):
    run = tmp_path / "run.yaml"
    document = {**RUN, "train": {"steps": 2, "loggers": [{"type": "jsonl", "bogus": 1}]}}
    run.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert _error(Config(run)).startswith(f"{run}: train.loggers[0].bogus: unknown key")


def test_an_indexed_logger_override_names_the_command_line(tmp_path):
    run = tmp_path / "run.yaml"
    document = {**RUN, "train": {"steps": 2, "loggers": [{"type": "jsonl"}]}}
    run.write_text(yaml.safe_dump(document), encoding="utf-8")
    message = _error(Config(run, overrides=["train.loggers.0.bogus=1"]))
    assert message.startswith(f"{COMMAND_LINE}: train.loggers[0].bogus"), message


def test_a_whole_section_check_naming_an_override_blames_the_command_line(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text(
        "model:\n  type: ddpm\n  image_size: 16\n  channels: 1\n"
        "  network: {type: ddpm-unet, in_channels: 1, base_channels: 8}\n",
        encoding="utf-8",
    )
    config = Config(run, overrides=["model.image_size=3"])
    with pytest.raises(ConfigError) as info:
        build("model", config["model"], where="model")
    assert str(info.value).startswith(f"{COMMAND_LINE}: model: image_size 3 is not divisible")
    in_file = tmp_path / "in_file.yaml"
    in_file.write_text(run.read_text().replace("image_size: 16", "image_size: 3"), "utf-8")
    with pytest.raises(ConfigError, match=rf"^{in_file}: model: image_size 3"):
        build("model", Config(in_file)["model"], where="model")
