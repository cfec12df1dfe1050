"""BaseModel: configs in every form, user registration, weights and their errors."""

from __future__ import annotations

import pytest
import torch

import core
from core import BaseModel, ComponentConfig, Config
from core.errors import ConfigError, WeightsError
from core.schema import Field, runtime, runtime_fields, structural_fields


class TinyConfig(ComponentConfig):
    width: int = Field(8, ge=1, le=512, description="hidden width")
    temperature: float = runtime(1.0, gt=0, description="output softness")


class Tiny(BaseModel):
    def __init__(self, config=None, /, **overrides):
        super().__init__(config, **overrides)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, self.config.width), torch.nn.Tanh())
        self.register_buffer("scale", torch.ones(self.config.width))

    def forward(self, x):
        return self.net(x) * self.scale / self.config.temperature

    def example_inputs(self, batch_size=2):
        return (torch.randn(batch_size, 4),)


@pytest.fixture
def tiny(core_manager):
    core_manager.registry.register(
        "model", "tiny", Tiny, config=TinyConfig, plugin="testplug", distribution="core-test"
    )
    return Tiny


def test_get_model_accepts_run_config_section_dict_path_and_config(tiny, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  type: tiny\n  width: 3\ntrain: {steps: 1}\n")
    cls = core.get_model("tiny")
    for given in (Config(path), str(path), {"model": {"type": "tiny", "width": 3}}, {"width": 3}):
        assert cls(given).config.width == 3
    assert cls(TinyConfig(width=3)).config.width == 3
    assert cls(width=5).net[0].out_features == 5


def test_config_errors_name_file_path_component_and_plugin(tiny, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  type: tiny\n  widht: 3\n")
    with pytest.raises(ConfigError) as err:
        core.build_model(path)
    message = str(err.value)
    assert str(path) in message and "model.widht" in message
    assert "did you mean 'width'" in message and "model 'tiny' from testplug" in message
    with pytest.raises(
        ConfigError, match=r"model.width: got 0; expected greater than or equal to 1"
    ):
        core.build("model", {"type": "tiny", "width": 0}, where="model")


def test_a_whole_section_check_reads_as_its_own_message(core_manager):
    from pydantic import model_validator

    class PairConfig(ComponentConfig):
        low: int = 0
        high: int = 1

        @model_validator(mode="after")
        def _ordered(self):
            if self.low >= self.high:
                raise ValueError(f"low ({self.low}) must be below high ({self.high})")
            return self

    core_manager.registry.register("model", "pair", Tiny, config=PairConfig, plugin="testplug")
    with pytest.raises(ConfigError) as err:
        core.build("model", {"type": "pair", "low": 3, "high": 2}, where="model")
    assert str(err.value).startswith("model: low (3) must be below high (2) [model 'pair'")
    assert "got {" not in str(err.value)


def test_build_without_type_and_with_unknown_type(tiny):
    with pytest.raises(ConfigError, match="needs 'type: <name>'"):
        core.build("model", {"width": 3})
    with pytest.raises(ConfigError, match="did you mean 'tiny'"):
        core.build("model", {"type": "tinny"})


def test_user_model_without_schema_receives_config_as_given(core_manager):
    @core.register_model("my-model")
    class MyModel(BaseModel):
        def __init__(self, config):
            super().__init__(config)
            self.fc = torch.nn.Linear(config.model.input_dim, 2)

    cfg = Config({"model": {"type": "my-model", "input_dim": 5}})
    model = core.get_model("my-model")(cfg)
    assert model.fc.in_features == 5
    assert core.get_model("user:my-model") is MyModel


def test_runtime_and_structural_fields(tiny):
    assert runtime_fields(TinyConfig) == {"temperature"}
    assert structural_fields(TinyConfig) == {"width"}
    model = Tiny(width=2)
    assert model.apply_runtime_overrides(temperature=2.0) == {"temperature": 2.0}
    with pytest.raises(ConfigError, match="width is a structural parameter"):
        model.apply_runtime_overrides(width=4)
    with pytest.raises(ConfigError, match=r"expected greater than 0"):
        model.apply_runtime_overrides(temperature=-1.0)
    assert model.config.temperature == 2.0


def test_save_and_load_pretrained_round_trip(tiny, tmp_path):
    model = Tiny(width=6)
    with torch.no_grad():
        model.scale.mul_(3)
    model.save_pretrained(tmp_path / "m")
    saved = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert saved == ["README.md", "tiny.safetensors", "tiny.yaml"]
    loaded = BaseModel.from_pretrained(tmp_path / "m")
    assert type(loaded) is Tiny and loaded.config == model.config
    x = torch.randn(3, 4)
    assert torch.equal(loaded(x), model.eval()(x))
    assert model.count_parameters() == 4 * 6 + 6


def test_conformance_kit_on_a_model(tiny):
    from core.testing import check_component

    report = check_component("model", "tiny", {"width": 3})
    assert "save-load" in report.checks
    assert "bad-config" in report.checks


def test_missing_truncated_and_corrupt_weights(tiny, tmp_path):
    model = Tiny(width=4)
    with pytest.raises(WeightsError, match="weights file not found"):
        model.load_weights(tmp_path / "none.safetensors")
    core.save_weights(model, tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "t.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        model.load_weights(tmp_path / "t.safetensors")
    (tmp_path / "c.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        model.load_weights(tmp_path / "c.safetensors")


def test_weights_that_do_not_fit_load_nothing(tiny, tmp_path):
    core.save_weights(Tiny(width=4), tmp_path / "w4.safetensors")
    target = Tiny(width=5)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(
        WeightsError, match=r"wrong shape: .*net.0.bias \(file \(4,\), model \(5,\)\)"
    ):
        target.load_weights(tmp_path / "w4.safetensors")
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_legacy_pth_loads_tensors_but_never_unpickles_objects(tiny, tmp_path):
    model = Tiny(width=4)
    torch.save(model.state_dict(), tmp_path / "ok.pth")
    Tiny(width=4).load_weights(tmp_path / "ok.pth")

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="refused"):
        Tiny(width=4).load_weights(tmp_path / "evil.pth")


def test_model_is_device_agnostic(tiny):
    model = Tiny(width=2)
    assert model.device.type == "cpu"
    if torch.cuda.is_available():  # pragma: no cover - exercised on GPU machines
        assert model.to("cuda").device.type == "cuda"
