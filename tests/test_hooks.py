"""Every hook is tested here (per-kind hooks over the declared kinds) and documented in hooks.md."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

import core
from core.hookspecs import HOOKS, PLATFORM_HOOKS
from core.kinds import BUILTIN_KINDS

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reference" / "hooks.md"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    text = DOCS.read_text()
    assert re.search(rf"^## `{hook}\(", text, re.M), f"{hook} has no section in {DOCS}"


@pytest.mark.parametrize("hook", PLATFORM_HOOKS)
def test_every_platform_hook_has_its_own_test(hook):
    """Per-kind hooks share ``test_register_kind_hook``, parametrized over the declared kinds."""
    assert callable(getattr(sys.modules[__name__], f"test_{hook}", None)), f"no test_{hook}"


def test_every_hookspec_has_a_docstring():
    from core import hookspecs

    for hook in HOOKS:
        assert (getattr(hookspecs, hook).__doc__ or "").strip(), hook


@pytest.mark.parametrize("kind", BUILTIN_KINDS, ids=lambda kind: kind.hook)
def test_register_kind_hook(kind, tmp_plugin, tmp_path, monkeypatch):
    """Each declared kind's hook registers a lazy component that core lists, gets and builds."""
    name = kind.name
    module = f"hookmod_{kind.identifier}"
    (tmp_path / f"{module}.py").write_text(
        "from core import Component\n"
        "from core.schema import ComponentConfig, Field\n"
        "class Cfg(ComponentConfig):\n"
        "    size: int = Field(3, ge=1, description='a size')\n"
        "class Thing(Component):\n"
        "    def __init__(self, config=None, /, **kw):\n"
        "        self.config = self.resolve_config(config, **kw)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    def impl(register):
        register(f"my-{name}", f"{module}:Thing", config=f"{module}:Cfg", aliases=[f"My{name}"])

    record = tmp_plugin(name=f"hp-{name}", **{kind.hook: impl})
    assert record.status == "loaded" and record.components == {name: 1}
    assert module not in sys.modules  # registration is lazy
    cls = getattr(core, f"get_{kind.identifier}")(f"my-{name}")
    assert cls.__name__ == "Thing"
    built = core.build(name, {"type": f"My{name}", "size": 5})
    assert built.config.size == 5
    assert core.list_components(name, "my-*") == [f"my-{name}"]


def test_register_pretrained(tmp_plugin, tmp_path, monkeypatch):
    monkeypatch.setenv("CORE_HOME", str(tmp_path / "empty-store"))

    def register_pretrained(register):
        register("shipped-weights", str(tmp_path), model_type="some-model", description="d")

    record = tmp_plugin(register_pretrained=register_pretrained, name="ships")
    assert record.components == {"pretrained": 1}
    info = core.pretrained_info("some-model/shipped-weights")
    assert (info.source, info.path, info.description) == ("ships", tmp_path, "d")


def test_register_commands(tmp_plugin, capsys):
    import click

    from core.cli import main

    def register_commands(cli):
        @cli.command("hello")
        @click.argument("who")
        def hello(who):
            """Say hello."""
            click.echo(f"hello {who}")

    tmp_plugin(register_commands=register_commands, name="greeter")
    assert main(["hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"


TOKENIZERS = """
from typing import Protocol, runtime_checkable

from core import Component
from core.schema import ComponentConfig, Field


@runtime_checkable
class Tokenizer(Protocol):
    def tokenize(self, text: str) -> list[int]: ...


class BytesConfig(ComponentConfig):
    offset: int = Field(0, ge=0, description="added to every byte")


class Bytes(Component):
    kind = "tokenizer"

    def __init__(self, config=None, /, **kw):
        self.config = self.resolve_config(config, **kw)

    def tokenize(self, text):
        return [b + self.config.offset for b in text.encode()]
"""


def test_register_kinds(tmp_plugin, tmp_path, monkeypatch, capsys):
    from core.cli import main
    from core.testing import check_component

    (tmp_path / "tok_plugin_mod.py").write_text(TOKENIZERS)
    monkeypatch.syspath_prepend(str(tmp_path))

    def register_kinds(register):
        register("tokenizer", "text tokenizers", base="tok_plugin_mod:Tokenizer")

    def register_tokenizers(register):
        register("bytes", "tok_plugin_mod:Bytes", config="tok_plugin_mod:BytesConfig")

    record = tmp_plugin(
        name="tok", register_kinds=register_kinds, register_tokenizers=register_tokenizers
    )
    assert record.status == "loaded", record.error
    assert record.kinds == ["tokenizer"] and record.components == {"tokenizer": 1}
    assert core.get_kind("tokenizers").plugin == "tok"
    assert core.list_components("tokenizer") == ["bytes"]
    assert core.get_tokenizer("bytes").__name__ == "Bytes"
    assert core.build("tokenizer", {"type": "bytes", "offset": 1}).tokenize("a") == [98]
    report = check_component("tokenizer", "bytes")
    assert {"builds", "contract", "config-round-trip", "bad-config"} <= set(report.checks)
    assert main(["components", "list", "tokenizer"]) == 0
    assert "bytes" in capsys.readouterr().out
    assert main(["info", "bytes", "--kind", "tokenizer"]) == 0
    assert "offset" in capsys.readouterr().out
    assert main(["schema", "bytes"]) == 0
    assert '"offset"' in capsys.readouterr().out


def test_register_components(tmp_plugin):
    def register_components(register):
        register("lr-schedule", "half", "json:dumps", description="half the LR")
        register("metric", "noop", "json:loads", aliases=["nothing"])

    record = tmp_plugin(name="any-kind", register_components=register_components)
    assert record.components == {"lr-schedule": 1, "metric": 1}
    assert core.get_component("lr-schedule", "half") is json.dumps
    assert core.get_metric("nothing") is json.loads
