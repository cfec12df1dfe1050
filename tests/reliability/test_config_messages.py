"""Config errors name where a bad key was set (a file or ``<command line>``) and never echo
the content of a file that is not a config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from core.building import build, build_model
from core.config import COMMAND_LINE, Config
from core.errors import ConfigError
from core.training.configs import RUN_SECTIONS
from core.training.trainer import validate_run_config

from .conftest import REPEATABLE

SHADOW = (
    "root:$6$Zq8saltSALT$SECRETHASHroot0123456789abcdefABCDEF:20228:0:99999:7:::\n"
    "daemon:*:20228:0:99999:7:::\n"
    "alice:$6$xyzsalt$SECRETHASHalice9876543210zyxwvuZYXWVU:20228:0:99999:7:::\n"
)
RUN = {"model": {"type": "mlp-denoiser"}, "data": {"type": "toy2d"}, "train": {"steps": 2}}


def _run_file(folder: Path, extra: str = "") -> Path:
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(RUN) + extra, encoding="utf-8")
    return path


def _error(config: Config) -> str:
    with pytest.raises(ConfigError) as info:
        validate_run_config(config)
    return str(info.value)


def test_a_password_file_as_base_is_named_never_echoed(tmp_path):
    (tmp_path / "shadow").write_text(SHADOW, encoding="utf-8")
    message = _error(Config(_run_file(tmp_path, "_base_: shadow\n")))
    assert "SECRET" not in message and "root:" not in message and "alice" not in message
    assert message.startswith(f"{tmp_path / 'shadow'}: unknown top-level section <")
    assert "(and 2 more)" in message and "\n" not in message


def test_the_cli_prints_one_line_without_the_file(tmp_path, capsys):
    from core.cli import main

    (tmp_path / "shadow").write_text(SHADOW, encoding="utf-8")
    run = _run_file(tmp_path, "_base_: shadow\n")
    assert main(["train", str(run), "--runs-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "SECRET" not in err[0]
    assert not (tmp_path / "out").exists()


def test_a_misspelt_section_is_named_with_a_suggestion(tmp_path):
    message = _error(Config(_run_file(tmp_path, "trian: {steps: 3}\n")))
    assert "run.yaml: unknown top-level section 'trian' (did you mean 'train'?)" in message


@REPEATABLE
@given(
    secrets=st.dictionaries(
        st.text(min_size=1, max_size=30), st.text(max_size=40), min_size=1, max_size=8
    )
)
def test_a_mapping_base_is_echoed_by_one_key_at_most(tmp_path_factory, secrets):
    folder = tmp_path_factory.mktemp("secrets")
    document = {f"KEY{k}": f"SECRET{v}" for k, v in secrets.items() if k not in RUN_SECTIONS}
    (folder / "base.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    message = _error(Config(_run_file(folder, "_base_: base.yaml\n")))
    assert "SECRET" not in message
    assert message.count("KEY") <= 1
    assert "\n" not in message


def test_an_override_error_names_the_command_line_not_the_yaml(tmp_path):
    message = _error(Config(_run_file(tmp_path), overrides=["train.lr=-1"]))
    assert message.startswith(f"{COMMAND_LINE}: train.lr: got -1")
    assert "run.yaml" not in message


def test_errors_from_the_file_and_the_command_line_each_name_their_origin(tmp_path):
    run = _run_file(tmp_path, "sample: {n: 0}\n")
    config = Config(run, overrides=["sample.batch_size=0"])
    message = _error(config)
    assert f"{run}: sample.n: got 0" in message
    assert f"{COMMAND_LINE}: sample.batch_size: got 0" in message


@settings(max_examples=30, derandomize=True, deadline=None)
@given(
    key=st.sampled_from(["lr", "eps", "batch_size", "log_every", "grad_accumulation"]),
    value=st.integers(max_value=0) | st.floats(max_value=0.0, allow_nan=False),
)
def test_any_bad_train_override_names_the_command_line(tmp_path_factory, key, value):
    run = _run_file(tmp_path_factory.mktemp("run"))
    message = _error(Config(run, overrides=[(f"train.{key}", value)]))
    assert message.startswith(f"{COMMAND_LINE}: train.{key}: got ")
    assert str(run) not in message


def test_a_component_override_names_the_command_line(tmp_path):
    run = _run_file(tmp_path)
    config = Config(run, overrides=["model.hidden_dim=-3"])
    with pytest.raises(ConfigError, match=rf"^{COMMAND_LINE}: model.hidden_dim: got -3"):
        build("model", config["model"], where="model")
    with pytest.raises(ConfigError, match=rf"^{COMMAND_LINE}: model.type: unknown"):
        build("model", Config(run, overrides=["model.type=nosuch"])["model"], where="model")
    with pytest.raises(ConfigError, match=rf"^{COMMAND_LINE}: model.hidden_dim: got -3"):
        build_model(run, overrides=["hidden_dim=-3"])
    in_file = tmp_path / "in_file.yaml"
    in_file.write_text("model: {type: mlp-denoiser, hidden_dim: -3}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{in_file}: model.hidden_dim: got -3"):
        build_model(in_file)
