"""The registry: names, aliases, qualified names, conflicts, suggestions, laziness."""

from __future__ import annotations

import sys

import pytest

from core.errors import AmbiguousNameError, PluginError, RegistryError, UnknownComponentError
from core.registry import Registry


def test_register_and_get_by_name_alias_and_qualified_name():
    registry = Registry()
    entry = registry.register("model", "dcgan", "json:dumps", aliases=["DCGAN"], plugin="gan")
    assert registry.get("model", "dcgan") is entry
    assert registry.get("models", "DCGAN") is entry
    assert registry.get("model", "gan:dcgan") is entry
    assert entry.qualified_name == "gan:dcgan"


def test_same_plugin_registering_again_replaces():
    registry = Registry()
    registry.register("loss", "mse", "json:dumps", plugin="p")
    registry.register("loss", "mse", "json:loads", plugin="p")
    assert [e.target for e in registry.entries("loss")] == ["json:loads"]


def test_short_name_from_two_plugins_is_ambiguous_but_qualified_names_work():
    registry = Registry()
    registry.register("model", "unet", "json:dumps", plugin="a", distribution="core-a")
    registry.register("model", "unet", "json:loads", plugin="b", distribution="core-b")
    with pytest.raises(AmbiguousNameError, match=r"a:unet, b:unet"):
        registry.get("model", "unet")
    assert registry.get("model", "b:unet").target == "json:loads"
    assert registry.conflicts() == [("model", "unet", ["a:unet", "b:unet"])]


def test_unknown_name_suggests_close_matches():
    registry = Registry()
    registry.register("model", "dcgan", "json:dumps", plugin="gan")
    with pytest.raises(UnknownComponentError, match=r"did you mean 'dcgan'"):
        registry.get("model", "dcgn")


def test_unknown_first_party_name_says_which_distribution_to_install():
    with pytest.raises(UnknownComponentError, match=r"pip install core-difflut"):
        Registry().get("model", "feedforward")


def test_name_registered_under_another_kind_is_pointed_out():
    registry = Registry()
    registry.register("sampler", "ddim", "json:dumps", plugin="diffusion")
    with pytest.raises(UnknownComponentError, match=r"registered as a sampler"):
        registry.get("model", "ddim")


@pytest.mark.parametrize("bad", ["", "has space", "a:b", None, "-leading"])
def test_invalid_names_are_refused(bad):
    with pytest.raises(RegistryError, match="invalid name"):
        Registry().register("model", bad, "json:dumps")


def test_lazy_target_must_look_like_module_colon_attr():
    with pytest.raises(RegistryError, match="package.module:attr"):
        Registry().register("model", "x", "not a reference")


def test_unknown_kind_is_an_error_with_suggestion():
    with pytest.raises(RegistryError, match="did you mean 'model'"):
        Registry().normalize_kind("modle")


def test_targets_are_imported_only_when_loaded(tmp_path, monkeypatch):
    (tmp_path / "lazy_target_mod.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    entry = registry.register("model", "thing", "lazy_target_mod:Thing", plugin="p")
    assert "lazy_target_mod" not in sys.modules
    assert registry.names("model") == ["thing"]
    cls = entry.load()
    assert cls.__name__ == "Thing" and "lazy_target_mod" in sys.modules
    assert cls.model_type == "thing"


def test_unimportable_target_names_entry_and_plugin():
    entry = Registry().register("model", "ghost", "no_such_module_xyz:Ghost", plugin="spooky")
    with pytest.raises(PluginError, match=r"model 'ghost' from plugin spooky.*no_such_module_xyz"):
        entry.load()


def test_names_filter_with_wildcards():
    registry = Registry()
    for name in ("cnn-denoiser", "cnn-denoiser-large", "mlp-denoiser", "dcgan"):
        registry.register("model", name, "json:dumps", plugin="p")
    assert registry.names("model", "cnn-*") == ["cnn-denoiser", "cnn-denoiser-large"]
    assert registry.names("model", "*denoiser") == ["cnn-denoiser", "mlp-denoiser"]
    assert registry.names(None, "p:dc*") == ["dcgan"]


def test_staged_registrations_roll_back_on_error():
    registry = Registry()
    with pytest.raises(RuntimeError), registry.staged():
        registry.register("model", "half", "json:dumps", plugin="p")
        raise RuntimeError("boom")
    assert registry.entries("model") == []
    with registry.staged():
        registry.register("model", "whole", "json:dumps", plugin="p")
    assert registry.names("model") == ["whole"]


def test_registered_config_is_the_one_declaration_even_over_an_inherited_one():
    from pydantic import BaseModel as Schema

    class BaseConfig(Schema):
        width: int = 1

    class OwnConfig(BaseConfig):
        depth: int = 2

    class Base:
        config_class = BaseConfig

    class Child(Base):  # names no config_class: the registration gives it
        pass

    class Explicit(Base):
        config_class = BaseConfig

    reg = Registry()
    reg.register("model", "child", Child, config=OwnConfig)
    reg.register("model", "explicit", Explicit, config=OwnConfig)
    assert reg.get("model", "child").load().config_class is OwnConfig
    assert Base.config_class is BaseConfig
    assert Explicit.config_class is BaseConfig  # a class's own declaration is kept
