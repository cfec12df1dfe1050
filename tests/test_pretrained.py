"""The versioned pretrained store: atomic version claims, references, listing, safety."""

from __future__ import annotations

import multiprocessing

import pytest
import torch

import core
from core import BaseModel, ComponentConfig
from core.errors import ConfigError, PretrainedError
from core.schema import Field, runtime


class StoreConfig(ComponentConfig):
    width: int = Field(4, ge=1, description="width")
    temperature: float = runtime(1.0, description="runtime knob")


class StoreModel(BaseModel):
    config_class = StoreConfig
    model_type = "store-model"

    def __init__(self, config=None, /, **overrides):
        super().__init__(config, **overrides)
        self.lin = torch.nn.Linear(2, self.config.width)

    def forward(self, x):
        return self.lin(x)


@pytest.fixture
def store(core_manager, tmp_path, monkeypatch):
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "home"))
    core_manager.registry.register("model", "store-model", StoreModel, plugin="test")
    return tmp_path / "home"


def test_versions_increment_and_name_means_latest(store):
    first = core.save_to_pretrained(StoreModel(width=2), "demo")
    second = core.save_to_pretrained(StoreModel(width=3), "demo")
    assert (first.version, second.version) == (1, 2)
    assert (store / "store-model" / "demo" / "v2" / "demo.safetensors").is_file()
    assert core.load_pretrained("demo").config.width == 3
    assert core.load_pretrained("store-model/demo/v1").config.width == 2
    assert core.pretrained_info("demo").meta["parameters"] == 3 * 2 + 3
    assert [i.reference for i in core.list_pretrained() if i.source == "store"] == [
        "store-model/demo/v1",
        "store-model/demo/v2",
    ]


def test_explicit_version_and_its_conflict(store):
    core.save_to_pretrained(StoreModel(), "demo", version=5)
    assert core.pretrained_info("demo").version == 5
    with pytest.raises(PretrainedError, match="v5 already exists"):
        core.save_to_pretrained(StoreModel(), "demo", version=5)
    assert core.save_to_pretrained(StoreModel(), "demo").version == 6


def _save_one(width, barrier, home):
    import os

    os.environ["CORE_HOME"] = home
    barrier.wait()
    core.save_to_pretrained(StoreModel(width=width), "race")


def test_concurrent_saves_get_distinct_intact_versions(store):
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_save_one, args=(w, barrier, str(store))) for w in range(1, 9)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    infos = [i for i in core.list_pretrained() if i.name == "race"]
    assert sorted(i.version for i in infos) == list(range(1, 9))
    widths = sorted(core.load_pretrained(i.reference).config.width for i in infos)
    assert widths == list(range(1, 9))
    assert not [p for p in (store / "store-model" / "race").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("bad", ["../escape", "/abs/path", "a/b/c/d", "..", "x/../../y"])
def test_references_cannot_escape_the_store(store, bad):
    with pytest.raises(PretrainedError):
        core.load_pretrained(bad)


def test_unknown_name_lists_what_exists(store):
    core.save_to_pretrained(StoreModel(), "demo")
    with pytest.raises(PretrainedError, match=r"no pretrained model 'demoo'.*store-model/demo/v1"):
        core.load_pretrained("demoo")


def test_build_model_overrides_runtime_but_not_structural_parameters(store):
    core.save_to_pretrained(StoreModel(width=3), "demo")
    model = core.build_model("demo", overrides={"temperature": 0.5})
    assert model.config.temperature == 0.5 and model.config.width == 3
    with pytest.raises(ConfigError, match="cannot override structural parameter.*width"):
        core.build_model("demo", overrides=["width=4"])
    fresh = core.build_model("demo", load_weights=False)
    assert not torch.equal(fresh.lin.weight, core.load_pretrained("demo").lin.weight)


def test_plugin_shipped_pretrained_entries_are_listed(store, tmp_path, tmp_plugin):
    StoreModel(width=7).save_pretrained(tmp_path / "shipped", name="shipped")

    def register_pretrained(register):
        register("shipped", str(tmp_path / "shipped"), model_type="store-model", description="d")

    tmp_plugin(register_pretrained=register_pretrained, name="shipper")
    info = core.pretrained_info("shipped")
    assert info.source == "shipper" and info.version is None
    assert core.load_pretrained("shipped").config.width == 7
