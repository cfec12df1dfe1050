"""The cookiecutter template renders a plugin that installs, lists, tests, trains and uninstalls.

Renders through ``core new-plugin`` into a temporary directory, installs the result editable
into this environment (``pip install -e --no-deps``), checks ``core plugins list --json``,
runs the plugin's own tests and ``core train`` on its example config, then uninstalls it:
the uninstall always runs (fixture ``finally``), so the shared environment stays clean.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from core.cli.new_plugin_cmd import template_dir, template_examples
from core.kinds import BUILTIN_KINDS, builtin_kind

pytestmark = pytest.mark.slow

#: example kind -> its files, as the template declares them (cookiecutter.json's _examples).
EXAMPLES = template_examples()
ALL_KINDS = ["model", *EXAMPLES]
#: the kinds of core the template has no example of.
WITHOUT_EXAMPLE = [kind.name for kind in BUILTIN_KINDS if kind.name not in ALL_KINDS]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("CORE_LOAD_PLUGINS", "CORE_DISABLE_PLUGINS", "CORE_STRICT_PLUGINS"):
        env.pop(name, None)
    return env


def _run(*args: str | Path, cwd: Path | None = None, check: bool = True, timeout: int = 300):
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(),
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


def _core(*args: str | Path, **kwargs):
    return _run(sys.executable, "-m", "core", *args, **kwargs)


def _listed(dist: str) -> dict | None:
    plugins = json.loads(_core("plugins", "list", "--json").stdout)["plugins"]
    return next((p for p in plugins if p["distribution"] == dist), None)


def _render(name: str, kinds: str, out: Path) -> Path:
    result = _core("new-plugin", name, "--kinds", kinds, "-o", out, "--no-input")
    assert "created" in result.stdout
    path = out / f"core-{name}"
    assert path.is_dir(), result.stdout
    return path


@dataclass
class Rendered:
    name: str
    dist: str
    package: str
    path: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    name = f"tpl-{uuid.uuid4().hex[:6]}"  # unique: other runs may share this environment
    path = _render(name, ",".join(ALL_KINDS), tmp_path_factory.mktemp("template"))
    rendered = Rendered(name, f"core-{name}", f"core_{name.replace('-', '_')}", path)
    try:
        _run(
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            path,
        )
        yield rendered
    finally:
        _run(sys.executable, "-m", "pip", "uninstall", "-y", "-q", rendered.dist, check=False)


def test_examples_are_kinds_of_core() -> None:
    assert EXAMPLES, "cookiecutter.json declares no _examples"
    assert [kind for kind in EXAMPLES if builtin_kind(kind) is None] == []


def _example_files(package: str, kinds: list[str] = ALL_KINDS) -> list[str]:
    return [
        name.format(package=package)
        for kind, files in EXAMPLES.items()
        if kind in kinds
        for name in files
    ]


def test_render_layout(installed: Rendered) -> None:
    root, package = installed.path, installed.package
    expected = [
        *_example_files(package),
        "pyproject.toml",
        "README.md",
        ".gitignore",
        ".github/workflows/ci.yml",
        f"configs/{installed.name}-digits.yaml",
        f"{package}/__init__.py",
        f"{package}/plugin.py",
        f"{package}/configs.py",
        f"{package}/model.py",
        "tests/test_model.py",
        "tests/test_plugin.py",
    ]
    missing = [p for p in expected if not (root / p).is_file()]
    assert not missing, f"missing from the rendered plugin: {missing}"
    leftovers = [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file()
        and ".github" not in p.parts
        and ("{{" in p.read_text() or "{%" in p.read_text())
    ]
    assert not leftovers, f"unrendered Jinja in {leftovers}"
    # GitHub expressions in the workflow are copied as they are.
    assert "${{ matrix.python-version }}" in (root / ".github/workflows/ci.yml").read_text()
    pyproject = (root / "pyproject.toml").read_text()
    assert f'{installed.name} = "{package}.plugin"' in pyproject
    assert '"core>=0.1,<0.2"' in pyproject
    assert "import torch" not in (root / package / "plugin.py").read_text()


def test_rendered_plugin_passes_ruff(installed: Rendered) -> None:
    _run(sys.executable, "-m", "ruff", "check", ".", cwd=installed.path)
    _run(sys.executable, "-m", "ruff", "format", "--check", ".", cwd=installed.path)


def test_listed_with_hooks_and_components(installed: Rendered) -> None:
    record = _listed(installed.dist)
    assert record is not None, f"{installed.dist} is not in core plugins list --json"
    assert record["status"] == "loaded", record["error"]
    assert record["name"] == installed.name
    assert record["version"] == "0.1.0"
    assert record["hooks"] == sorted(builtin_kind(kind).hook for kind in ALL_KINDS)
    assert record["components"] == dict.fromkeys(ALL_KINDS, 1)
    info = _core("info", installed.name).stdout
    assert "latent_dim" in info and installed.dist in info


def test_plugin_own_tests_pass(installed: Rendered) -> None:
    result = _run(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=installed.path
    )
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_core_train_runs_the_example_config(installed: Rendered, tmp_path: Path) -> None:
    config = installed.path / "configs" / f"{installed.name}-digits.yaml"
    _core(
        "train",
        config,
        "train.steps=6",
        "train.log_every=2",
        "train.warmup_steps=0",
        "--runs-dir",
        tmp_path,
        "--quiet",
    )
    run = tmp_path / config.stem
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [row["step"] for row in rows if "loss" in row]
    assert steps and max(steps) == 6
    assert all(row["loss"] > 0 for row in rows if "loss" in row)
    assert list((run / "final").glob("*.safetensors")), "no final weights were written"
    # The LR follows the plugin's schedule: steps 2, 4 and 6 of 6 (no warm-up) lie in the
    # three equal stages of its two drops.
    train = yaml.safe_load(config.read_text())["train"]
    schedule, peak = train["lr_schedule"], train["lr"]
    assert schedule["type"] == f"{installed.name}-exp-decay" and schedule["drops"] == 2
    lrs = {row["step"]: row["lr"] for row in rows if "lr" in row}
    ratio = schedule["min_ratio"]
    assert lrs == pytest.approx({2: peak, 4: peak * ratio**0.5, 6: peak * ratio})


def test_uninstall_removes_it_from_the_list(installed: Rendered) -> None:
    _run(sys.executable, "-m", "pip", "uninstall", "-y", "-q", installed.dist)
    assert _listed(installed.dist) is None


def test_kinds_choose_the_files(tmp_path: Path) -> None:
    root = _render("only-model", "model", tmp_path)
    package = root / "core_only_model"
    assert {p.name for p in package.glob("*.py")} == {
        "__init__.py",
        "plugin.py",
        "configs.py",
        "model.py",
    }
    assert {p.name for p in (root / "tests").glob("*.py")} == {"test_model.py", "test_plugin.py"}
    plugin = (package / "plugin.py").read_text()
    assert "register_models" in plugin and "register_losses" not in plugin
    assert "lr_schedule" not in (root / "configs" / "only-model-digits.yaml").read_text()
    _run(sys.executable, "-m", "ruff", "check", ".", cwd=root)
    _run(sys.executable, "-m", "ruff", "format", "--check", ".", cwd=root)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Name!"], "must be kebab-case"),
        *(
            (["ok-name", "--kinds", f"model,{kind}"], f"no example of {kind}")
            for kind in WITHOUT_EXAMPLE[:2]
        ),
        (["ok-name", "--kinds", "loss,no-such"], "no-such: not a kind of core"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = _core("new-plugin", *args, "-o", tmp_path, "--no-input", check=False)
    assert result.returncode == 2
    assert message in result.stderr
    if "--kinds" in args:
        assert f"the template has examples of {', '.join(ALL_KINDS)}" in result.stderr
    assert not any(tmp_path.iterdir()), "nothing is written on a bad argument"


def test_cookiecutter_alone_defaults_to_every_example(tmp_path: Path) -> None:
    from cookiecutter.main import cookiecutter

    root = Path(cookiecutter(str(template_dir()), no_input=True, output_dir=str(tmp_path)))
    missing = [p for p in _example_files("core_tiny_vae") if not (root / p).is_file()]
    assert not missing, f"the default kinds leave out {missing}"


def test_cookiecutter_hook_refuses_a_kind_without_example(
    hook_refusal: Callable[..., str],
) -> None:
    stderr = hook_refusal(kinds=f"model,{WITHOUT_EXAMPLE[0]}")
    assert f"no example of kind(s) {WITHOUT_EXAMPLE[0]}" in stderr
    assert all(kind in stderr for kind in ALL_KINDS), stderr


def test_existing_directory_is_an_error(tmp_path: Path) -> None:
    _render("twice", "model", tmp_path)
    result = _core("new-plugin", "twice", "-o", tmp_path, "--no-input", check=False)
    assert result.returncode == 2
    assert "already exists" in result.stderr
