"""A run config as flat hyperparameters."""

from __future__ import annotations

from pathlib import Path

from core.config import Config
from core.loggers.params import flatten_config, param_text, plain_config


def test_nested_sections_become_dotted_keys_and_lists_json_text():
    config = {
        "model": {"type": "ddpm", "unet": {"channels": [32, 64]}},
        "train": {"lr": 0.001, "amp": False, "ema": None, "loggers": ["jsonl", {"type": "mlflow"}]},
        "sample": {},
    }
    assert flatten_config(config) == {
        "model.type": "ddpm",
        "model.unet.channels": "[32, 64]",
        "train.lr": 0.001,
        "train.amp": False,
        "train.ema": None,
        "train.loggers": '["jsonl", {"type": "mlflow"}]',
        "sample": "{}",
    }


def test_config_objects_tuples_and_paths_become_plain_data():
    config = Config({"data": {"root": Path("/data/digits"), "size": (8, 8)}})
    assert plain_config(config) == {"data": {"root": "/data/digits", "size": [8, 8]}}
    assert flatten_config(config) == {"data.root": "/data/digits", "data.size": "[8, 8]"}


def test_values_are_spelled_as_in_yaml():
    assert [param_text(v) for v in (True, None, 0.001, 3, "ddpm")] == [
        "true",
        "null",
        "0.001",
        "3",
        "ddpm",
    ]
