"""``core new-plugin NAME`` refuses a name whose distribution or package would shadow one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from core.cli.new_plugin_cmd import render_plugin, shadowed_by, template_dir, template_names
from core.errors import ConfigError
from core.testing.refusals import expect_cli_refused


def bare_package_template(tmp_path: Path) -> Path:
    """Core's template, deriving the import package from NAME alone (no ``core_`` prefix); the
    hostile cases of tests/reliability/_round3_inputs.py use it too."""
    template = tmp_path / "template"
    shutil.copytree(template_dir(), template)
    path = template / "cookiecutter.json"
    data = json.loads(path.read_text())
    data["package_name"] = "{{ cookiecutter.plugin_name|lower|replace('-', '_') }}"
    path.write_text(json.dumps(data))
    return template


def test_names_come_from_the_template() -> None:
    names = template_names(template_dir(), {"plugin_name": "my-gan", "kinds": "model"})
    assert names == {"dist_name": "core-my-gan", "package_name": "core_my_gan"}


def test_a_name_of_an_installed_plugin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        render_plugin("diffusion", output_dir=tmp_path)
    message = str(caught.value)
    assert "core_diffusion" in message and "shadow" in message and "my-diffusion" in message
    assert "\n" not in message
    assert not any(tmp_path.iterdir()), "nothing is written"


def test_the_command_line_says_one_line(tmp_path: Path) -> None:
    result = expect_cli_refused("new-plugin", "core-diffusion", "--no-input", "-o", str(tmp_path))
    assert "core_diffusion" in result
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("name", "said"),
    [("json", "standard library"), ("torch", "already installed"), ("core", "already installed")],
)
def test_a_template_whose_package_is_a_module_refuses_it(
    tmp_path: Path, name: str, said: str
) -> None:
    template = bare_package_template(tmp_path)
    with pytest.raises(ConfigError, match=said):
        render_plugin(name, output_dir=tmp_path / "out", template=template)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("answers", "said"),
    [
        ({"package_name": "json"}, "standard library"),
        ({"package_name": "torch"}, "'torch' is already installed"),
        ({"dist_name": "core-diffusion", "package_name": "core_zz_free"}, "'core-diffusion'"),
    ],
)
def test_the_template_hook_refuses_answers_that_shadow(
    hook_refusal: Callable[..., str], answers: dict[str, str], said: str
) -> None:
    assert said in hook_refusal(plugin_name="zz-free", **answers)


def test_a_package_inside_the_folder_rendered_again_is_the_plugin_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "core-selfish"
    (target / "core_selfish").mkdir(parents=True)
    (target / "core_selfish" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(target))  # as an editable install of it would
    assert "already installed" in (shadowed_by("core-selfish", "core_selfish") or "")
    assert shadowed_by("core-selfish", "core_selfish", target) is None
    assert shadowed_by("core-zz-free", "core_zz_free") is None
